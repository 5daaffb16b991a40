"""Cross-filter transfer: ONE backbone (fine-tuned as ``model.finetune`` says, LoRA by default)
shared by one regression head per filter (``model.heads=[uplifting/v6,belonging/v1]``).

Data: every filter trains on its own labelled set (one :class:`ArticleDataModule` per filter:
``data.source=synthetic`` gives each filter its own synthetic corpus; for JSONL,
``data=jsonl_heads data.paths={uplifting/v6:DIR,belonging/v1:DIR}``). A training batch holds
articles of ONE filter (length-grouped exactly as in single-filter runs); the filters' batches
are interleaved at random, every filter's longest batch first. A step's loss is the configured
loss of that filter's head on its batch, times the filter's weight (``multitask.weighting``):

  size    weight 1: every training example counts the same, so a filter weighs in proportion to
          the size of its labelled set (the sum of the per-filter losses over an epoch)
  equal   weight mean_batches / batches_of_this_filter: every filter's loss counts the same per
          epoch, whatever the size of its set (the average of the per-filter losses)

(equal-size sets, e.g. the synthetic corpora, make the two the same.) One epoch shows every
filter's train set once, so a shared run of E epochs sees exactly the examples that the
single-filter runs of E epochs see together, in as many optimizer steps: see docs/sweeps.md.

Validation: one val dataloader per filter; ``val/<filter>/mae`` etc. per filter, ``val/mae`` the
plain mean over filters and ``val/mae_vs_baseline`` the mean over filters of MAE / mean-baseline
MAE, which picks the best epoch (``callbacks.monitor=val/mae`` is read as that): filters differ in
how hard they are (spread of their labels), and a plain mean would let the filter with the
largest errors choose the epoch for all of them.

Run dir: config.yaml, run.json, metrics.json (``filters: {ref: <the metrics.json of a single
run>}`` plus the overall means under ``val``/``test``), plots/loss_curve.png, checkpoints/ and
``heads/<name>_v<N>/``, one per filter, each a NORMAL single-filter run dir (config.yaml for that
filter and its data, metrics.json, plots, and checkpoint/ = the shared adapter + that filter's
head), so ``distillery evaluate|calibrate|export <run>/heads/uplifting_v6`` work unchanged.
There is no top-level checkpoint/ (``load_checkpoint`` names the heads instead).

A one-filter list (``model.heads=[belonging/v1]``) is a plain single-filter run (= ``filter=``).
"""

from __future__ import annotations

import copy
import logging
import math
import time
from pathlib import Path
from typing import Any, Sequence

import lightning as L
import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf, open_dict
from torch import nn
from torch.utils.data import ConcatDataset, DataLoader, Dataset as TorchDataset

from distillery.config import to_container
from distillery.errors import DistilleryError
from distillery.filters.spec import FilterSpec
from distillery.train.module import DistillModule

log = logging.getLogger("distillery.train")

WEIGHTINGS = ("equal", "size")
MONITOR = "val/mae_vs_baseline"


def head_key(ref: str) -> str:
    """``uplifting/v6`` -> ``uplifting_v6`` (the head's folder and module name)."""
    return ref.replace("/", "_")


# ---- config ---------------------------------------------------------------------------------
def head_specs(cfg: DictConfig) -> dict[str, FilterSpec]:
    """``model.heads`` resolved to specs (ref -> spec), in the given order; one-line errors."""
    from distillery.filters.registry import load_filter

    heads = cfg.model.get("heads")
    if isinstance(heads, str) or not OmegaConf.is_list(heads) and not isinstance(heads, (list, tuple)):
        raise DistilleryError("model.heads must be a list of filters, e.g. model.heads=[uplifting/v6,belonging/v1]; "
                              f"got {heads!r}")
    refs = [str(h) for h in heads]
    if not refs:
        raise DistilleryError("model.heads is empty: give at least one filter, e.g. model.heads=[uplifting/v6,belonging/v1]")
    specs: dict[str, FilterSpec] = {}
    for ref in refs:
        try:
            spec = load_filter(ref, list(cfg.filters_dirs or []))
        except DistilleryError as e:
            raise DistilleryError(f"model.heads: {e}") from None
        if spec.ref in specs:
            raise DistilleryError(f"model.heads: {spec.ref} is listed twice")
        specs[spec.ref] = spec
    return specs


def data_cfg_for(data: Any, ref: str, multi: bool = True) -> DictConfig:
    """One filter's data config: ``data`` with ``path`` = ``data.paths[ref]`` when ``paths`` is
    set (keys ``uplifting/v6``, ``uplifting_v6`` or ``uplifting``); ``paths`` itself dropped."""
    d = to_container(data)
    paths = d.pop("paths", None)
    if paths:
        name = ref.split("/")[0]
        hit = next((paths[k] for k in (ref, head_key(ref), name) if k in paths), None)
        if hit is None:
            raise DistilleryError(f"data.paths has no entry for {ref} (keys: {', '.join(map(str, paths))}); "
                                  f"give one labelled set per filter: data.paths={{{ref}:DIR,...}}")
        d["path"] = str(hit)
    elif multi and d.get("source") == "jsonl":
        raise DistilleryError("data.paths is required for a multi-head run on JSONL data (each filter trains on its "
                              "own labelled set): data=jsonl_heads data.paths={uplifting/v6:DIR,belonging/v1:DIR}")
    return OmegaConf.create(d)


def single_filter_cfg(cfg: DictConfig, ref: str, data: DictConfig) -> DictConfig:
    """The training config of a single-filter run for ``ref`` on ``data`` (``model.heads`` null)."""
    out = copy.deepcopy(cfg)
    with open_dict(out):
        out.filter.name = ref
        out.model.heads = None
        out.data = data
    return out


def loss_weights(n_batches: dict[str, int], weighting: str) -> dict[str, float]:
    """Per-head loss weight for ``multitask.weighting`` (see the module docstring)."""
    if weighting == "size":
        return {k: 1.0 for k in n_batches}
    if weighting == "equal":
        mean = sum(n_batches.values()) / len(n_batches)
        return {k: mean / max(1, n) for k, n in n_batches.items()}
    raise DistilleryError(f"multitask.weighting must be one of {', '.join(WEIGHTINGS)}, got {weighting!r}")


# ---- data -----------------------------------------------------------------------------------
class _Tagged(TorchDataset):
    """A filter's tokenized split whose items carry the filter's (head's) index."""

    def __init__(self, ds: Any, task: int):
        self.ds, self.task = ds, task

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, i: int) -> dict:
        return {**self.ds[i], "task": self.task}


class _TaskCollator:
    def __init__(self, collate: Any):
        self.collate = collate

    def __call__(self, items: list[dict]) -> dict:
        tasks = {x["task"] for x in items}
        if len(tasks) != 1:
            raise ValueError(f"a multi-head batch must hold one filter's articles, got heads {sorted(tasks)}")
        return {**self.collate(items), "task": tasks.pop()}


class InterleavedBatchSampler(torch.utils.data.Sampler):
    """Batches of indices into the concatenation of the filters' train sets: each batch from ONE
    filter, length-grouped within that filter as in single-filter runs (or shuffled), the filters'
    batches interleaved in random order after every filter's first (longest) batch. Re-drawn every
    epoch; every example once per epoch."""

    def __init__(self, lengths: Sequence[Sequence[int]], batch_size: int, generator: torch.Generator,
                 mult: int | None = None, group_by_length: bool = True):
        self.lengths, self.batch_size, self.generator = [list(x) for x in lengths], int(batch_size), generator
        self.mult, self.group = mult, group_by_length
        self.offsets = np.cumsum([0] + [len(x) for x in self.lengths[:-1]]).tolist()

    def batches_per_task(self) -> list[int]:
        return [math.ceil(len(x) / self.batch_size) for x in self.lengths]

    def __len__(self) -> int:
        return sum(self.batches_per_task())

    def __iter__(self):
        from transformers.trainer_pt_utils import get_length_grouped_indices

        first, rest = [], []
        for off, lens in zip(self.offsets, self.lengths):
            if not lens:
                continue
            if self.group:
                idx = get_length_grouped_indices(lens, self.batch_size, self.mult, self.generator)
            else:
                idx = torch.randperm(len(lens), generator=self.generator).tolist()
            chunks = [[off + i for i in idx[j:j + self.batch_size]] for j in range(0, len(idx), self.batch_size)]
            first.append(chunks[0])
            rest.extend(chunks[1:])
        order = torch.randperm(len(rest), generator=self.generator).tolist()
        yield from first
        yield from (rest[i] for i in order)


class MultiFilterData(L.LightningDataModule):
    """The filters' data modules (already set up) behind one train loader and per-filter eval loaders."""

    def __init__(self, dms: dict[str, Any], seed: int):
        super().__init__()
        self.dms, self.seed = dms, seed
        self.keys = list(dms)
        self.test_keys = [k for k, dm in dms.items() if len(dm.records["test"]) > 0]

    def train_sampler(self) -> InterleavedBatchSampler:
        cfg = next(iter(self.dms.values())).cfg
        return InterleavedBatchSampler([dm.data["train"].lengths for dm in self.dms.values()], int(cfg.batch_size),
                                       torch.Generator().manual_seed(self.seed), cfg.get("megabatch_mult"),
                                       bool(cfg.get("group_by_length", True)))

    def train_dataloader(self) -> DataLoader:
        from distillery.data.datamodule import Collator

        first = next(iter(self.dms.values()))
        pad_to = first.strategy.max_tokens if first.cfg.get("pad_to_max", False) else None
        data = ConcatDataset([_Tagged(dm.data["train"], t) for t, dm in enumerate(self.dms.values())])
        return DataLoader(data, batch_sampler=self.train_sampler(),
                          collate_fn=_TaskCollator(Collator(first.tokenizer.pad_token_id, pad_to)),
                          num_workers=int(first.cfg.get("num_workers", 0)))

    def val_dataloader(self) -> list[DataLoader]:
        return [dm.val_dataloader() for dm in self.dms.values()]

    def test_dataloader(self) -> list[DataLoader]:
        return [self.dms[k].test_dataloader() for k in self.test_keys]


# ---- the Lightning module -------------------------------------------------------------------
class MultiHeadModule(DistillModule):
    """:class:`DistillModule` over several :class:`Regressor` s that share one backbone object
    (``heads``: key -> Regressor, ``specs``: key -> FilterSpec, same order). A batch's ``task`` is
    the index of its head; eval dataloader ``i`` of a stage belongs to ``eval_keys[stage][i]``."""

    def __init__(self, heads: dict[str, Any], specs: dict[str, FilterSpec], loss: nn.Module, optim: Any,
                 aggregate: str = "mean", weights: dict[str, float] | None = None):
        super().__init__(nn.ModuleDict(heads), None, loss, optim, aggregate)  # type: ignore[arg-type]
        self.keys = list(heads)
        self.specs = specs
        self.weights = weights or {k: 1.0 for k in self.keys}
        self.eval_keys: dict[str, list[str]] = {"val": list(self.keys), "test": list(self.keys)}
        self.head_eval: dict[str, dict[str, dict]] = {k: {} for k in self.keys}  # key -> stage -> eval
        self._sums: dict[str, list[float]] = {}  # "<split>/<key>" -> [loss sum, count]

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, task: str | None = None) -> torch.Tensor:
        return self.model[task or self.keys[0]](input_ids, attention_mask)

    def task_loss(self, batch: dict) -> tuple[str, torch.Tensor, torch.Tensor]:
        """(head key, predictions of that head, the configured loss on them, unweighted)."""
        key = self.keys[int(batch["task"])]
        pred = self(batch["input_ids"], batch["attention_mask"], key)
        return key, pred, self.loss_fn(pred, batch["labels"])

    def _add(self, name: str, loss: torch.Tensor, n: int) -> None:
        s = self._sums.setdefault(name, [0.0, 0])
        s[0] += float(loss.detach()) * n
        s[1] += n

    def _mean(self, name: str) -> float:
        total, count = self._sums.get(name, (0.0, 0))
        return total / count if count else float("nan")

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        key, pred, loss = self.task_loss(batch)
        weighted = loss * self.weights[key]
        n = len(pred)
        self.log("train/loss", weighted, on_step=True, on_epoch=True, prog_bar=True, batch_size=n)
        self.log(f"train/{self.specs[key].ref}/loss", loss, on_step=False, on_epoch=True, batch_size=n)
        self._add("train", weighted, n)
        self._add(f"train/{key}", loss, n)
        return weighted

    def on_train_epoch_start(self) -> None:
        self._sums = {k: v for k, v in self._sums.items() if not k.startswith("train")}

    def _eval_step(self, stage: str, batch: dict, dataloader_idx: int = 0) -> None:  # type: ignore[override]
        key = self.eval_keys[stage][dataloader_idx]
        pred = self(batch["input_ids"], batch["attention_mask"], key)
        loss = self.loss_fn(pred, batch["labels"])
        self.log(f"{stage}/{self.specs[key].ref}/loss", loss, on_epoch=True, batch_size=len(pred), add_dataloader_idx=False)
        self._add(f"{stage}/{key}", loss, len(pred))
        self._outputs.setdefault(f"{stage}/{key}", []).append((pred.detach().float().cpu(), batch["labels"].cpu(),
                                                               batch["article"].cpu()))

    def validation_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> None:  # type: ignore[override]
        self._eval_step("val", batch, dataloader_idx)

    def test_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> None:  # type: ignore[override]
        self._eval_step("test", batch, dataloader_idx)

    def _eval_epoch_end(self, stage: str) -> None:
        per: dict[str, dict] = {}
        for key in self.eval_keys[stage]:
            rows = self._outputs.pop(f"{stage}/{key}", [])
            if not rows:
                continue
            ev = self._article_eval(rows, self.specs[key])
            m = ev["metrics"]
            mean = self.model[key].target_mean.detach().cpu().double().numpy()  # the training labels' mean
            m["mean_baseline_mae"] = float(np.abs(ev["true"] - mean).mean())
            m["mae_vs_baseline"] = m["mae"] / m["mean_baseline_mae"]
            m["loss"] = self._mean(f"{stage}/{key}")
            self.head_eval[key][stage] = per[key] = ev
            self.log_dict({f"{stage}/{self.specs[key].ref}/{k}": v for k, v in m.items() if k != "loss"})
        for key in self.eval_keys[stage]:
            self._sums.pop(f"{stage}/{key}", None)
        if not per:
            return
        mae = float(np.mean([ev["metrics"]["mae"] for ev in per.values()]))
        ratio = float(np.mean([ev["metrics"]["mae_vs_baseline"] for ev in per.values()]))
        self.log(f"{stage}/mae", mae, prog_bar=True)
        self.log(f"{stage}/mae_vs_baseline", ratio, prog_bar=True)
        if stage == "val" and self.trainer.state.fn == "fit" and not self.trainer.sanity_checking:
            row: dict[str, float] = {"epoch": self.current_epoch, "step": self.global_step,
                                     "train_loss": self._mean("train"),
                                     "val_loss": float(np.mean([ev["metrics"]["loss"] for ev in per.values()])),
                                     "val_mae": mae, "val_mae_vs_baseline": ratio}
            for key, ev in per.items():
                row.update({f"{key}/train_loss": self._mean(f"train/{key}"), f"{key}/val_loss": ev["metrics"]["loss"],
                            f"{key}/val_mae": ev["metrics"]["mae"]})
            self.history.append(row)
            log.info("epoch %d/%d: train loss %.4f | val MAE/baseline %.3f | %s", row["epoch"] + 1,
                     self.trainer.max_epochs or -1, row["train_loss"], ratio,
                     " | ".join(f"{self.specs[k].ref} val MAE {ev['metrics']['mae']:.4f} "
                                f"(baseline {ev['metrics']['mean_baseline_mae']:.4f})" for k, ev in per.items()))

    def head_history(self, key: str) -> list[dict[str, float]]:
        """The loss-curve rows of one head (the shape single-filter runs record)."""
        return [{"epoch": h["epoch"], "step": h["step"], "train_loss": h.get(f"{key}/train_loss", float("nan")),
                 "val_loss": h.get(f"{key}/val_loss", float("nan")), "val_mae": h.get(f"{key}/val_mae", float("nan"))}
                for h in self.history]

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        """The shared adapter once, every head, every head's target stats."""
        keep = {n for n, p in self.named_parameters() if p.requires_grad}  # shared weights: first name only
        keep |= {n for n, _ in self.named_buffers(remove_duplicate=False) if n.endswith((".target_mean", ".target_std"))}
        return {k: v for k, v in self.state_dict().items() if k in keep}


# ---- the job --------------------------------------------------------------------------------
def _check_single_process(cfg: DictConfig) -> None:
    tr = cfg.trainer
    devices, nodes = tr.get("devices", 1), tr.get("num_nodes", 1)
    many = (isinstance(devices, int) and devices > 1) or (isinstance(devices, (list, tuple)) and len(devices) > 1) \
        or str(devices) == "-1" or (isinstance(nodes, int) and nodes > 1) or "ddp" in str(tr.get("strategy", "")) \
        or "fsdp" in str(tr.get("strategy", ""))
    if many:
        raise DistilleryError("model.heads: multi-head runs train in one process (trainer.devices=1, no ddp/fsdp strategy)")


def run_multitask(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Train one backbone with a head per filter of ``model.heads``; write the run dir (module docstring)."""
    from distillery.runtime.context import ContextStrategy
    from distillery.data.datamodule import ArticleDataModule
    from distillery.evaluate import plots
    from distillery.models.backbone import load_backbone
    from distillery.models.regressor import Regressor, apply_finetune, hidden_size_of
    from distillery.rundir import write_json, write_run_json
    from distillery.train.losses import build_loss
    from distillery.train.task import _callbacks, _logger, _mk, finish_run, fit_best_and_evaluate, run_training, start_run

    specs = head_specs(cfg)
    datas = {ref: data_cfg_for(cfg.data, ref, multi=len(specs) > 1) for ref in specs}
    if len(specs) == 1:  # a one-head list is a plain single-filter run
        ref = next(iter(specs))
        return run_training(single_filter_cfg(cfg, ref, datas[ref]), run_dir)
    _check_single_process(cfg)
    weighting = str((cfg.get("multitask") or {}).get("weighting", "equal"))
    if weighting not in WEIGHTINGS:
        raise DistilleryError(f"multitask.weighting must be one of {', '.join(WEIGHTINGS)}, got {weighting!r}")
    if cfg.model.get("probe"):
        raise DistilleryError("model.heads does not combine with embedding probes (model.probe): train one probe per filter")

    t0 = time.time()
    seed, resolved, _ = start_run(cfg, run_dir)
    strategy = ContextStrategy.from_config(cfg.context_strategy)
    loaded = load_backbone(cfg.model)
    backbone = apply_finetune(loaded.backbone, cfg.model)  # ONE backbone object, shared by every head
    dms: dict[str, Any] = {}
    heads: dict[str, Any] = {}
    keyed: dict[str, FilterSpec] = {}
    for ref, spec in specs.items():
        key = head_key(ref)
        dm = ArticleDataModule(datas[ref], spec, loaded.tokenizer, strategy, cfg.paths.cache_dir, seed=seed)
        dm.setup()
        for line in dm.skipped:
            log.warning("%s: skipped %s", ref, line)
        mean, std = dm.label_stats()
        heads[key] = Regressor(backbone, len(spec.dimensions), cfg.model.pooling, hidden_size_of(loaded.backbone),
                               mean.tolist(), std.tolist())
        dms[key], keyed[key] = dm, spec
    data = MultiFilterData(dms, seed)
    n_batches = dict(zip(dms, data.train_sampler().batches_per_task()))
    weights = loss_weights(n_batches, weighting)
    module = MultiHeadModule(heads, keyed, build_loss(cfg.loss), cfg.optim, aggregate=strategy.aggregate, weights=weights)
    module.eval_keys["test"] = list(data.test_keys)
    log.info("multi-head run: %s | train batches per epoch %s | loss weights (%s) %s", ", ".join(specs),
             n_batches, weighting, {k: round(w, 3) for k, w in weights.items()})

    monitor = MONITOR if cfg.callbacks.monitor == "val/mae" else str(cfg.callbacks.monitor)
    logger = _logger(cfg, run_dir, resolved)
    callbacks, show_bar = _callbacks(OmegaConf.create({"callbacks": {**to_container(cfg.callbacks), "monitor": monitor}}),
                                     run_dir)
    trainer = L.Trainer(**to_container(cfg.trainer), logger=logger, callbacks=callbacks,
                        default_root_dir=str(run_dir), enable_progress_bar=show_bar)
    try:
        has_test = bool(cfg.test) and bool(data.test_keys)
        best, train_s, inference_ms = fit_best_and_evaluate(
            trainer, module, data, cfg.ckpt_path, t0, sum(len(dm.records["val"]) for dm in dms.values()), has_test)

        info = {"best_checkpoint": best, "epochs": module.current_epoch, "global_step": module.global_step,
                "train_seconds": round(train_s, 1), "inference_ms_per_article": round(inference_ms, 2)}
        per_filter: dict[str, dict] = {}
        for key, ref in zip(dms, specs):
            head_dir = run_dir / "heads" / key
            head_cfg = single_filter_cfg(cfg, ref, datas[ref])
            head_resolved = {**to_container(head_cfg), "seed": seed}
            head_dir.mkdir(parents=True, exist_ok=True)
            OmegaConf.save(OmegaConf.create(head_resolved), head_dir / "config.yaml")
            write_run_json(head_dir, "train", seed, seed_generated=cfg.seed is None, multi_head_run=str(run_dir))
            evals = {st: ev for st, ev in module.head_eval[key].items() if st in (("val", "test") if has_test else ("val",))}
            extra = {"history": module.head_history(key), "multi_head": {
                "run_dir": str(run_dir), "heads": list(specs), "weighting": weighting, "loss_weight": weights[key],
                "train_batches_per_epoch": n_batches[key], "monitor": monitor}}
            per_filter[ref] = finish_run(head_dir, head_cfg, keyed[key], heads[key], loaded, strategy, dms[key], seed,
                                         evals, {**info, **extra}, logger=None)

        metrics: dict[str, Any] = {"filter": "+".join(specs), "filters_trained": list(specs),
                                   "heads": {ref: f"heads/{head_key(ref)}" for ref in specs}, "seed": seed, **info,
                                   "monitor": monitor, "weighting": weighting, "loss_weights": weights,
                                   "train_batches_per_epoch": n_batches, "history": module.history,
                                   "n": {ref: m["n"] for ref, m in per_filter.items()}, "filters": per_filter}
        for stage in ("val", "test") if has_test else ("val",):
            blocks = [m[stage] for m in per_filter.values() if stage in m]
            metrics[stage] = {k: float(np.mean([b[k] for b in blocks]))
                              for k in ("mae", "rmse", "spearman", "weighted_mae", "tier_accuracy", "mean_baseline_mae",
                                        "mae_vs_baseline")}
            metrics[stage]["per_filter_mae"] = {ref: m[stage]["mae"] for ref, m in per_filter.items() if stage in m}
        plots.loss_curve(module.history, _mk(run_dir / "plots") / "loss_curve.png")
        write_json(run_dir / "metrics.json", metrics)
        for ref, m in per_filter.items():
            log.info("%s: val MAE %.4f | mean-baseline MAE %.4f | ratio %.3f | head: %s", ref, m["val"]["mae"],
                     m["val"]["mean_baseline_mae"], m["val"]["mae_vs_baseline"], run_dir / metrics["heads"][ref])
        if logger:
            logger.log_metrics({"final/val_mae": metrics["val"]["mae"],
                                "final/val_mae_vs_baseline": metrics["val"]["mae_vs_baseline"],
                                **{f"final/{ref}/val_mae": m["val"]["mae"] for ref, m in per_filter.items()},
                                **{f"final/{ref}/val_mean_baseline_mae": m["val"]["mean_baseline_mae"]
                                   for ref, m in per_filter.items()}})
        return metrics
    finally:
        if logger and cfg.logger.kind == "wandb":
            import wandb

            wandb.finish()

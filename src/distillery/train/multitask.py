"""Cross-filter transfer, the pieces: the interleaved data and the Lightning module of ONE
backbone (fine-tuned as ``model.finetune`` says, LoRA by default) shared by one regression head
per filter (``model.heads=[uplifting/v6,belonging/v1]``). The job (``train.method=multihead``)
and its run dir are :mod:`distillery.train.recipes.multihead`; ``model.heads`` is read by
:mod:`distillery.train.heads`.

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
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import lightning as L
import numpy as np
import torch
from torch import nn
from torch.utils.data import ConcatDataset, DataLoader
from torch.utils.data import Dataset as TorchDataset

from distillery.data.datamodule import Collator
from distillery.errors import DistilleryError
from distillery.filters.spec import FilterSpec
from distillery.train.module import DistillModule

log = logging.getLogger("distillery.train")

WEIGHTINGS = ("equal", "size")
MONITOR = "val/mae_vs_baseline"


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

    def __init__(
        self,
        lengths: Sequence[Sequence[int]],
        batch_size: int,
        generator: torch.Generator,
        mult: int | None = None,
        group_by_length: bool = True,
    ):
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
            chunks = [[off + i for i in idx[j : j + self.batch_size]] for j in range(0, len(idx), self.batch_size)]
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
        return InterleavedBatchSampler(
            [dm.data["train"].lengths for dm in self.dms.values()],
            int(cfg.batch_size),
            torch.Generator().manual_seed(self.seed),
            cfg.get("megabatch_mult"),
            bool(cfg.get("group_by_length", True)),
        )

    def train_dataloader(self) -> DataLoader:
        first = next(iter(self.dms.values()))
        pad_to = first.strategy.max_tokens if first.cfg.get("pad_to_max", False) else None
        data = ConcatDataset([_Tagged(dm.data["train"], t) for t, dm in enumerate(self.dms.values())])
        return DataLoader(
            data,
            batch_sampler=self.train_sampler(),
            collate_fn=_TaskCollator(Collator(first.tokenizer.pad_token_id, pad_to)),
            num_workers=int(first.cfg.get("num_workers", 0)),
        )

    def val_dataloader(self) -> list[DataLoader]:
        return [dm.val_dataloader() for dm in self.dms.values()]

    def test_dataloader(self) -> list[DataLoader]:
        return [self.dms[k].test_dataloader() for k in self.test_keys]


# ---- the Lightning module -------------------------------------------------------------------
class MultiHeadModule(DistillModule):
    """:class:`DistillModule` over several :class:`Regressor` s that share one backbone object
    (``heads``: key -> Regressor, ``specs``: key -> FilterSpec, same order). A batch's ``task`` is
    the index of its head; eval dataloader ``i`` of a stage belongs to ``eval_keys[stage][i]``."""

    def __init__(
        self,
        heads: dict[str, Any],
        specs: dict[str, FilterSpec],
        loss: nn.Module,
        optim: Any,
        aggregate: str = "mean",
        weights: dict[str, float] | None = None,
    ):
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
        self.log(
            f"{stage}/{self.specs[key].ref}/loss", loss, on_epoch=True, batch_size=len(pred), add_dataloader_idx=False
        )
        self._add(f"{stage}/{key}", loss, len(pred))
        self._outputs.setdefault(f"{stage}/{key}", []).append(
            (pred.detach().float().cpu(), batch["labels"].cpu(), batch["article"].cpu())
        )

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
            row: dict[str, float] = {
                "epoch": self.current_epoch,
                "step": self.global_step,
                "train_loss": self._mean("train"),
                "val_loss": float(np.mean([ev["metrics"]["loss"] for ev in per.values()])),
                "val_mae": mae,
                "val_mae_vs_baseline": ratio,
            }
            for key, ev in per.items():
                row.update(
                    {
                        f"{key}/train_loss": self._mean(f"train/{key}"),
                        f"{key}/val_loss": ev["metrics"]["loss"],
                        f"{key}/val_mae": ev["metrics"]["mae"],
                    }
                )
            self.history.append(row)
            log.info(
                "epoch %d/%d: train loss %.4f | val MAE/baseline %.3f | %s",
                row["epoch"] + 1,
                self.trainer.max_epochs or -1,
                row["train_loss"],
                ratio,
                " | ".join(
                    f"{self.specs[k].ref} val MAE {ev['metrics']['mae']:.4f} "
                    f"(baseline {ev['metrics']['mean_baseline_mae']:.4f})"
                    for k, ev in per.items()
                ),
            )

    def head_history(self, key: str) -> list[dict[str, float]]:
        """The loss-curve rows of one head (the shape single-filter runs record)."""
        return [
            {
                "epoch": h["epoch"],
                "step": h["step"],
                "train_loss": h.get(f"{key}/train_loss", float("nan")),
                "val_loss": h.get(f"{key}/val_loss", float("nan")),
                "val_mae": h.get(f"{key}/val_mae", float("nan")),
            }
            for h in self.history
        ]

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        """The shared adapter once, every head, every head's target stats."""
        keep = {n for n, p in self.named_parameters() if p.requires_grad}  # shared weights: first name only
        keep |= {
            n for n, _ in self.named_buffers(remove_duplicate=False) if n.endswith((".target_mean", ".target_std"))
        }
        return {k: v for k, v in self.state_dict().items() if k in keep}

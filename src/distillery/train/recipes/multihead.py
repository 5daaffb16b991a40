"""``train.method=multihead`` (``model.heads=[uplifting/v6,belonging/v1]``): ONE backbone shared
by a regression head per filter, each filter trained on its own labelled set, batches of one
filter interleaved, per-filter loss weights (``multitask.weighting``), the best epoch by the mean
over filters of val MAE / mean-baseline MAE (data and module: :mod:`distillery.train.multitask`).

Run dir: config.yaml, run.json, metrics.json (``filters: {ref: <the metrics.json of a single
run>}`` plus the overall means under ``val``/``test``), plots/loss_curve.png, checkpoints/ and
``heads/<name>_v<N>/``, one per filter, each a NORMAL single-filter run dir (config.yaml for that
filter and its data, metrics.json, plots, and checkpoint/ = the shared adapter + that filter's
head), so ``distillery evaluate|calibrate|export <run>/heads/uplifting_v6`` work unchanged.
There is no top-level checkpoint/ (``load_checkpoint`` names the heads instead).

A one-filter list (``model.heads=[belonging/v1]``) never reaches this recipe: the dispatcher
runs it as a plain single-filter finetune run (= ``filter=``).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from distillery.config import to_container
from distillery.data.datamodule import ArticleDataModule
from distillery.errors import DistilleryError
from distillery.evaluate import plots
from distillery.filters.spec import FilterSpec
from distillery.models.backbone import load_backbone
from distillery.models.regressor import Regressor, apply_finetune, hidden_size_of
from distillery.rundir import RunDir, write_run_json
from distillery.runtime.context import ContextStrategy
from distillery.train.heads import data_cfg_for, head_key, head_specs, single_filter_cfg
from distillery.train.losses import build_loss
from distillery.train.multitask import MONITOR, WEIGHTINGS, MultiFilterData, MultiHeadModule, loss_weights
from distillery.train.scaffold import (
    build_trainer,
    ensure_dir,
    finish_run,
    fit_best_and_evaluate,
    logged_run,
    start_run,
)

log = logging.getLogger("distillery.train")


def check_single_process(cfg: DictConfig) -> None:
    """Multi-head runs train in one process: no multi-device trainer, no ddp/fsdp strategy."""
    tr = cfg.trainer
    devices, nodes = tr.get("devices", 1), tr.get("num_nodes", 1)
    many = (
        (isinstance(devices, int) and devices > 1)
        or (isinstance(devices, (list, tuple)) and len(devices) > 1)
        or str(devices) == "-1"
        or (isinstance(nodes, int) and nodes > 1)
        or "ddp" in str(tr.get("strategy", ""))
        or "fsdp" in str(tr.get("strategy", ""))
    )
    if many:
        raise DistilleryError(
            "model.heads: multi-head runs train in one process (trainer.devices=1, no ddp/fsdp strategy)"
        )


def run(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Train one backbone with a head per filter of ``model.heads``; write the run dir (module docstring)."""
    specs = head_specs(cfg)
    if len(specs) < 2:
        raise DistilleryError("model.heads: a multi-head run needs two or more filters (one filter: filter=NAME/vN)")
    datas = {ref: data_cfg_for(cfg.data, ref, multi=True) for ref in specs}
    check_single_process(cfg)
    weighting = str((cfg.get("multitask") or {}).get("weighting", "equal"))
    if weighting not in WEIGHTINGS:
        raise DistilleryError(f"multitask.weighting must be one of {', '.join(WEIGHTINGS)}, got {weighting!r}")
    if cfg.model.get("probe"):
        raise DistilleryError(
            "model.heads does not combine with embedding probes (model.probe): train one probe per filter"
        )

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
        heads[key] = Regressor(
            backbone,
            len(spec.dimensions),
            cfg.model.pooling,
            hidden_size_of(loaded.backbone),
            mean.tolist(),
            std.tolist(),
        )
        dms[key], keyed[key] = dm, spec
    data = MultiFilterData(dms, seed)
    n_batches = dict(zip(dms, data.train_sampler().batches_per_task()))
    weights = loss_weights(n_batches, weighting)
    module = MultiHeadModule(
        heads, keyed, build_loss(cfg.loss), cfg.optim, aggregate=strategy.aggregate, weights=weights
    )
    module.eval_keys["test"] = list(data.test_keys)
    log.info(
        "multi-head run: %s | train batches per epoch %s | loss weights (%s) %s",
        ", ".join(specs),
        n_batches,
        weighting,
        {k: round(w, 3) for k, w in weights.items()},
    )

    monitor = MONITOR if cfg.callbacks.monitor == "val/mae" else str(cfg.callbacks.monitor)
    with logged_run(cfg, run_dir, resolved) as logger:
        trainer = build_trainer(cfg, run_dir, logger, monitor=monitor)
        has_test = bool(cfg.test) and bool(data.test_keys)
        info = fit_best_and_evaluate(
            trainer, module, data, cfg.ckpt_path, t0, sum(len(dm.records["val"]) for dm in dms.values()), has_test
        )
        per_filter: dict[str, dict] = {}
        for key, ref in zip(dms, specs):
            head_dir = run_dir / RunDir.HEADS / key
            head_cfg = single_filter_cfg(cfg, ref, datas[ref])
            head_resolved = {**to_container(head_cfg), "seed": seed}
            head_dir.mkdir(parents=True, exist_ok=True)
            OmegaConf.save(OmegaConf.create(head_resolved), head_dir / RunDir.CONFIG)
            write_run_json(head_dir, "train", seed, seed_generated=cfg.seed is None, multi_head_run=str(run_dir))
            evals = {
                st: ev for st, ev in module.head_eval[key].items() if st in (("val", "test") if has_test else ("val",))
            }
            extra = {
                "history": module.head_history(key),
                "multi_head": {
                    "run_dir": str(run_dir),
                    "heads": list(specs),
                    "weighting": weighting,
                    "loss_weight": weights[key],
                    "train_batches_per_epoch": n_batches[key],
                    "monitor": monitor,
                },
            }
            per_filter[ref] = finish_run(
                head_dir,
                head_cfg,
                keyed[key],
                heads[key],
                loaded,
                strategy,
                dms[key],
                seed,
                evals,
                {**info, **extra},
                logger=None,
            )

        metrics: dict[str, Any] = {
            "filter": "+".join(specs),
            "filters_trained": list(specs),
            "heads": {ref: f"{RunDir.HEADS}/{head_key(ref)}" for ref in specs},
            "seed": seed,
            **info,
            "monitor": monitor,
            "weighting": weighting,
            "loss_weights": weights,
            "train_batches_per_epoch": n_batches,
            "history": module.history,
            "n": {ref: m["n"] for ref, m in per_filter.items()},
            "filters": per_filter,
        }
        for stage in ("val", "test") if has_test else ("val",):
            blocks = [m[stage] for m in per_filter.values() if stage in m]
            metrics[stage] = {
                k: float(np.mean([b[k] for b in blocks]))
                for k in (
                    "mae",
                    "rmse",
                    "spearman",
                    "weighted_mae",
                    "tier_accuracy",
                    "mean_baseline_mae",
                    "mae_vs_baseline",
                )
            }
            metrics[stage]["per_filter_mae"] = {ref: m[stage]["mae"] for ref, m in per_filter.items() if stage in m}
        plots.loss_curve(module.history, ensure_dir(run_dir / RunDir.PLOTS) / "loss_curve.png")
        RunDir(run_dir).write_metrics(metrics)
        for ref, m in per_filter.items():
            log.info(
                "%s: val MAE %.4f | mean-baseline MAE %.4f | ratio %.3f | head: %s",
                ref,
                m["val"]["mae"],
                m["val"]["mean_baseline_mae"],
                m["val"]["mae_vs_baseline"],
                run_dir / metrics["heads"][ref],
            )
        if logger:
            logger.log_metrics(
                {
                    "final/val_mae": metrics["val"]["mae"],
                    "final/val_mae_vs_baseline": metrics["val"]["mae_vs_baseline"],
                    **{f"final/{ref}/val_mae": m["val"]["mae"] for ref, m in per_filter.items()},
                    **{
                        f"final/{ref}/val_mean_baseline_mae": m["val"]["mean_baseline_mae"]
                        for ref, m in per_filter.items()
                    },
                }
            )
        return metrics

"""``train.method=finetune`` (the default): a backbone (LoRA, full or frozen, ``model.finetune``)
with one regression head over the dimensions of one filter (``filter=``), trained with the
configured loss, the best epoch by ``callbacks.monitor`` (val MAE)."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from distillery.data.datamodule import ArticleDataModule
from distillery.filters.registry import load_filter
from distillery.models.backbone import load_backbone
from distillery.models.regressor import Regressor, apply_finetune, hidden_size_of
from distillery.runtime.context import ContextStrategy
from distillery.train.losses import build_loss
from distillery.train.module import DistillModule
from distillery.train.scaffold import build_trainer, finish_run, fit_best_and_evaluate, logged_run, start_run

log = logging.getLogger("distillery.train")


def run(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Train, pick the best checkpoint, evaluate, and write the run dir ({} on a DDP worker)."""
    t0 = time.time()
    seed, resolved, _ = start_run(cfg, run_dir)

    spec = load_filter(cfg.filter.name, list(cfg.filters_dirs or []))
    strategy = ContextStrategy.from_config(cfg.context_strategy)
    loaded = load_backbone(cfg.model)
    dm = ArticleDataModule(cfg.data, spec, loaded.tokenizer, strategy, cfg.paths.cache_dir, seed=seed)
    dm.setup()
    for line in dm.skipped:
        log.warning("skipped %s", line)
    mean, std = dm.label_stats()
    model = Regressor(
        apply_finetune(loaded.backbone, cfg.model),
        len(spec.dimensions),
        cfg.model.pooling,
        hidden_size_of(loaded.backbone),
        mean.tolist(),
        std.tolist(),
    )
    module = DistillModule(model, spec, build_loss(cfg.loss), cfg.optim, aggregate=strategy.aggregate)

    with logged_run(cfg, run_dir, resolved) as logger:
        trainer = build_trainer(cfg, run_dir, logger)
        has_test = bool(cfg.test) and len(dm.records["test"]) > 0
        info = fit_best_and_evaluate(trainer, module, dm, cfg.ckpt_path, t0, len(dm.records["val"]), has_test)
        if not trainer.is_global_zero:
            return {}
        info["history"] = module.history
        evals = {st: module.last_eval[st] for st in (("val", "test") if has_test else ("val",))}
        return finish_run(run_dir, cfg, spec, model, loaded, strategy, dm, seed, evals, info, logger)

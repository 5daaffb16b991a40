"""``train.method=probe`` (``model=embedding_probe[_mlp]``): a frozen sentence-transformers
encoder, every view embedded once (cached by content hash), a ridge or MLP head fitted on the
embeddings in seconds; the run dir is the same as a fine-tuned run's (:mod:`distillery.train.probe`)."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

from distillery.data.datamodule import ArticleDataModule
from distillery.data.split import label_matrix
from distillery.errors import DistilleryError
from distillery.evaluate.metrics import regression_metrics
from distillery.filters.registry import load_filter
from distillery.models.backbone import load_backbone
from distillery.models.regressor import Regressor, hidden_size_of
from distillery.runtime.context import ContextStrategy
from distillery.train.losses import build_loss
from distillery.train.probe import EmbeddingCache, article_preds, embed, encoder_key, fit_mlp, fit_ridge
from distillery.train.scaffold import finish_run, logged_run, start_run

log = logging.getLogger("distillery.train")

HEADS = ("ridge", "mlp")


def run(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Embed (cached), fit the head, evaluate, write the run dir like a fine-tuned run."""
    import torch

    pcfg = cfg.model.probe
    if pcfg.head not in HEADS:
        raise DistilleryError(f"model.probe.head must be ridge or mlp, got {pcfg.head!r}")
    t0 = time.time()
    seed, resolved, _ = start_run(cfg, run_dir)
    spec = load_filter(cfg.filter.name, list(cfg.filters_dirs or []))
    strategy = ContextStrategy.from_config(cfg.context_strategy)
    loaded = load_backbone(cfg.model)
    loaded.backbone.requires_grad_(False).eval()
    dm = ArticleDataModule(cfg.data, spec, loaded.tokenizer, strategy, cfg.paths.cache_dir, seed=seed)
    dm.setup()
    mean, std = dm.label_stats()
    pooling = loaded.pooling or cfg.model.pooling
    model = Regressor(
        loaded.backbone,
        len(spec.dimensions),
        pooling,
        hidden_size_of(loaded.backbone),
        mean.tolist(),
        std.tolist(),
        head="linear" if pcfg.head == "ridge" else "mlp",
        mlp_hidden=int(pcfg.mlp_hidden),
        dropout=float(pcfg.dropout),
        normalize=loaded.normalize,
    )
    model.eval()
    cache = EmbeddingCache(
        Path(cfg.paths.cache_dir), encoder_key(loaded, pooling, loaded.normalize, strategy.max_tokens)
    )
    pad, ebs = loaded.tokenizer.pad_token_id, int(pcfg.embed_batch_size)
    splits = [s for s in ("train", "val", "test") if len(dm.records[s])]
    emb, computed = {}, {}
    for s in splits:
        if s == "val":  # always encoded fresh: this is the measured inference cost
            t_val = time.perf_counter()
            emb[s], computed[s] = embed(model, dm.data[s].input_ids, pad, ebs, None)
            inference_ms = 1000 * (time.perf_counter() - t_val) / len(dm.records["val"])
        else:
            emb[s], computed[s] = embed(model, dm.data[s].input_ids, pad, ebs, cache)
    log.info("embeddings: %s computed (val always), cache %s", computed, cache.dir)
    t_fit = time.time()
    owners = {s: list(dm.data[s].article) for s in splits}
    true = {s: label_matrix(dm.records[s], spec) for s in splits}

    def val_mae(m: Any) -> float:
        pred = article_preds(m, emb["val"], owners["val"], len(dm.records["val"]), strategy.aggregate)
        return float(np.abs(spec.clamp(pred) - true["val"]).mean())

    with logged_run(cfg, run_dir, resolved) as logger:
        y_views = np.asarray(dm.data["train"].labels, dtype=np.float64)
        history: list[dict[str, float]] = []
        if pcfg.head == "ridge":
            alphas = list(pcfg.alphas) if pcfg.alpha == "auto" else [float(pcfg.alpha)]
            fit = fit_ridge(model, emb["train"], (y_views - mean) / std, alphas, val_mae)
        else:
            torch.manual_seed(seed)
            history = fit_mlp(model, emb["train"], y_views, build_loss(cfg.loss), pcfg, seed, val_mae, logger or None)
            fit = {"epochs_run": len(history), "best_epoch": int(np.argmin([h["val_mae"] for h in history]))}
        evals = {}
        for s in (x for x in ("val", "test") if x in splits and (x == "val" or cfg.test)):
            pred = article_preds(model, emb[s], owners[s], len(dm.records[s]), strategy.aggregate)
            evals[s] = {"pred": pred, "true": true[s], "metrics": regression_metrics(pred, true[s], spec)}
        info = {
            "probe": {
                "head": pcfg.head,
                **fit,
                "embeddings_computed": computed,
                "encoder": loaded.source,
                "fit_seconds": round(time.time() - t_fit, 2),
            },
            "epochs": len(history),
            "train_seconds": round(time.time() - t0, 1),
            "inference_ms_per_article": round(inference_ms, 2),
            "history": history,
        }
        return finish_run(run_dir, cfg, spec, model, loaded, strategy, dm, seed, evals, info, logger)

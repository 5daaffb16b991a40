"""Embedding probes (``model=embedding_probe``): a frozen encoder + a ridge or MLP head.

The encoder (a sentence-transformers model: its transformer, pooling and normalisation) never
trains, so every view's embedding is computed once and cached on disk by content hash (encoder
identity + the view's token ids, under ``<cache>/embeddings/``); fitting the head then takes
seconds. Inputs (data module, context strategy views), the run dir, metrics.json, plots and the
checkpoint are the same as for fine-tuned runs, so ``evaluate``, ``export``, ``package`` and
``compare`` treat a probe like any other model (the checkpoint holds only the head: the frozen
encoder is reloaded from ``model``).

Heads (``model.probe.head``): ``ridge`` (closed form on standardised targets, L2 strength picked on
val from a grid when ``alpha: auto``) or ``mlp`` (one hidden layer, AdamW with the configured loss,
best epoch by val MAE).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from omegaconf import DictConfig

from distillery.errors import DistilleryError

log = logging.getLogger("distillery.train")


class EmbeddingCache:
    """Content-addressed embeddings for one encoder: append-only ``.npz`` shards of (keys, vectors)."""

    def __init__(self, root: Path, encoder_key: str):
        self.dir = Path(root) / "embeddings" / encoder_key
        self.store: dict[str, np.ndarray] = {}
        for shard in sorted(self.dir.glob("shard-*.npz")):
            with np.load(shard) as z:
                self.store.update(zip(z["keys"].tolist(), z["vectors"]))

    @staticmethod
    def key(ids: Sequence[int]) -> str:
        return hashlib.sha256(np.asarray(ids, dtype=np.int64).tobytes()).hexdigest()

    def add(self, keys: list[str], vectors: np.ndarray) -> None:
        if not keys:
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        n = len(list(self.dir.glob("shard-*.npz")))
        tmp = self.dir / f".shard-{n:05d}.tmp.npz"
        np.savez(tmp, keys=np.array(keys), vectors=vectors.astype(np.float32))
        tmp.rename(self.dir / f"shard-{n:05d}.npz")  # atomic: a killed run never leaves half a shard
        self.store.update(zip(keys, vectors.astype(np.float32)))


def encoder_key(loaded: Any, pooling: str, normalize: bool, max_tokens: int) -> str:
    """Identity of what produces an embedding: source, weights fingerprint, pooling, normalisation."""
    params = list(loaded.backbone.parameters())
    h = hashlib.sha256(json.dumps([loaded.source, pooling, normalize, max_tokens, len(params),
                                   getattr(loaded.backbone.config, "_commit_hash", None)]).encode())
    for p in (params[0], params[len(params) // 2], params[-1]):  # cheap fingerprint of the weights
        h.update(p.detach().float().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def embed(model: Any, views: Sequence[Sequence[int]], pad_id: int, batch_size: int,
          cache: EmbeddingCache | None) -> tuple[np.ndarray, int]:
    """(V, H) pooled embeddings of token views, and how many were computed (not cached)."""
    import torch

    from distillery.runtime.scoring import length_sorted_batches

    keys = [EmbeddingCache.key(v) for v in views]
    todo = [i for i, k in enumerate(keys) if cache is None or k not in cache.store]
    fresh: dict[int, np.ndarray] = {}
    with torch.inference_mode():
        for idx, ids, mask in length_sorted_batches([views[i] for i in todo], batch_size, pad_id):
            z = model.encode(torch.from_numpy(ids), torch.from_numpy(mask)).float().numpy()
            for r, j in enumerate(idx):
                fresh[todo[j]] = z[r]
    if cache is not None:
        cache.add([keys[i] for i in todo], np.stack([fresh[i] for i in todo]) if todo else np.zeros((0, 1)))
    out = np.stack([fresh[i] if i in fresh else cache.store[keys[i]] for i in range(len(views))])  # type: ignore[union-attr]
    return out, len(todo)


def _article_preds(model: Any, x: np.ndarray, owners: Sequence[int], n: int, how: str) -> np.ndarray:
    import torch

    from distillery.runtime.scoring import aggregate

    with torch.inference_mode():
        views = model.predict_from_embedding(torch.from_numpy(x)).float().numpy()
    return aggregate(views, owners, n, how)


def fit_ridge(model: Any, x: np.ndarray, z: np.ndarray, alphas: Sequence[float], score: Any) -> dict[str, Any]:
    """Ridge on standardised targets ``z`` for each alpha (one eigendecomposition); keeps the alpha
    with the lowest ``score(model)`` (val MAE) in ``model.head``. Returns the alpha table."""
    import torch

    xm, zm = x.mean(0), z.mean(0)
    xc = (x - xm).astype(np.float64)
    lam, q = np.linalg.eigh(xc.T @ xc)
    qtxz = q.T @ (xc.T @ (z - zm))
    scale = float(lam.clip(min=0).mean()) or 1.0
    table, best = [], None
    for a in alphas:
        w = q @ (qtxz / (lam.clip(min=0) + a * scale)[:, None])  # (H, N)
        b = zm - xm @ w
        with torch.no_grad():
            model.head.weight.copy_(torch.from_numpy(w.T.astype(np.float32)))
            model.head.bias.copy_(torch.from_numpy(b.astype(np.float32)))
        mae = float(score(model))
        table.append({"alpha": a, "val_mae": mae})
        if best is None or mae < best[0]:
            best = (mae, a, w, b)
    _, a, w, b = best  # type: ignore[misc]
    with torch.no_grad():
        model.head.weight.copy_(torch.from_numpy(w.T.astype(np.float32)))
        model.head.bias.copy_(torch.from_numpy(b.astype(np.float32)))
    return {"alpha": a, "alpha_scale": scale, "grid": table}


def fit_mlp(model: Any, x: np.ndarray, y: np.ndarray, loss_fn: Any, pcfg: Any, seed: int, score: Any,
            logger: Any = None) -> list[dict[str, float]]:
    """Train the MLP head on cached embeddings; keep the epoch with the lowest val MAE."""
    import copy

    import torch

    gen = torch.Generator().manual_seed(seed)
    params = list(model.head.parameters())
    opt = torch.optim.AdamW(params, lr=float(pcfg.lr), weight_decay=float(pcfg.weight_decay))
    xt, yt = torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y.astype(np.float32))
    bs, history, best = int(pcfg.batch_size), [], (float("inf"), None)
    step = 0
    for epoch in range(int(pcfg.epochs)):
        model.head.train()
        total = 0.0
        for idx in torch.randperm(len(xt), generator=gen).split(bs):
            loss = loss_fn(model.predict_from_embedding(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.detach().item() * len(idx)
            step += 1
        model.head.eval()
        mae = float(score(model))
        history.append({"epoch": epoch, "step": step, "train_loss": total / len(xt), "val_mae": mae})
        if logger:
            logger.log_metrics({"train/loss": total / len(xt), "val/mae": mae, "epoch": epoch}, step=step)
        if mae < best[0]:
            best = (mae, copy.deepcopy(model.head.state_dict()))
        elif epoch - min(i for i, h in enumerate(history) if h["val_mae"] == best[0]) >= int(pcfg.patience):
            break
    model.head.load_state_dict(best[1])
    return history


def run_probe(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Embed (cached), fit the head, evaluate, write the run dir like a fine-tuned run."""
    import torch

    from distillery.runtime.context import ContextStrategy
    from distillery.data.datamodule import ArticleDataModule
    from distillery.data.split import label_matrix
    from distillery.evaluate.metrics import regression_metrics
    from distillery.filters.registry import load_filter
    from distillery.models.backbone import load_backbone
    from distillery.models.regressor import Regressor, hidden_size_of
    from distillery.train.losses import build_loss
    from distillery.train.task import _logger, finish_run, start_run

    pcfg = cfg.model.probe
    if pcfg.head not in ("ridge", "mlp"):
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
    model = Regressor(loaded.backbone, len(spec.dimensions), pooling, hidden_size_of(loaded.backbone),
                      mean.tolist(), std.tolist(), head="linear" if pcfg.head == "ridge" else "mlp",
                      mlp_hidden=int(pcfg.mlp_hidden), dropout=float(pcfg.dropout), normalize=loaded.normalize)
    model.eval()
    cache = EmbeddingCache(Path(cfg.paths.cache_dir), encoder_key(loaded, pooling, loaded.normalize, strategy.max_tokens))
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
        pred = _article_preds(m, emb["val"], owners["val"], len(dm.records["val"]), strategy.aggregate)
        return float(np.abs(spec.clamp(pred) - true["val"]).mean())

    logger = _logger(cfg, run_dir, resolved)
    try:
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
            pred = _article_preds(model, emb[s], owners[s], len(dm.records[s]), strategy.aggregate)
            evals[s] = {"pred": pred, "true": true[s], "metrics": regression_metrics(pred, true[s], spec)}
        info = {"probe": {"head": pcfg.head, **fit, "embeddings_computed": computed, "encoder": loaded.source,
                          "fit_seconds": round(time.time() - t_fit, 2)},
                "epochs": len(history), "train_seconds": round(time.time() - t0, 1),
                "inference_ms_per_article": round(inference_ms, 2), "history": history}
        return finish_run(run_dir, cfg, spec, model, loaded, strategy, dm, seed, evals, info, logger)
    finally:
        if logger and cfg.logger.kind == "wandb":
            import wandb

            wandb.finish()


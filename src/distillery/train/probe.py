"""Embedding probes (``model=embedding_probe``, ``train.method=probe``): a frozen encoder + a
ridge or MLP head. The pieces live here; the job is :mod:`distillery.train.recipes.probe`.

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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from distillery.runtime.scoring import aggregate, length_sorted_batches


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
    h = hashlib.sha256(
        json.dumps(
            [
                loaded.source,
                pooling,
                normalize,
                max_tokens,
                len(params),
                getattr(loaded.backbone.config, "_commit_hash", None),
            ]
        ).encode()
    )
    for p in (params[0], params[len(params) // 2], params[-1]):  # cheap fingerprint of the weights
        h.update(p.detach().float().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def embed(
    model: Any, views: Sequence[Sequence[int]], pad_id: int, batch_size: int, cache: EmbeddingCache | None
) -> tuple[np.ndarray, int]:
    """(V, H) pooled embeddings of token views, and how many were computed (not cached)."""
    import torch

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


def article_preds(model: Any, x: np.ndarray, owners: Sequence[int], n: int, how: str) -> np.ndarray:
    """Per-article predictions (0-10 scale) from view embeddings ``x``: head, then ``how`` over each article's views."""
    import torch

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


def fit_mlp(
    model: Any, x: np.ndarray, y: np.ndarray, loss_fn: Any, pcfg: Any, seed: int, score: Any, logger: Any = None
) -> list[dict[str, float]]:
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

"""Metrics in one place, used per epoch in training and by ``evaluate``.

All computed with torchmetrics' functional API on per-article predictions (chunk views are
aggregated first), on the 0-10 scale after clamping.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torchmetrics.functional as tmf

from distillery.runtime.scoring import aggregate

if TYPE_CHECKING:
    from distillery.filters.spec import FilterSpec


def aggregate_views(pred: torch.Tensor, article: torch.Tensor, how: str = "mean") -> tuple[torch.Tensor, torch.Tensor]:
    """Per-article predictions from per-view ones. Returns (articles sorted, predictions).

    The torch face of :func:`distillery.runtime.scoring.aggregate` (the one implementation):
    ``article`` holds any article ids; they are mapped to 0..n-1 in sorted order. No gradient."""
    ids, inverse = torch.unique(article, sorted=True, return_inverse=True)
    out = aggregate(pred.detach().cpu().double().numpy(), inverse.cpu().numpy(), len(ids), how)
    return ids, torch.as_tensor(out, dtype=pred.dtype, device=pred.device)


def regression_metrics(pred: Any, true: Any, spec: FilterSpec) -> dict[str, float]:
    """Overall and per-dimension MAE / RMSE / Spearman, weighted-average MAE, tier accuracy."""
    p = torch.as_tensor(np.clip(np.asarray(pred, dtype=np.float64), 0, 10), dtype=torch.float64)
    t = torch.as_tensor(np.asarray(true, dtype=np.float64), dtype=torch.float64)
    out: dict[str, float] = {
        "mae": tmf.mean_absolute_error(p, t).item(),
        "rmse": tmf.mean_squared_error(p, t, squared=False).item(),
    }
    spearman = []
    for j, d in enumerate(spec.dimension_names):
        out[f"{d}/mae"] = tmf.mean_absolute_error(p[:, j], t[:, j]).item()
        out[f"{d}/rmse"] = tmf.mean_squared_error(p[:, j], t[:, j], squared=False).item()
        rho = tmf.spearman_corrcoef(p[:, j], t[:, j]).item() if len(p) > 1 else float("nan")
        out[f"{d}/spearman"] = rho
        spearman.append(rho)
    out["spearman"] = float(np.nanmean(spearman)) if len(p) > 1 else float("nan")
    wp, wt = spec.weighted_average(p.numpy()), spec.weighted_average(t.numpy())
    out["weighted_mae"] = float(np.abs(wp - wt).mean())
    out["tier_accuracy"] = float((spec.tier_index(wp) == spec.tier_index(wt)).mean())
    return out


def mean_baseline_mae(train_labels: Any, true: Any) -> float:
    """MAE of predicting the training mean of each dimension (the bar a model must clear)."""
    mean = np.asarray(train_labels, dtype=np.float64).mean(0)
    return float(np.abs(np.asarray(true, dtype=np.float64) - mean).mean())


def tier_report(pred_wa: Any, true_wa: Any, spec: FilterSpec) -> dict[str, Any]:
    """Tier confusion matrix (rows: oracle tier, columns: predicted tier, highest tier first) and
    per-tier precision / recall / support, from weighted averages."""
    names = spec.tier_names
    p, t = spec.tier_index(np.asarray(pred_wa)), spec.tier_index(np.asarray(true_wa))
    k = len(names)
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (t, p), 1)
    per: dict[str, dict[str, float]] = {}
    for i, name in enumerate(names):
        predicted, actual = cm[:, i].sum(), cm[i, :].sum()
        per[name] = {
            "precision": float(cm[i, i] / predicted) if predicted else float("nan"),
            "recall": float(cm[i, i] / actual) if actual else float("nan"),
            "support": int(actual),
            "predicted": int(predicted),
        }
    return {
        "tiers": names,
        "confusion": cm.tolist(),
        "per_tier": per,
        "accuracy": float(np.trace(cm) / cm.sum()) if cm.sum() else float("nan"),
    }


def ranking_metrics(
    pred_wa: Any, true_wa: Any, spec: FilterSpec, ks: Any = (10, 25, 50, 100), relevant_tier: str | None = None
) -> dict[str, Any]:
    """Needle-filter retrieval quality of the weighted average.

    Articles are ranked by predicted weighted average. *Relevant* articles are those whose
    oracle weighted average reaches ``relevant_tier`` (default: the top tier).
    ``recall@k``: share of the relevant articles in the top k. ``ndcg@k``: DCG of the top k with
    the oracle weighted average as graded gain (gain / log2(rank + 1)), over the ideal ordering's.
    ``r_precision``: precision in the top R, R = number of relevant articles.
    """
    p = np.asarray(pred_wa, dtype=np.float64)
    t = np.asarray(true_wa, dtype=np.float64)
    tier = relevant_tier or spec.tier_names[0]
    threshold = next(x.threshold for x in spec.tiers if x.name == tier)
    relevant = t >= threshold
    order = np.argsort(-p, kind="stable")
    ideal = np.sort(t)[::-1]
    out: dict[str, Any] = {
        "relevant_tier": tier,
        "relevant_threshold": float(threshold),
        "n": int(len(p)),
        "n_relevant": int(relevant.sum()),
    }
    disc = 1.0 / np.log2(np.arange(2, len(p) + 2))
    for k in sorted({int(k) for k in ks if int(k) > 0}):
        kk = min(k, len(p))
        hits = relevant[order[:kk]].sum()
        out[f"recall@{k}"] = float(hits / relevant.sum()) if relevant.any() else float("nan")
        idcg = float((ideal[:kk] * disc[:kk]).sum())
        out[f"ndcg@{k}"] = float((t[order[:kk]] * disc[:kk]).sum() / idcg) if idcg > 0 else float("nan")
    r = int(relevant.sum())
    out["r_precision"] = float(relevant[order[:r]].mean()) if r else float("nan")
    return out

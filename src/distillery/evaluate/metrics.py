"""Metrics in one place, used per epoch in training and by ``evaluate``.

All computed with torchmetrics' functional API on per-article predictions (chunk views are
aggregated first), on the 0-10 scale after clamping.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torchmetrics.functional as tmf

if TYPE_CHECKING:
    from distillery.filters.spec import FilterSpec


def aggregate_views(pred: torch.Tensor, article: torch.Tensor, how: str = "mean") -> tuple[torch.Tensor, torch.Tensor]:
    """Per-article predictions from per-view ones. Returns (articles sorted, predictions)."""
    ids, inverse = torch.unique(article, sorted=True, return_inverse=True)
    out = torch.zeros((len(ids), pred.shape[1]), dtype=pred.dtype)
    if how == "max":
        out = out.fill_(-torch.inf).scatter_reduce(0, inverse[:, None].expand_as(pred), pred, "amax")
    else:
        out = out.index_add(0, inverse, pred) / torch.bincount(inverse)[:, None].to(pred.dtype)
    return ids, out


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

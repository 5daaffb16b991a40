"""Paired bootstrap of score metrics: the same article resamples for every scorer compared.

Used by the release gate (candidate vs deployed on one holdout, each against the oracle labels)
and by oracle agreement (oracle A vs oracle B on one sample). numpy + scipy only.

Exactly (so a reader can recompute it)::

    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))     # articles, with replacement, the same for both
    stat[b] = metric(candidate[idx[b]], truth[idx[b]]) - metric(baseline[idx[b]], truth[idx[b]])

The CI is the percentile interval of ``stat`` at ``level`` (NaN resamples, e.g. no positive
article for a tier, are left out). Every metric is a vectorised function of score arrays shaped
``(..., n, dims)`` (or weighted averages ``(..., n)``) returning ``(...)``, so one call evaluates
the full sample and all resamples.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Metric = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]  # (P, T, wa_P, wa_T) -> (...)
CHUNK = 200  # resamples per vectorised step (bounds memory: chunk x n x dims floats per array)


def rankdata_last(x: np.ndarray) -> np.ndarray:
    """Average ranks along the last axis (ties share their mean rank), vectorised."""
    from scipy.stats import rankdata

    return rankdata(x, axis=-1)


def spearman_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman correlation along the last axis (NaN where either side is constant)."""
    ra, rb = rankdata_last(a), rankdata_last(b)
    ra = ra - ra.mean(-1, keepdims=True)
    rb = rb - rb.mean(-1, keepdims=True)
    den = np.sqrt((ra * ra).sum(-1) * (rb * rb).sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (ra * rb).sum(-1) / np.where(den > 0, den, 1.0), np.nan)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def score_metrics(
    dimensions: Sequence[str], tiers: Sequence[tuple[str, float]], ks: Sequence[int], relevant: float
) -> dict[str, tuple[Metric, str]]:
    """name -> (metric, family) for the release gate (names as in ``filters.spec.release_family``).

    ``tiers``: (name, threshold) highest first; every tier but the lowest is a binary decision
    "weighted average >= threshold" with precision / recall / F1. ``relevant``: the oracle
    weighted average an article needs to count for Recall@k (the top tier's threshold)."""
    out: dict[str, tuple[Metric, str]] = {
        "mae": (lambda p, t, wp, wt: np.abs(p - t).mean((-2, -1)), "mae"),
        "weighted_mae": (lambda p, t, wp, wt: np.abs(wp - wt).mean(-1), "weighted_mae"),
        "spearman": (
            lambda p, t, wp, wt: np.nanmean(
                np.stack([spearman_rows(p[..., j], t[..., j]) for j in range(p.shape[-1])]), 0
            ),
            "spearman",
        ),
    }
    for j, d in enumerate(dimensions):
        out[f"mae/{d}"] = (lambda p, t, wp, wt, j=j: np.abs(p[..., j] - t[..., j]).mean(-1), "dimension_mae")
    for j, d in enumerate(dimensions):
        out[f"spearman/{d}"] = (lambda p, t, wp, wt, j=j: spearman_rows(p[..., j], t[..., j]), "dimension_spearman")
    for name, th in list(tiers)[:-1]:

        def counts(wp: np.ndarray, wt: np.ndarray, th: float = th) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            pp, pt = wp >= th, wt >= th
            return (pp & pt).sum(-1), pp.sum(-1), pt.sum(-1)

        out[f"tier/{name}/precision"] = (lambda p, t, wp, wt, c=counts: _ratio(c(wp, wt)[0], c(wp, wt)[1]), "precision")
        out[f"tier/{name}/recall"] = (lambda p, t, wp, wt, c=counts: _ratio(c(wp, wt)[0], c(wp, wt)[2]), "recall")
        out[f"tier/{name}/f1"] = (
            lambda p, t, wp, wt, c=counts: _ratio(2 * c(wp, wt)[0], c(wp, wt)[1] + c(wp, wt)[2]),
            "f1",
        )
    for k in sorted({int(k) for k in ks}):

        def recall_at(p: np.ndarray, t: np.ndarray, wp: np.ndarray, wt: np.ndarray, k: int = k) -> np.ndarray:
            rel = wt >= relevant
            kk = min(k, wp.shape[-1])
            top = np.argsort(-wp, axis=-1, kind="stable")[..., :kk]
            hits = np.take_along_axis(rel, top, -1).sum(-1)
            return _ratio(hits, rel.sum(-1))

        out[f"recall@{k}"] = (recall_at, "recall_at_k")
    return out


@dataclass(frozen=True)
class Interval:
    value: float  # on the full sample
    low: float
    high: float

    def as_dict(self) -> dict[str, float | None]:
        return {k: (None if not np.isfinite(v) else round(float(v), 6)) for k, v in self.__dict__.items()}


def _percentiles(x: np.ndarray, level: float) -> tuple[float, float]:
    x = x[np.isfinite(x)]
    if x.size == 0:
        return float("nan"), float("nan")
    lo, hi = np.percentile(x, [100 * (1 - level) / 2, 100 * (1 + level) / 2])
    return float(lo), float(hi)


def resamples(n: int, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n) article indices, with replacement."""
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def bootstrap(
    metrics: dict[str, tuple[Metric, str]],
    weighted: Callable[[np.ndarray], np.ndarray],
    truth: np.ndarray,
    scorers: Sequence[np.ndarray],
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, dict[str, Any]]:
    """For each metric: every scorer's value with its CI and, for two scorers, the paired
    difference ``scorers[0] - scorers[1]`` with its CI. ``weighted``: scores -> weighted averages."""
    truth = np.asarray(truth, dtype=np.float64)
    preds = [np.clip(np.asarray(s, dtype=np.float64), 0, 10) for s in scorers]
    n = truth.shape[0]
    wt = weighted(truth)
    wps = [weighted(p) for p in preds]
    idx = resamples(n, n_boot, seed)
    boot = {m: np.empty((len(preds), n_boot)) for m in metrics}
    for start in range(0, n_boot, CHUNK):
        ii = idx[start : start + CHUNK]
        t, w = truth[ii], wt[ii]
        for s, (p, wp) in enumerate(zip(preds, wps)):
            pi, wpi = p[ii], wp[ii]
            for m, (fn, _) in metrics.items():
                boot[m][s, start : start + len(ii)] = fn(pi, t, wpi, w)
    out: dict[str, dict[str, Any]] = {}
    for m, (fn, family) in metrics.items():
        values = [float(fn(p, truth, wp, wt)) for p, wp in zip(preds, wps)]
        row: dict[str, Any] = {
            "family": family,
            "scorers": [Interval(v, *_percentiles(boot[m][s], level)) for s, v in enumerate(values)],
        }
        if len(preds) == 2:
            row["delta"] = Interval(values[0] - values[1], *_percentiles(boot[m][0] - boot[m][1], level))
        out[m] = row
    return out

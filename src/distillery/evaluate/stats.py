"""Uncertainty for comparisons: a mean over seeds with its t interval, and a paired bootstrap of a
difference, paired by article and by seed.

Used by ``distillery compare`` (variant vs baseline over a multirun) and by the release gate
(candidate vs deployed on one holdout). numpy + scipy only.

The paired bootstrap, exactly (so a reader can recompute it)::

    rng = np.random.default_rng(seed)
    for b in range(n_boot):
        s = rng.integers(0, k, size=k)          # seeds, with replacement (k = number of paired seeds)
        a = rng.integers(0, n, size=n)          # articles, with replacement (n = paired articles)
        stat[b] = diff[np.ix_(s, a)].mean()     # or 100 * that / base[np.ix_(s, a)].mean() for %

``diff[s, i]`` is the variant's error minus the baseline's on article ``i`` with seed ``s`` (both
trained with seed ``s`` on the same split). Resampling seeds as well as articles puts the training
noise into the interval, not only the sampling of articles: with one seed the interval reflects
articles only (:func:`paired_bootstrap` says so in ``noise``). The interval is the percentile
interval; a delta is *distinguishable from zero* when the interval excludes 0.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

LEVEL = 0.95
N_BOOT = 2000


def mean_ci(values: Any, level: float = LEVEL) -> tuple[float, float | None]:
    """(mean, half-width of the t interval) of independent values (one per seed); the half-width is
    None for fewer than two values."""
    v = np.asarray(list(values), dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return math.nan, None
    if v.size < 2:
        return float(v.mean()), None
    from scipy.stats import t

    half = float(t.ppf(0.5 + level / 2, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size))
    return float(v.mean()), half


@dataclass(frozen=True)
class Delta:
    """A paired difference (variant - baseline) with its bootstrap interval."""

    delta: float  # on the full sample
    low: float
    high: float
    seeds: int
    articles: int
    noise: str  # what the interval covers: "seeds and articles" | "articles (1 seed)" | "seeds (no per-article predictions)"

    @property
    def distinguishable(self) -> bool:
        return self.low > 0 or self.high < 0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "distinguishable": self.distinguishable}


def paired_bootstrap(
    diff: Any,
    base: Any | None = None,
    *,
    n_boot: int = N_BOOT,
    seed: int = 0,
    level: float = LEVEL,
) -> Delta:
    """Bootstrap interval of the mean of ``diff`` (shape (k seeds, n articles), or (n,) for one seed),
    resampling seeds and articles (see the module docstring). With ``base`` (the baseline's errors,
    same shape) the statistic is the relative delta in percent: 100 * mean(diff) / mean(base)."""
    d = np.atleast_2d(np.asarray(diff, dtype=np.float64))
    b = None if base is None else np.atleast_2d(np.asarray(base, dtype=np.float64))
    if b is not None and b.shape != d.shape:
        raise ValueError(f"diff {d.shape} and base {b.shape} differ in shape")
    k, n = d.shape
    if k == 0 or n == 0:
        raise ValueError("paired_bootstrap needs at least one seed and one article")

    def stat(dd: np.ndarray, bb: np.ndarray | None) -> np.ndarray:
        m = dd.mean(axis=(-2, -1))
        return m if bb is None else 100.0 * m / bb.mean(axis=(-2, -1))

    rng = np.random.default_rng(seed)
    out = np.empty(n_boot)
    for i in range(n_boot):
        s = rng.integers(0, k, size=k)
        a = rng.integers(0, n, size=n)
        out[i] = stat(d[np.ix_(s, a)], None if b is None else b[np.ix_(s, a)])
    lo, hi = np.percentile(out, [100 * (1 - level) / 2, 100 * (1 + level) / 2])
    noise = "seeds and articles" if k > 1 and n > 1 else ("articles (1 seed)" if n > 1 else "seeds only")
    return Delta(float(stat(d, b)), float(lo), float(hi), k, n, noise)

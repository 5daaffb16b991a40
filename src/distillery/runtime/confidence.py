"""Per-article confidence: group-conditional (Mondrian) split-conformal intervals.

Why this method is in ``docs/decisions/003-confidence.md``. In short: it works for a single
exported model at zero extra inference cost, its intervals have a stated coverage, and the
per-article signal comes from two things known at inference time:

* ``cut``: whether the context strategy saw the whole article (a truncated article's missing
  evidence is the student's largest error source);
* ``band``: the predicted weighted average's band (tertiles of validation predictions); the
  student regresses to the mean, so its error depends on where it predicts.

Fitting (on the validation split, after calibration): for each group (cut x band) the
conformal quantile ``q = the ceil((n+1)(1-alpha))-th smallest |residual|`` of the weighted
average and of each dimension. A group with fewer than ``min_group`` validation articles falls
back to its cut-only group, then to all articles. At inference an article gets its group's
half-widths: interval = prediction +- q (clipped to 0-10), ``confidence = 1 - q_wa / 10`` and
``needs_review = q_wa > review_threshold`` (default: the half-width of all validation articles
pooled, i.e. flag articles of a kind that is harder than average).

numpy only: vendored into packaged scorers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from distillery.runtime.jsonfile import JsonFile

CONFIDENCE_FILE = "confidence.json"


def conformal_quantile(residuals: Any, alpha: float) -> float:
    """Split-conformal quantile of absolute residuals for coverage 1 - alpha."""
    r = np.sort(np.abs(np.asarray(residuals, dtype=np.float64)))
    n = len(r)
    if n == 0:
        return float("inf")
    k = math.ceil((n + 1) * (1 - alpha))
    return float(r[min(k, n) - 1])


@dataclass
class Conformal(JsonFile):
    dimensions: list[str]
    alpha: float
    edges: list[float]  # band edges of the predicted weighted average
    groups: dict[str, dict[str, Any]]  # key -> {"n", "wa", "dims": [..]}
    review_threshold: float
    min_group: int = 30
    report: dict[str, Any] = field(default_factory=dict)

    # ---- grouping ---------------------------------------------------------------------------
    def band(self, wa_pred: Any) -> np.ndarray:
        return np.searchsorted(np.asarray(self.edges), np.asarray(wa_pred, dtype=np.float64), side="right")

    def group_keys(self, wa_pred: Any, cut: Any) -> list[str]:
        """The fitted group each article falls in (finest group with enough data)."""
        bands = self.band(wa_pred)
        cut = np.asarray(cut, dtype=bool)
        keys = []
        for b, c in zip(np.atleast_1d(bands), np.atleast_1d(cut)):
            for key in (f"cut={int(c)}|band={int(b)}", f"cut={int(c)}", "all"):
                if key in self.groups:
                    keys.append(key)
                    break
        return keys

    def assess(self, scores: Any, wa_pred: Any, cut: Any) -> dict[str, np.ndarray]:
        """Intervals and review flags for final (calibrated, clamped) scores and their weighted average."""
        scores = np.asarray(scores, dtype=np.float64)
        wa = np.asarray(wa_pred, dtype=np.float64)
        keys = self.group_keys(wa, cut)
        wa_half = np.array([self.groups[k]["wa"] for k in keys], dtype=np.float64)
        dim_half = np.array([self.groups[k]["dims"] for k in keys], dtype=np.float64).reshape(scores.shape)
        return {
            "group": np.array(keys, dtype=object),
            "wa_halfwidth": wa_half,
            "wa_low": np.clip(wa - wa_half, 0.0, 10.0),
            "wa_high": np.clip(wa + wa_half, 0.0, 10.0),
            "dim_halfwidth": dim_half,
            "confidence": np.clip(1.0 - wa_half / 10.0, 0.0, 1.0),
            "needs_review": wa_half > self.review_threshold,
        }

    # ---- persistence --------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": 1,
            "method": "mondrian split-conformal (groups: context cut x predicted band)",
            "alpha": self.alpha,
            "coverage_target": 1 - self.alpha,
            "dimensions": self.dimensions,
            "band_edges": self.edges,
            "min_group": self.min_group,
            "review_threshold": self.review_threshold,
            "groups": self.groups,
            "report": self.report,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Conformal:
        return cls(
            list(d["dimensions"]),
            float(d["alpha"]),
            list(d["band_edges"]),
            dict(d["groups"]),
            float(d["review_threshold"]),
            int(d.get("min_group", 30)),
            dict(d.get("report", {})),
        )


def fit_conformal(
    scores: Any,
    true: Any,
    wa_pred: Any,
    wa_true: Any,
    cut: Any,
    dimensions: Sequence[str],
    alpha: float = 0.1,
    n_bands: int = 3,
    min_group: int = 30,
    review_threshold: float | None = None,
) -> Conformal:
    """Fit group half-widths on validation (final scores, labels, their weighted averages, cut flags)."""
    scores = np.asarray(scores, dtype=np.float64)
    true = np.asarray(true, dtype=np.float64)
    wa_pred = np.asarray(wa_pred, dtype=np.float64)
    wa_true = np.asarray(wa_true, dtype=np.float64)
    cut = np.asarray(cut, dtype=bool)
    edges = np.unique(np.quantile(wa_pred, np.linspace(0, 1, n_bands + 1)[1:-1])).tolist() if n_bands > 1 else []
    dim_res = np.abs(scores - true)
    wa_res = np.abs(wa_pred - wa_true)

    def entry(mask: np.ndarray) -> dict[str, Any]:
        return {
            "n": int(mask.sum()),
            "wa": conformal_quantile(wa_res[mask], alpha),
            "dims": [conformal_quantile(dim_res[mask, j], alpha) for j in range(scores.shape[1])],
        }

    groups: dict[str, dict[str, Any]] = {"all": entry(np.ones(len(scores), dtype=bool))}
    bands = np.searchsorted(np.asarray(edges), wa_pred, side="right")
    for c in (0, 1):
        m = cut == bool(c)
        if m.sum() >= min_group:
            groups[f"cut={c}"] = entry(m)
        for b in range(len(edges) + 1):
            mb = m & (bands == b)
            if mb.sum() >= min_group:
                groups[f"cut={c}|band={b}"] = entry(mb)
    threshold = float(groups["all"]["wa"]) if review_threshold is None else float(review_threshold)
    return Conformal(list(dimensions), float(alpha), [float(e) for e in edges], groups, threshold, int(min_group))


def flag_report(abs_err: Any, flagged: Any) -> dict[str, Any]:
    """Mean absolute error of flagged vs unflagged articles (the check that flags mean something)."""
    e = np.asarray(abs_err, dtype=np.float64)
    f = np.asarray(flagged, dtype=bool)
    out = {
        "n": int(len(e)),
        "n_flagged": int(f.sum()),
        "flagged_share": float(f.mean()) if len(e) else float("nan"),
        "mae_flagged": float(e[f].mean()) if f.any() else float("nan"),
        "mae_unflagged": float(e[~f].mean()) if (~f).any() else float("nan"),
    }
    out["ratio"] = (
        out["mae_flagged"] / out["mae_unflagged"]
        if f.any() and (~f).any() and out["mae_unflagged"] > 0
        else float("nan")
    )
    return out


def coverage(low: Any, high: Any, true: Any) -> float:
    t = np.asarray(true, dtype=np.float64)
    return float(((t >= np.asarray(low) - 1e-9) & (t <= np.asarray(high) + 1e-9)).mean()) if t.size else float("nan")

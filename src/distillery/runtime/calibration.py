"""Per-dimension isotonic calibration, stored as breakpoints (``calibration.json``).

Fitted on the validation split's per-article predictions (after view aggregation, before
clamping) and applied to raw model outputs *before* the spec's clamp -> weighted average ->
tier arithmetic, everywhere scores are produced: ``evaluate``, the exported ONNX scorer and
the packaged wheel. This module needs numpy only (it is vendored into packaged scorers).

The fit is an isotonic (non-decreasing) regression of the oracle label on the model output,
by pool-adjacent-violators. The default objective is **L1** (each block takes the median of
its labels): the fitted map minimises validation MAE over *all* non-decreasing maps, and
since the identity (clamped to 0-10) is one of them, calibration can never increase
validation MAE. ``l2`` (block means, sklearn's IsotonicRegression) minimises squared error
instead and carries no such guarantee for MAE.

The map between breakpoints is linear interpolation and constant beyond the ends (exactly
sklearn's ``IsotonicRegression(out_of_bounds="clip").predict``), via ``numpy.interp``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from distillery.runtime.jsonfile import JsonFile

CALIBRATION_FILE = "calibration.json"
OBJECTIVES = ("l1", "l2")


def _weighted_median(y: np.ndarray, w: np.ndarray) -> float:
    order = np.argsort(y, kind="stable")
    y, w = y[order], w[order]
    c = np.cumsum(w)
    half = c[-1] / 2.0
    i = int(np.searchsorted(c, half))
    if np.isclose(c[i], half) and i + 1 < len(y):  # even split: midpoint of the two middle values
        return float((y[i] + y[i + 1]) / 2.0)
    return float(y[i])


def isotonic_fit(
    x: Sequence[float], y: Sequence[float], objective: str = "l1", min_block: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Non-decreasing fit of ``y`` on ``x`` by pool-adjacent-violators.

    ``min_block``: points are first pooled into runs of at least this many consecutive (by
    ``x``) points, which bounds the number of steps (regularisation; 1 = plain PAV).
    Returns breakpoints ``(xs, ys)``: for each block of the fitted step function its first and
    last ``x`` (deduplicated), so ``np.interp(x, xs, ys)`` reproduces the fit at every ``x``.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1 or len(x) == 0:
        raise ValueError("x and y must be non-empty 1-d arrays of the same length")
    order = np.lexsort((y, x))
    x, y = x[order], y[order]
    # tied x values form one starting block (a function has one value per x)
    ux, start = np.unique(x, return_index=True)
    groups = np.split(y, start[1:])
    if min_block > 1:  # pool consecutive tied-x groups into runs of >= min_block points
        pooled, bounds, cur, first = [], [], [], 0
        for i, g in enumerate(groups):
            cur.append(g)
            if sum(len(c) for c in cur) >= min_block:
                pooled.append(np.concatenate(cur))
                bounds.append((first, i))
                cur, first = [], i + 1
        if cur:  # a short remainder joins the last run
            if pooled:
                pooled[-1] = np.concatenate([pooled[-1], *cur])
                bounds[-1] = (bounds[-1][0], len(groups) - 1)
            else:
                pooled.append(np.concatenate(cur))
                bounds.append((first, len(groups) - 1))
    else:
        pooled, bounds = groups, [(i, i) for i in range(len(groups))]
    stat = (lambda v: _weighted_median(v, np.ones_like(v))) if objective == "l1" else (lambda v: float(np.mean(v)))
    # blocks: [values, fitted, first x index, last x index]
    blocks: list[list[Any]] = []
    for g, (lo, hi) in zip(pooled, bounds):
        blocks.append([g, stat(g), lo, hi])
        while len(blocks) > 1 and blocks[-2][1] > blocks[-1][1]:
            b = blocks.pop()
            a = blocks.pop()
            vals = np.concatenate([a[0], b[0]])
            blocks.append([vals, stat(vals), a[2], b[3]])
    xs: list[float] = []
    ys: list[float] = []
    for _, v, lo, hi in blocks:
        for k in (lo, hi) if hi != lo else (lo,):
            xs.append(float(ux[k]))
            ys.append(float(v))
    return np.asarray(xs), np.asarray(ys)


@dataclass
class Calibration(JsonFile):
    """Per-dimension breakpoints; a dimension with no breakpoints is left as is."""

    dimensions: list[str]
    x: list[list[float]]
    y: list[list[float]]
    objective: str = "l1"
    fitted_on: str = "val"
    report: dict[str, Any] = field(default_factory=dict)

    def apply(self, raw: Any) -> np.ndarray:
        """Calibrated scores for raw model outputs shaped (..., n_dimensions)."""
        raw = np.asarray(raw, dtype=np.float64)
        if raw.shape[-1] != len(self.dimensions):
            raise ValueError(f"calibration has {len(self.dimensions)} dimensions, scores have {raw.shape[-1]}")
        out = raw.copy()
        for j, (xs, ys) in enumerate(zip(self.x, self.y)):
            if len(xs):
                out[..., j] = np.interp(raw[..., j], xs, ys)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": 1,
            "method": "isotonic",
            "objective": self.objective,
            "fitted_on": self.fitted_on,
            "applied": "to raw model outputs, before clamping to 0-10",
            "dimensions": {d: {"x": xs, "y": ys} for d, xs, ys in zip(self.dimensions, self.x, self.y)},
            "report": self.report,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibration:
        dims = list(d["dimensions"])
        return cls(
            dims,
            [list(map(float, d["dimensions"][k]["x"])) for k in dims],
            [list(map(float, d["dimensions"][k]["y"])) for k in dims],
            d.get("objective", "l1"),
            d.get("fitted_on", "val"),
            dict(d.get("report", {})),
        )

    def check_dimensions(self, names: Sequence[str]) -> None:
        if list(names) != list(self.dimensions):
            raise ValueError(f"calibration dimensions {self.dimensions} do not match the model's {list(names)}")


def _mae(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    return np.abs(np.clip(pred, 0.0, 10.0) - true).mean(0)


# candidate regularisations (min_block, shrink): the isotonic map f is blended with the identity,
# x -> (1 - shrink) * x + shrink * f(x); None (no calibration) is always a candidate too
CANDIDATES: tuple[tuple[int, float], ...] = tuple((b, s) for b in (1, 10) for s in (0.25, 0.5, 0.75, 1.0))
_FAR = 1e3  # knots far outside 0-10 carry the blend's identity part beyond the data


def _folds(n: int, k: int, seed: int) -> list[np.ndarray]:
    return np.array_split(np.random.default_rng(seed).permutation(n), min(k, n))


def _fit_dim(
    x: np.ndarray, y: np.ndarray, objective: str, cand: tuple[int, float] | None
) -> tuple[np.ndarray, np.ndarray]:
    if cand is None:
        return np.array([]), np.array([])
    min_block, shrink = cand
    xs, ys = isotonic_fit(x, y, objective, int(min_block))
    if shrink >= 1.0:
        return xs, ys
    knots = np.concatenate([[-_FAR], xs, [_FAR]])
    return knots, (1.0 - shrink) * knots + shrink * np.interp(knots, xs, ys)


def _apply_dim(x: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    return np.interp(x, xs, ys) if len(xs) else x


def _cv_mae(
    x: np.ndarray, y: np.ndarray, objective: str, cand: tuple[int, float] | None, folds: list[np.ndarray]
) -> float:
    err = np.zeros(len(x))
    for f in folds:
        train = np.setdiff1d(np.arange(len(x)), f)
        xs, ys = _fit_dim(x[train], y[train], objective, cand)
        err[f] = np.abs(np.clip(_apply_dim(x[f], xs, ys), 0, 10) - y[f])
    return float(err.mean())


def fit_calibration(
    raw: Any,
    true: Any,
    dimensions: Sequence[str],
    objective: str = "l1",
    candidates: Sequence[tuple[int, float]] | None = None,
    folds: int = 5,
    seed: int = 0,
) -> Calibration:
    """Fit per-dimension isotonic maps on (raw prediction, oracle label) pairs.

    Per dimension, the regularisation (``min_block``: fewest points per step; ``shrink``: blend
    with the identity), or no calibration at all, is chosen by ``folds``-fold cross-validated
    MAE on the fitting data, then refitted on all of it: a dimension that calibration would not
    help out of sample stays uncalibrated. A map that would raise the fitting data's MAE is
    dropped, so the fit never makes the fitting split worse.
    """
    raw = np.asarray(raw, dtype=np.float64)
    true = np.asarray(true, dtype=np.float64)
    candidates = [None, *(CANDIDATES if candidates is None else [tuple(c) for c in candidates])]
    fold_idx = _folds(len(raw), folds, seed)
    xs_all, ys_all, chosen = [], [], {}
    for j, d in enumerate(dimensions):
        x, y = raw[:, j], true[:, j]
        small = len(raw) < 2 * folds
        scores = {(1, 1.0): 0.0} if small else {c: _cv_mae(x, y, objective, c, fold_idx) for c in candidates}
        best = min(scores, key=lambda c: (scores[c], c is not None))  # ties: no calibration
        xs, ys = _fit_dim(x, y, objective, best)
        if _mae(_apply_dim(x, xs, ys)[:, None], y[:, None])[0] > _mae(x[:, None], y[:, None])[0] + 1e-12:
            xs, ys, best = np.array([]), np.array([]), None
        xs_all.append(xs.tolist())
        ys_all.append(ys.tolist())
        chosen[d] = {
            "candidate": list(best) if best else None,
            "cv_mae": {("none" if k is None else f"min_block={k[0]},shrink={k[1]}"): v for k, v in scores.items()},
        }
    cal = Calibration(list(dimensions), xs_all, ys_all, objective)
    cal.report = {"selection": chosen}
    return cal


def keep_if_it_helps(cal: Calibration, raw: Any, true: Any, folds: int = 5, seed: int = 1) -> dict[str, Any]:
    """Check the whole fit (regularisation choice included) out of sample by nested cross-fitting:
    each fold is calibrated by :func:`fit_calibration` run on the other folds only. A dimension whose
    out-of-fold MAE is not lower than its raw MAE is left uncalibrated in ``cal`` (its map removed):
    a map that only helps the data it was chosen on is not shipped. Returns the per-dimension
    report (also stored in ``cal.report["out_of_sample"]``)."""
    raw = np.asarray(raw, dtype=np.float64)
    true = np.asarray(true, dtype=np.float64)
    out = raw.copy()
    if len(raw) >= 2 * folds:
        for f in _folds(len(raw), folds, seed):
            train = np.setdiff1d(np.arange(len(raw)), f)
            out[f] = fit_calibration(raw[train], true[train], cal.dimensions, cal.objective).apply(raw[f])
    before, after = _mae(raw, true), _mae(out, true)
    report: dict[str, Any] = {"method": f"nested {folds}-fold cross-fitting", "n": int(len(raw)), "dimensions": {}}
    for j, d in enumerate(cal.dimensions):
        keep = bool(len(cal.x[j]) and after[j] < before[j] - 1e-12)
        if not keep:
            cal.x[j], cal.y[j] = [], []
        report["dimensions"][d] = {"raw_mae": float(before[j]), "calibrated_mae": float(after[j]), "kept": keep}
    report["kept"] = [d for d in cal.dimensions if report["dimensions"][d]["kept"]]
    cal.report["out_of_sample"] = report
    return report


def cross_fitted(raw: Any, true: Any, cal: Calibration, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Out-of-fold calibrated predictions (each fold calibrated by a map fitted on the others,
    with the regularisation ``cal`` chose): honest residuals for conformal intervals."""
    raw = np.asarray(raw, dtype=np.float64)
    true = np.asarray(true, dtype=np.float64)
    sel = cal.report.get("selection", {})
    out = raw.copy()
    for f in _folds(len(raw), folds, seed):
        train = np.setdiff1d(np.arange(len(raw)), f)
        for j, d in enumerate(cal.dimensions):
            cand = sel.get(d, {}).get("candidate", [1, 1.0])
            xs, ys = _fit_dim(raw[train, j], true[train, j], cal.objective, tuple(cand) if cand else None)
            out[f, j] = _apply_dim(raw[f, j], xs, ys)
    return out


def mae_before_after(cal: Calibration, raw: Any, true: Any) -> dict[str, Any]:
    """MAE (after clamping) without and with calibration, overall and per dimension."""
    raw = np.asarray(raw, dtype=np.float64)
    true = np.asarray(true, dtype=np.float64)
    before, after = _mae(raw, true), _mae(cal.apply(raw), true)
    return {
        "n": int(len(raw)),
        "mae_before": float(before.mean()),
        "mae_after": float(after.mean()),
        "per_dimension": {d: {"before": float(b), "after": float(a)} for d, b, a in zip(cal.dimensions, before, after)},
    }

"""Everything ``evaluate`` / ``ensemble`` compute from per-article predictions and labels.

Scores go through the single scoring path (:func:`distillery.runtime.onnx_scorer.finalize`):
raw -> calibration (if fitted) -> clamp -> weighted average -> tier, so the numbers here are
those of the scores a deployed scorer would return.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from distillery.errors import DistilleryError
from distillery.filters.spec import FilterSpec
from distillery.runtime.atomic import dumps
from distillery.runtime.calibration import CALIBRATION_FILE, Calibration
from distillery.runtime.confidence import CONFIDENCE_FILE, Conformal, coverage, flag_report
from distillery.runtime.scoring import finalize


def load_calibration(folder: Path, spec: FilterSpec) -> tuple[Calibration | None, Conformal | None]:
    cal = Calibration.load(folder / CALIBRATION_FILE) if (folder / CALIBRATION_FILE).is_file() else None
    conf = Conformal.load(folder / CONFIDENCE_FILE) if (folder / CONFIDENCE_FILE).is_file() else None
    for obj in (cal, conf):
        if obj is not None and list(obj.dimensions) != spec.dimension_names:
            raise DistilleryError(
                f"{folder}: calibration/confidence dimensions {obj.dimensions} differ from "
                f"the filter's {spec.dimension_names}"
            )
    return cal, conf


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def evaluate_arrays(
    spec: FilterSpec,
    raw: np.ndarray,
    true: np.ndarray,
    cut: np.ndarray | None = None,
    calibration: Calibration | None = None,
    conformal: Conformal | None = None,
    spread: np.ndarray | None = None,
    ks: Sequence[int] = (10, 25, 50, 100),
    review_quantile: float = 0.8,
    spread_threshold: float | None = None,
) -> dict[str, Any]:
    """All metrics for one set of per-article predictions (see ``distillery evaluate --help``)."""
    from distillery.evaluate.metrics import ranking_metrics, regression_metrics, tier_report

    raw = np.asarray(raw, dtype=np.float64)
    true = np.asarray(true, dtype=np.float64)
    cut = np.zeros(len(raw), bool) if cut is None else np.asarray(cut, dtype=bool)
    fin = finalize(spec, raw, calibration, conformal, cut)
    wa_true = spec.weighted_average(true)
    out: dict[str, Any] = {
        "n": int(len(raw)),
        "calibrated": calibration is not None,
        "raw": regression_metrics(raw, true, spec),
    }
    final = regression_metrics(fin["scores"], true, spec) if calibration is not None else out["raw"]
    out["final"] = final
    for k in ("mae", "rmse", "spearman", "weighted_mae", "tier_accuracy"):
        out[k] = final[k]
    out["tiers"] = tier_report(fin["weighted_average"], wa_true, spec)
    out["ranking"] = ranking_metrics(fin["weighted_average"], wa_true, spec, ks)
    out["cut_share"] = float(cut.mean()) if len(cut) else float("nan")
    wa_err = np.abs(fin["weighted_average"] - wa_true)
    if cut.any() and (~cut).any():
        out["mae_by_cut"] = {
            "whole": float(np.abs(fin["scores"][~cut] - true[~cut]).mean()),
            "cut": float(np.abs(fin["scores"][cut] - true[cut]).mean()),
        }
    if conformal is not None:
        c = fin["confidence"]
        out["confidence"] = {
            "method": "conformal",
            "alpha": conformal.alpha,
            "review_threshold": conformal.review_threshold,
            "coverage_weighted_average": coverage(c["wa_low"], c["wa_high"], wa_true),
            "coverage_dimensions": float(np.mean(np.abs(fin["scores"] - true) <= c["dim_halfwidth"] + 1e-9)),
            "mean_halfwidth": float(c["wa_halfwidth"].mean()),
            "flags_weighted_average_error": flag_report(wa_err, c["needs_review"]),
            "flags_dimension_error": flag_report(np.abs(fin["scores"] - true).mean(1), c["needs_review"]),
            "spearman_halfwidth_error": _spearman(c["wa_halfwidth"], wa_err),
        }
    flagged = None
    if spread is not None:
        s = np.asarray(spread, dtype=np.float64)
        u = s @ spec.weights  # weight-averaged member spread per article
        thr = float(np.quantile(u, review_quantile)) if spread_threshold is None else float(spread_threshold)
        flagged = u > thr
        out["spread"] = {
            "method": "ensemble member std",
            "mean": float(u.mean()),
            "threshold": thr,
            "threshold_rule": (f"quantile {review_quantile} of this data" if spread_threshold is None else "given"),
            "flags_weighted_average_error": flag_report(wa_err, flagged),
            "flags_dimension_error": flag_report(np.abs(fin["scores"] - true).mean(1), flagged),
            "spearman_spread_error": _spearman(u, wa_err),
        }
    out["_arrays"] = {
        "scores": fin["scores"],
        "weighted_average": fin["weighted_average"],
        "wa_true": wa_true,
        "tier": fin["tier"],
        "confidence": fin.get("confidence"),
        "cut": cut,
        "spread_flagged": flagged,  # ensembles: the articles the report counts as flagged
    }
    return out


def public(metrics: dict[str, Any]) -> dict[str, Any]:
    """The JSON-serialisable part (drops ``_arrays``)."""
    return {k: v for k, v in metrics.items() if not k.startswith("_")}


def write_predictions(
    path: Path,
    records: Sequence[dict],
    spec: FilterSpec,
    metrics: dict[str, Any],
    raw: np.ndarray,
    spread: np.ndarray | None = None,
) -> Path:
    a = metrics["_arrays"]
    conf = a.get("confidence")
    with open(path, "w", encoding="utf-8") as fh:
        for i, r in enumerate(records):
            row: dict[str, Any] = {
                "id": r.get("id"),
                "labels": {d: float(r["labels"][d]) for d in spec.dimension_names},
                "raw": {d: float(v) for d, v in zip(spec.dimension_names, raw[i])},
                "scores": {d: float(v) for d, v in zip(spec.dimension_names, a["scores"][i])},
                "weighted_average": float(a["weighted_average"][i]),
                "oracle_weighted_average": float(a["wa_true"][i]),
                "tier": str(a["tier"][i]),
                "oracle_tier": str(spec.tier(a["wa_true"][i])),
                "cut": bool(a["cut"][i]),
            }
            if conf is not None:
                row.update(
                    confidence=float(conf["confidence"][i]),
                    needs_review=bool(conf["needs_review"][i]),
                    interval=[float(conf["wa_low"][i]), float(conf["wa_high"][i])],
                )
            if spread is not None:
                row["spread"] = {d: float(v) for d, v in zip(spec.dimension_names, spread[i])}
            if a.get("spread_flagged") is not None:
                row["needs_review"] = bool(a["spread_flagged"][i])
            fh.write(dumps(row, None) + "\n")
    return path

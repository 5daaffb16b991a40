"""``distillery calibrate``'s work: fit isotonic calibration (``calibration.json``) and conformal
confidence (``confidence.json``) on a run's val split (or a given labelled file), report on val
and test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from distillery.data.split import label_matrix
from distillery.errors import DistilleryError
from distillery.evaluate.predict import artifact_dir, is_export_dir, load_predictor
from distillery.evaluate.records import load_eval_records
from distillery.rundir import RunDir
from distillery.runtime.calibration import cross_fitted, fit_calibration, keep_if_it_helps, mae_before_after
from distillery.runtime.confidence import coverage, fit_conformal, flag_report
from distillery.runtime.scoring import finalize


def calibrate_target(
    target: Path,
    objective: str = "l1",
    alpha: float = 0.1,
    review_threshold: float | None = None,
    min_group: int = 30,
    batch_size: int | None = None,
    threads: int | None = None,
    predictor: Any = None,
    data: str | None = None,
) -> dict[str, Any]:
    """Fit calibration.json + confidence.json on val (or ``data``); report on val and test."""
    target = Path(target)
    if is_export_dir(target):
        raise DistilleryError(
            f"{target}: an export dir's files are hashed in its manifest; calibrate the training "
            "run (distillery calibrate <run dir>) and export again"
        )
    predictor = predictor or load_predictor(target, threads=threads, batch_size=batch_size)
    spec = predictor.spec
    preds: dict[str, Any] = {}
    for split in ("val", "test"):
        try:
            records, _ = load_eval_records(target, spec, data if split == "val" else None, split)
        except DistilleryError:
            if split == "val":
                raise
            continue
        p = predictor.predict(records)
        preds[split] = (p, label_matrix(records, spec))
    p_val, y_val = preds["val"]
    cal = fit_calibration(p_val.raw, y_val, spec.dimension_names, objective)
    cal.fitted_on = f"{data} (reported as val)" if data else "val split"
    keep_if_it_helps(cal, p_val.raw, y_val)  # a map that does not help out of sample is not shipped
    # conformal residuals from out-of-fold calibrated val predictions (in-sample ones are too small)
    oof = finalize(spec, cross_fitted(p_val.raw, y_val, cal))
    conf = fit_conformal(
        oof["scores"],
        y_val,
        oof["weighted_average"],
        spec.weighted_average(y_val),
        p_val.cut,
        spec.dimension_names,
        alpha=alpha,
        min_group=min_group,
        review_threshold=review_threshold,
    )
    rep_cal, rep_conf = {}, {}
    for split, (p, y) in preds.items():
        rep_cal[split] = mae_before_after(cal, p.raw, y)
        f = finalize(spec, p.raw, cal, conf, p.cut)
        c = f["confidence"]
        wa_true = spec.weighted_average(y)
        rep_conf[split] = {
            "coverage": coverage(c["wa_low"], c["wa_high"], wa_true),
            "flags": flag_report(np.abs(f["weighted_average"] - wa_true), c["needs_review"]),
        }
    cal.report = {**rep_cal, **cal.report}
    conf.report = rep_conf
    folder = artifact_dir(target)
    cal_file = cal.save(folder / RunDir.CALIBRATION)
    conf_file = conf.save(folder / RunDir.CONFIDENCE)
    return {
        "calibration": cal.report,
        "confidence": rep_conf,
        "calibration_file": str(cal_file),
        "confidence_file": str(conf_file),
    }


def calibration_summary(report: dict[str, Any]) -> list[str]:
    """The lines ``calibrate`` and ``export`` print: the out-of-sample check that decided which
    dimensions are calibrated, and the effect on each split (test: a split the map never saw)."""
    oos = report.get("out_of_sample") or {}
    lines = []
    if oos:
        dims = oos["dimensions"]
        raw = sum(d["raw_mae"] for d in dims.values()) / max(len(dims), 1)
        cal = sum(d["calibrated_mae"] for d in dims.values()) / max(len(dims), 1)
        kept = ", ".join(oos["kept"]) or "none"
        lines.append(
            f"out of sample ({oos['method']} on val, n={oos['n']}): MAE {raw:.4f} -> {cal:.4f}; calibrated dimensions: {kept}"
        )
    for split in ("val", "test"):
        r = report.get(split)
        if isinstance(r, dict) and "mae_before" in r:
            note = " (fitted here)" if split == "val" else " (never seen by the fit)"
            lines.append(
                f"{split:5s} MAE before {r['mae_before']:.4f} -> after {r['mae_after']:.4f} (n={r['n']}){note}"
            )
    return lines

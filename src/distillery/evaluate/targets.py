"""``distillery evaluate`` and ``distillery ensemble``'s work: score labelled data with one scorer
(run dir, checkpoint dir or export dir) or an ensemble of them, and write an eval dir."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from distillery.data.split import label_matrix
from distillery.errors import DistilleryError
from distillery.evaluate.evaluation import evaluate_arrays, load_calibration
from distillery.evaluate.predict import artifact_dir, is_export_dir, load_predictor
from distillery.evaluate.records import load_eval_records
from distillery.evaluate.report import new_eval_dir, write_eval_dir
from distillery.rundir import write_run_json


def evaluate_target(
    target: Path,
    data: str | None = None,
    split: str | None = None,
    limit: int | None = None,
    out: Path | None = None,
    variant: str = "int8",
    calibrated: bool = True,
    ks: Sequence[int] = (10, 25, 50, 100),
    batch_size: int | None = None,
    threads: int | None = None,
    wandb_on: bool = True,
    predictor: Any = None,
) -> dict[str, Any]:
    """Evaluate one scorer; ``predictor``: an already loaded predictor for ``target`` (saves a reload)."""
    target = Path(target)
    predictor = predictor or load_predictor(target, variant, threads=threads, batch_size=batch_size)
    spec = predictor.spec
    records, desc = load_eval_records(target, spec, data, split, limit)
    out = Path(out) if out else new_eval_dir("evaluate")
    out.mkdir(parents=True, exist_ok=True)
    write_run_json(out, "evaluate", 0, target=str(target))
    cal, conf = load_calibration(artifact_dir(target), spec)
    if not calibrated:
        cal = None
    t0 = time.perf_counter()
    pred = predictor.predict(records)
    seconds = time.perf_counter() - t0
    true = label_matrix(records, spec)
    m = evaluate_arrays(spec, pred.raw, true, pred.cut, cal, conf, ks=ks)
    kind = f"onnx-{variant}" if is_export_dir(target) else "pytorch"
    extra = {
        "target": str(target),
        "kind": kind,
        "data": desc,
        "filter": spec.ref,
        "eval_dir": str(out),
        "inference_seconds": round(seconds, 3),
        "ms_per_article": round(1000 * seconds / len(records), 3),
    }
    about = [
        ("target", f"`{target}`"),
        ("model", kind),
        ("filter", spec.ref),
        ("data", f"{desc}, {len(records)} articles"),
        ("calibration", "isotonic (calibration.json)" if cal else "none"),
        ("confidence", "conformal (confidence.json)" if conf else "none"),
        ("inference", f"{extra['ms_per_article']} ms/article"),
    ]
    return write_eval_dir(
        out, spec, records, pred.raw, true, m, f"Evaluation of {spec.ref} ({kind})", about, extra, wandb_on
    )


def ensemble_targets(
    members: Sequence[Path],
    data: str | None = None,
    split: str | None = None,
    limit: int | None = None,
    out: Path | None = None,
    variant: str = "int8",
    review_quantile: float = 0.8,
    review_threshold: float | None = None,
    ks: Sequence[int] = (10, 25, 50, 100),
    batch_size: int | None = None,
    threads: int | None = None,
    wandb_on: bool = True,
    predictors: Sequence[Any] | None = None,
) -> dict[str, Any]:
    """Average the members' calibrated outputs; their std (after clamping) is the uncertainty.
    ``predictors``: already loaded predictors for the members (None entries are loaded)."""
    from distillery.evaluate.metrics import regression_metrics  # torch, torchmetrics

    if len(members) < 2:
        raise DistilleryError("an ensemble needs at least 2 members")
    members = [Path(m) for m in members]
    given = list(predictors or [None] * len(members))
    predictors = [
        g or load_predictor(m, variant, threads=threads, batch_size=batch_size) for m, g in zip(members, given)
    ]
    spec = predictors[0].spec
    for m, p in zip(members, predictors):
        if p.spec.ref != spec.ref or p.spec.dimension_names != spec.dimension_names:
            raise DistilleryError(f"{m}: filter {p.spec.ref} differs from the first member's {spec.ref}")
    records, desc = load_eval_records(members[0], spec, data, split, limit)
    true = label_matrix(records, spec)
    out = Path(out) if out else new_eval_dir("ensemble")
    out.mkdir(parents=True, exist_ok=True)
    write_run_json(out, "ensemble", 0, members=[str(m) for m in members])
    outs, cuts, info = [], [], []
    t0 = time.perf_counter()
    for m, p in zip(members, predictors):
        pred = p.predict(records)
        cal, _ = load_calibration(artifact_dir(m), spec)
        calibrated = cal.apply(pred.raw) if cal is not None else pred.raw
        outs.append(calibrated)
        cuts.append(pred.cut)
        info.append(
            {"target": str(m), "calibrated": cal is not None, "mae": regression_metrics(calibrated, true, spec)["mae"]}
        )
    seconds = time.perf_counter() - t0
    stack = np.stack(outs)  # (M, A, N)
    mean = stack.mean(0)
    spread = np.clip(stack, 0, 10).std(0)
    cut = np.any(np.stack(cuts), 0)
    m = evaluate_arrays(
        spec,
        mean,
        true,
        cut,
        None,
        None,
        spread=spread,
        ks=ks,
        review_quantile=review_quantile,
        spread_threshold=review_threshold,
    )
    extra = {
        "kind": f"ensemble of {len(members)}",
        "members": info,
        "data": desc,
        "filter": spec.ref,
        "eval_dir": str(out),
        "inference_seconds": round(seconds, 3),
    }
    about = [
        ("members", ", ".join(f"`{i['target']}` (MAE {i['mae']:.3f})" for i in info)),
        ("filter", spec.ref),
        ("data", f"{desc}, {len(records)} articles"),
        (
            "combination",
            "mean of the members' outputs (each calibrated with its own calibration.json, if any); "
            "uncertainty = std across members",
        ),
    ]
    return write_eval_dir(
        out,
        spec,
        records,
        mean,
        true,
        m,
        f"Ensemble of {len(members)} for {spec.ref}",
        about,
        extra,
        wandb_on,
        spread=spread,
    )

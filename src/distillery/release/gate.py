"""``distillery gate``: is the candidate better than the deployed scorer on held-out oracle labels?

Both sides score the same holdout articles; every metric (``filters.spec.release_family``) is
compared with a paired bootstrap (:mod:`distillery.release.bootstrap`). PASS when the primary
metric's improvement CI reaches ``-tolerance`` (improves or ties) and no other metric regresses by
more than its tolerance with a CI that excludes no change. A side is a training run dir or
checkpoint (PyTorch, with its calibration.json), an export or hybrid dir (the ONNX runtime), or
an installed packaged scorer (``pkg:<import name>``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from distillery.errors import DistilleryError
from distillery.filters.spec import RELEASE_FAMILIES, FilterSpec
from distillery.release.bootstrap import bootstrap, score_metrics
from distillery.release.holdout import overlap, read_holdout, training_records
from distillery.runtime.manifest import ExportDir


@dataclass
class Side:
    name: str  # as given
    kind: str  # pytorch | onnx | packaged
    spec: FilterSpec
    score: Any  # records -> (A, N) calibrated scores
    data_target: Path | None  # where its training data config is recorded


def _rows_to_matrix(rows: list[dict], dims: list[str]) -> np.ndarray:
    # a hybrid's stage-0 article (blocked by the prefilter) has no scores: it is scored 0, as deployed
    return np.array([[float((r.get("scores") or {}).get(d, 0.0)) for d in dims] for r in rows])


def load_side(target: str) -> Side:
    if target.startswith("pkg:"):
        mod_name = target[4:]
        try:
            mod = importlib.import_module(mod_name)
        except ImportError as e:
            raise DistilleryError(f"{target}: cannot import the packaged scorer {mod_name!r} ({e})") from None
        model_dir = Path(mod.MODEL_DIR)
        scorer = mod.load()
        spec_dir = model_dir / "stage2" if (model_dir / ExportDir.HYBRID).is_file() else model_dir
        from distillery.filters.spec import parse_spec

        spec = parse_spec(spec_dir / ExportDir.FILTER)
        return Side(
            target,
            "packaged",
            spec,
            lambda recs: _rows_to_matrix(scorer.score_batch(recs), spec.dimension_names),
            spec_dir,
        )
    p = Path(target)
    if not p.exists():
        raise DistilleryError(f"{p}: no such run dir, export dir or checkpoint (or give pkg:<import name>)")
    if ExportDir(p).is_export() or ExportDir(p).is_hybrid():
        from distillery.runtime.hybrid import load_scorer

        scorer = load_scorer(p)
        spec = scorer.spec
        return Side(
            target, "onnx", spec, lambda recs: _rows_to_matrix(scorer.score_batch(recs), spec.dimension_names), p
        )
    from distillery.evaluate.evaluation import load_calibration
    from distillery.evaluate.predict import artifact_dir, load_predictor

    pred = load_predictor(p)
    cal, _ = load_calibration(artifact_dir(p), pred.spec)

    def score(recs: list[dict]) -> np.ndarray:
        raw = pred.predict(recs).raw
        return np.clip(cal.apply(raw) if cal is not None else raw, 0, 10)

    return Side(target, "pytorch", pred.spec, score, p)


def judge(table: dict[str, dict[str, Any]], spec: FilterSpec) -> tuple[bool, list[str]]:
    """Mark each metric ok / regressed / n/a; returns (passed, failing metric names)."""
    rel = spec.release
    failing = []
    for name, row in table.items():
        higher = RELEASE_FAMILIES[row["family"]][0]
        sign = 1.0 if higher else -1.0
        d = row["delta"]
        imp, lo, hi = sign * d.value, min(sign * d.low, sign * d.high), max(sign * d.low, sign * d.high)
        tol = rel.tolerance_for(name, row["family"])
        row.update(improvement=imp, improvement_low=lo, improvement_high=hi, tolerance=tol, primary=name == rel.primary)
        if not np.isfinite(imp) or not np.isfinite(hi):
            row["verdict"] = "n/a"
        elif name == rel.primary:
            row["verdict"] = "ok" if hi >= -tol else "FAIL"
        else:
            row["verdict"] = "FAIL" if (imp < -tol and hi < 0) else "ok"
        if row["verdict"] == "FAIL":
            failing.append(name)
    if table.get(rel.primary, {}).get("verdict") == "n/a":
        failing.append(rel.primary)
    return not failing, failing


def run_gate(
    candidate: str, baseline: str, data: str, skip_overlap_check: bool = False, agreement: str | None = None
) -> dict[str, Any]:
    cand, base = load_side(candidate), load_side(baseline)
    spec = cand.spec
    if base.spec.ref != spec.ref or base.spec.dimension_names != spec.dimension_names:
        raise DistilleryError(
            f"{baseline} scores {base.spec.ref} {base.spec.dimension_names}, the candidate {spec.ref} "
            f"{spec.dimension_names}: a gate compares scorers of one filter"
        )
    records, info = read_holdout(data, spec)
    over: dict[str, Any] | None = None
    if not skip_overlap_check:
        tr = training_records(cand.data_target, spec) if cand.data_target is not None else None
        if tr is None:
            raise DistilleryError(
                f"{candidate}: its training data is not recorded, so overlap with {data} cannot be checked "
                "(--skip-overlap-check to gate anyway; the report says so)"
            )
        over = {**overlap(records, tr[0]), "training_data": tr[1]}
        if over["count"]:
            raise DistilleryError(
                f"{candidate} was trained on {over['count']} of the {len(records)} holdout records "
                f"({over['by_id']} by id, {over['by_content']} by content hash; e.g. {over['examples'][:3]}): "
                f"{data} is not held out for this candidate"
            )
    from distillery.data.split import label_matrix

    truth = label_matrix(records, spec)
    pc, pb = cand.score(records), base.score(records)
    rel = spec.release
    ks = [k for k in rel.recall_k if k < len(records)] or [len(records)]
    metrics = score_metrics(
        spec.dimension_names, [(t.name, t.threshold) for t in spec.tiers], ks, spec.tiers[0].threshold
    )
    table = bootstrap(metrics, spec.weighted_average, truth, [pc, pb], rel.n_boot, rel.seed, rel.level)
    passed, failing = judge(table, spec)
    from distillery.evaluate.floor import floor_line, load_agreement

    floor = floor_line(table["mae"]["scorers"][0].value, load_agreement(agreement, [data], spec.ref), "candidate MAE")
    return {
        "passed": passed,
        "failing": failing,
        "candidate": {"target": candidate, "kind": cand.kind},
        "baseline": {"target": baseline, "kind": base.kind},
        "filter": spec.ref,
        "holdout": info,
        "overlap": over,
        "release": rel.model_dump(),
        "table": table,
        "floor": floor,
    }

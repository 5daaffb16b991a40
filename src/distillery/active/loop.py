"""One active-learning round, end to end, resumable at each step.

Steps (each writes its output into the round dir ``OUT`` and is recorded in ``OUT/state.json``
when it finishes; a re-run skips finished steps whose output exists and resumes at the step a
killed or failed run was in; a step that runs again invalidates the steps after it):

1. ``predict``  ``pool_predictions.jsonl``: the current model scores the unlabelled pool
   (:func:`distillery.evaluate.predict.load_predictor` + :func:`distillery.runtime.scoring.finalize`:
   the run's calibration.json and conformal confidence.json apply when present).
2. ``select``   ``candidates.jsonl``: pool articles not already labelled (content hash against the
   run's train/val/test and within the pool), picked by predicted weighted average >= threshold
   and/or by uncertainty (conformal interval width), capped by ``--budget``
   (:mod:`distillery.active.selection`).
3. ``label``    ``labelled.jsonl``: the candidates labelled by the oracle through ``distillery
   score``'s machinery (the ledger: a paid answer is never lost or paid twice), with a cost
   estimate first, ``--max-cost`` and a confirmation.
4. ``merge``    ``data/{train,val,test}.jsonl``: the run's splits as they were + the new records
   split stratified by tier with the run's ratios (old val/test stay in place).
5. ``retrain``  ``retrain/``: ``distillery train`` with the run's own overrides on ``data/``.
6. ``report``   ``report.md`` + ``report.json``: tier mix before/after, the candidates' tiers, val
   (and test) metrics of the old and the new model on the same new splits, oracle cost and calls
   (:mod:`distillery.active.report`).

Steps 1-5 are in :mod:`distillery.active.steps`; what they share (options, state, the run being
improved) in :mod:`distillery.active.context`. This module drives them: :func:`run_round`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from distillery.active.context import STEPS, ActiveOptions, RoundContext, file_sha256
from distillery.active.report import step_report
from distillery.active.steps import (
    label_plan,
    print_estimate,
    step_label,
    step_merge,
    step_predict,
    step_retrain,
    step_select,
)
from distillery.errors import DistilleryError

STEP_FUNCTIONS: dict[str, Callable[[RoundContext], dict]] = {
    "predict": step_predict,
    "select": step_select,
    "label": step_label,
    "merge": step_merge,
    "retrain": step_retrain,
    "report": step_report,
}


def step_options(ctx: RoundContext, step: str) -> dict:
    """The options a step's output depends on (recorded; a re-run with others is an error)."""
    o = ctx.opts
    return {
        "predict": {"run_dir": str(ctx.run_dir.path.resolve()), "pool_sha256": ctx.pool_sha},
        "select": {"select": o.mode, "threshold": o.threshold, "uncertain_top": o.uncertain_top, "budget": o.budget},
        "label": {},
        "merge": {},
        "retrain": {"train_overrides": list(o.train_overrides)},
        "report": {},
    }[step]


def check_options(ctx: RoundContext, step: str, recorded: dict) -> None:
    now = step_options(ctx, step)
    for k, v in recorded.items():
        if k in now and now[k] != v:
            flag = {"run_dir": "RUN_DIR", "pool_sha256": "--pool (its content)"}.get(k, "--" + k.replace("_", "-"))
            raise DistilleryError(
                f"{ctx.out}: step {step!r} already finished with {flag} = {v!r} (now {now[k]!r}); use the same "
                f"options, --redo {step} to redo it and the steps after it, or another --out"
            )


def run_round(opts: ActiveOptions) -> dict[str, Any]:
    """Run (or resume) one round; returns each step's summary (and the estimate for a dry run)."""
    ctx = RoundContext(opts)
    o = opts
    if not Path(o.pool).is_file():
        raise DistilleryError(f"--pool {o.pool}: no such file")
    if o.redo and o.redo not in STEPS:
        raise DistilleryError(f"--redo must be one of {', '.join(STEPS)}, got {o.redo!r}")
    _ = ctx.run_cfg, ctx.spec  # fail early on a bad run dir or filter
    ctx.oracle_config()  # ... and on bad oracle flags, before the long steps
    if o.mode != "threshold":
        ctx.confidence_or_error()
    ctx.pool_sha = file_sha256(Path(o.pool))
    ctx.out.mkdir(parents=True, exist_ok=True)
    if o.redo:
        ctx.state.drop_from(o.redo)
    fresh = False
    results: dict[str, Any] = {}
    last = STEPS.index("select") if o.dry_run else len(STEPS) - 1
    for i, step in enumerate(STEPS[: last + 1]):
        rec = ctx.state.step(step)
        if rec is not None and not fresh:
            check_options(ctx, step, rec["options"])
            if ctx.outputs(step).is_file():
                ctx.say(f"[{i + 1}/{len(STEPS)}] {step}: done before ({ctx.outputs(step)})")
                results[step] = rec["summary"]
                continue
        fresh = True
        ctx.state.drop_from(step)
        t0 = time.perf_counter()
        summary = STEP_FUNCTIONS[step](ctx)
        summary["seconds"] = round(time.perf_counter() - t0, 1)
        ctx.state.finish(step, step_options(ctx, step), summary)
        results[step] = summary
    if o.dry_run:
        results["estimate"] = label_plan(ctx)["estimate"]
        print_estimate(ctx, results["estimate"])
        ctx.say(f"dry run: nothing sent; the same command without --dry-run continues at step 'label' ({ctx.out})")
    return results

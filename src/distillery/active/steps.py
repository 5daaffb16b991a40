"""The resumable steps of an active-learning round, 1 to 5 (``report``: :mod:`distillery.active.report`):
predict the pool, select candidates, oracle-label them, merge them into the run's splits, retrain.
Each takes the round's :class:`~distillery.active.context.RoundContext` and returns its summary
(recorded in ``state.json``)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import yaml

from distillery.active.context import SPLITS, STEPS, RoundContext, read_jsonl
from distillery.active.report import oracle_accounting
from distillery.active.selection import select_candidates
from distillery.data.records import read_records, write_jsonl
from distillery.data.split import is_synthetic, stratified_split
from distillery.errors import DistilleryError
from distillery.evaluate.evaluation import load_calibration
from distillery.evaluate.predict import artifact_dir
from distillery.oracle.ledger import Ledger
from distillery.oracle.plan import cost_estimate, plan_jobs, scoring_jobs
from distillery.oracle.prepare import content_hash
from distillery.oracle.run import load_articles, score
from distillery.rundir import RunDir
from distillery.runtime.scoring import finalize


def hydra_value(value: Any) -> str:
    """A value for a Hydra override: as is when plain, else single-quoted (spaces, commas, brackets...)."""
    text = str(value)
    if re.fullmatch(r"[\w./~+@:-]+", text):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


# ---- step 1: predict ------------------------------------------------------------------------
def step_predict(ctx: RoundContext) -> dict:
    spec = ctx.predictor.spec
    articles, source, _ = load_articles(spec, [str(ctx.opts.pool)], None, 0)
    if not articles:
        raise DistilleryError(f"--pool {ctx.opts.pool}: no articles")
    cal, conf = load_calibration(artifact_dir(ctx.run_dir.path), spec)
    ctx.say(
        f"[1/{len(STEPS)}] predict: scoring {len(articles)} pool articles with {ctx.run_dir.path}"
        + (" (calibrated)" if cal else "")
        + (" + conformal confidence" if conf else "")
    )
    pred = ctx.predictor.predict(articles)
    fin = finalize(spec, pred.raw, cal, conf, pred.cut)
    c = fin.get("confidence")
    rows = []
    for i, a in enumerate(articles):
        row: dict[str, Any] = {
            "index": i,
            "id": a.get("id"),
            "content_sha": content_hash(a),
            "scores": {d: round(float(v), 4) for d, v in zip(spec.dimension_names, fin["scores"][i])},
            "weighted_average": round(float(fin["weighted_average"][i]), 4),
            "tier": str(fin["tier"][i]),
            "cut": bool(pred.cut[i]),
        }
        if c is not None:
            row.update(
                wa_halfwidth=round(float(c["wa_halfwidth"][i]), 4),
                interval=[round(float(c["wa_low"][i]), 4), round(float(c["wa_high"][i]), 4)],
                confidence=round(float(c["confidence"][i]), 4),
                needs_review=bool(c["needs_review"][i]),
            )
        rows.append(row)
    write_jsonl(ctx.outputs("predict"), rows)
    tiers = Counter(r["tier"] for r in rows)
    return {
        "pool": str(ctx.opts.pool),
        "articles": len(rows),
        "calibrated": cal is not None,
        "confidence": conf is not None,
        "predicted_tiers": {t: tiers.get(t, 0) for t in spec.tier_names},
        "needs_review": sum(bool(r.get("needs_review")) for r in rows),
    }


# ---- step 2: select -----------------------------------------------------------------------
def step_select(ctx: RoundContext) -> dict:
    o = ctx.opts
    rows = read_jsonl(ctx.outputs("predict"))
    articles, _, _ = load_articles(ctx.spec, [str(o.pool)], None, 0)
    if len(articles) != len(rows):
        raise DistilleryError(
            f"{o.pool} has {len(articles)} articles but {ctx.outputs('predict')} {len(rows)}: use --redo predict"
        )
    old = ctx.old_splits()
    known = {content_hash(r) for s in SPLITS for r in old[s]}
    picked, counts = select_candidates(rows, known, ctx.spec, o.mode, o.threshold, o.uncertain_top, o.budget)
    keep = ("weighted_average", "tier", "wa_halfwidth", "needs_review", "interval")
    cands = [
        {
            **articles[r["index"]],
            "active": {
                "rank": k,
                "reasons": r["reasons"],
                "pool_index": r["index"],
                "predicted": {x: r[x] for x in keep if x in r},
            },
        }
        for k, r in enumerate(picked)
    ]
    write_jsonl(ctx.outputs("select"), cands)
    tiers = Counter(r["tier"] for r in picked)
    ctx.say(
        f"[2/{len(STEPS)}] select ({o.mode}, threshold {o.threshold}"
        + (f", top {o.uncertain_top} uncertain" if o.uncertain_top is not None else "")
        + (f", budget {o.budget}" if o.budget is not None else "")
        + f"): {counts['pool']} in the pool, "
        f"{counts.get('already_labelled', 0)} already labelled, {counts.get('pool_duplicates', 0)} duplicates "
        f"in the pool; picked {counts['by_threshold']} by threshold, {counts['by_uncertainty']} by "
        f"uncertainty -> {counts['candidates']} candidates"
    )
    if not cands:
        raise DistilleryError(
            f"no candidates selected from {o.pool} (lower --threshold, or add --select uncertainty / --uncertain-top K)"
        )
    return {
        "counts": counts,
        "predicted_tiers": {t: tiers.get(t, 0) for t in ctx.spec.tier_names},
        "labelled_before": {s: len(old[s]) for s in SPLITS},
    }


# ---- step 3: label ------------------------------------------------------------------------
def label_plan(ctx: RoundContext) -> dict:
    """The candidates' oracle jobs (as ``distillery score`` makes them), what the ledger already
    has, and the cost estimate."""
    o = ctx.opts.oracle
    cfg, prices = ctx.oracle_config()
    articles, _, _ = load_articles(ctx.spec, [str(ctx.outputs("select"))], None, 0)
    scoring = scoring_jobs(ctx.spec, cfg, articles)
    plan = plan_jobs(scoring.jobs, Ledger(ctx.ledger_path, readonly=True), cfg, o.ignore_cache, o.retry_failed)
    est = cost_estimate(ctx.spec, cfg, prices, plan.pending)
    est.update(
        cached=plan.cached,
        given_up_before=plan.given_up,
        blocked=len(scoring.blocked),
        model=cfg.model,
        base_url=cfg.public_dict()["base_url"],
        prices=prices.source,
    )
    return {
        "cfg": cfg,
        "prices": prices,
        "jobs": scoring.jobs,
        "pending": plan.pending,
        "estimate": est,
        "max_attempts": 1 + cfg.invalid_retries,
    }


def print_estimate(ctx: RoundContext, est: dict) -> None:
    note = "" if est["price_known"] else " (no price known for this model: pass --price-in/--price-out)"
    ctx.say(
        f"oracle: {est['articles']} to send to {est['model']} at {est['base_url']}, {est['cached']} already "
        f"in the ledger, {est['blocked']} blocked by the prefilter; estimated cost "
        f"${est['typical']['cost_usd']:.4f} typical, ${est['at most']['cost_usd']:.4f} at most{note}"
    )


def step_label(ctx: RoundContext) -> dict:
    o = ctx.opts
    plan = label_plan(ctx)
    est = plan["estimate"]
    ctx.say(f"[3/{len(STEPS)}] label: {len(plan['jobs'])} candidates for the oracle")
    print_estimate(ctx, est)
    if plan["pending"]:
        if o.oracle.max_cost is not None and est["typical"]["cost_usd"] > o.oracle.max_cost:
            raise DistilleryError(
                f"estimated oracle cost ${est['typical']['cost_usd']:.4f} for "
                f"{est['articles']} articles exceeds --max-cost ${o.oracle.max_cost:g}; nothing was "
                "sent (raise --max-cost or lower --budget)"
            )
        if not o.yes:
            confirm(est)
    if plan["jobs"]:  # with nothing pending this only writes labelled.jsonl from the ledger
        score(ctx.score_options())
    # what the ledger has now, for every candidate
    ledger = Ledger(ctx.ledger_path, readonly=True)
    missing, failed = [], []
    for job in plan["jobs"]:
        st = ledger.state(job.key)
        if st.ok:
            continue
        (failed if len(st.invalid) >= plan["max_attempts"] else missing).append(job)
    scored = ctx.oracle_out / "labelled.jsonl"
    labelled = read_jsonl(scored) if scored.is_file() else []
    if missing and not o.allow_missing:
        raise DistilleryError(
            f"{len(missing)} of {len(plan['jobs'])} candidates have no oracle answer yet "
            f"(request errors or a stopped run, see {ctx.oracle_out / 'summary.json'}); "
            "re-run the same command to continue (paid answers are in the ledger), or add "
            "--allow-missing to go on without them"
        )
    write_jsonl(ctx.outputs("label"), labelled)
    acct = oracle_accounting(ledger, [j.key for j in plan["jobs"]])
    ctx.say(
        f"labelled {len(labelled)}, failed {len(failed)} (invalid answers, in "
        f"{ctx.oracle_out / 'failed.jsonl'}), missing {len(missing)}, blocked {est['blocked']}; "
        f"{acct['paid_calls']} paid oracle calls, ${acct['cost_usd']:.4f}"
    )
    return {
        "candidates": len(plan["jobs"]) + est["blocked"],
        "labelled": len(labelled),
        "failed": len(failed),
        "missing": len(missing),
        "blocked": est["blocked"],
        "estimate": est,
        "oracle": acct,
        "ledger": str(ctx.ledger_path),
        "keys": [j.key for j in plan["jobs"]],
    }


def confirm(est: dict) -> None:
    if not sys.stdin or not sys.stdin.isatty():
        raise DistilleryError("sending to the oracle needs a confirmation: pass --yes (stdin is not a terminal)")
    answer = (
        input(f"send {est['articles']} articles to {est['model']} for about ${est['typical']['cost_usd']:.4f}? [y/N] ")
        .strip()
        .lower()
    )
    if answer not in ("y", "yes"):
        raise DistilleryError("not confirmed; nothing was sent")


# ---- step 4: merge ------------------------------------------------------------------------
def step_merge(ctx: RoundContext) -> dict:
    old = ctx.old_splits()
    known = {content_hash(r) for s in SPLITS for r in old[s]}
    new = []
    for r in read_records([ctx.outputs("label")], ctx.spec).records:
        h = content_hash(r)
        if h not in known:
            known.add(h)
            new.append(r)
    data = ctx.run_cfg.get("data") or {}
    fractions = list(data.get("split") or [0.8, 0.1, 0.1])
    seed = int(data.get("split_seed") or 0)
    parts = stratified_split(new, ctx.spec, fractions, seed)
    for s in SPLITS:
        write_jsonl(ctx.data_dir / f"{s}.jsonl", old[s] + parts[s])
    ctx.say(
        f"[4/{len(STEPS)}] merge: + {len(new)} labelled records -> "
        + ", ".join(f"{s} {len(old[s])} + {len(parts[s])}" for s in SPLITS)
        + f" ({ctx.data_dir})"
    )
    return {
        "old": {s: len(old[s]) for s in SPLITS},
        "added": {s: len(parts[s]) for s in SPLITS},
        "fractions": fractions,
        "split_seed": seed,
    }


# ---- step 5: retrain ----------------------------------------------------------------------
def train_overrides(ctx: RoundContext) -> list[str]:
    """The run's own overrides (minus its data and dirs) + the new data + --train-overrides."""
    f = ctx.run_dir.hydra_dir / "overrides.yaml"
    own = list(yaml.safe_load(f.read_text()) or []) if f.is_file() else []
    data_dir = ctx.data_dir.resolve()
    ours = [
        "data=jsonl",
        f"data.path={hydra_value(data_dir)}",
        f"hydra.run.dir={hydra_value(ctx.retrain_dir.resolve())}",
    ]
    if old_has_synthetic_eval(ctx):
        ours.append("++data.synthetic_in_eval=true")  # the run's synthetic val/test stay where they were
    extra = list(ctx.opts.train_overrides)

    def key(o: str) -> str:
        return o.split("=", 1)[0].lstrip("+~")

    replaced = {key(o) for o in ours + extra} | {"data.source", "ckpt_path"}
    kept = [o for o in own if key(o) not in replaced]
    return kept + ours + extra


def old_has_synthetic_eval(ctx: RoundContext) -> bool:
    for s in ("val", "test"):
        p = ctx.data_dir / f"{s}.jsonl"
        if p.is_file() and any(is_synthetic(r) for r in read_jsonl(p)):
            return True
    return False


def step_retrain(ctx: RoundContext) -> dict:
    overrides = train_overrides(ctx)
    if ctx.retrain_dir.exists():  # an interrupted or redone retrain starts afresh
        shutil.rmtree(ctx.retrain_dir)
    cmd = [sys.executable, "-m", "distillery.cli", "train", *overrides]
    log = ctx.out / "retrain.log"
    ctx.say(
        f"[5/{len(STEPS)}] retrain: distillery train {' '.join(shlex.quote(x) for x in overrides)}\n      (log: {log})"
    )
    t0 = time.perf_counter()
    with open(log, "w", encoding="utf-8") as fh:
        fh.write("$ " + " ".join(shlex.quote(x) for x in cmd) + "\n")
        fh.flush()
        rc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=os.environ.copy()).returncode
    tail = [x for x in log.read_text(encoding="utf-8", errors="replace").splitlines() if x.strip()]
    if rc != 0:  # the task's own "error: ..." line, else Hydra's message (its first line), else the last line
        body = tail[1:]
        why = next((x for x in reversed(body) if x.startswith("error:")), None)
        if why is None:
            why = body[-1] if any(x.startswith("Traceback") for x in body) or not body else body[0]
        raise DistilleryError(f"retrain failed (exit {rc}): {why.removeprefix('error: ')[:300]} (full log: {log})")
    metrics = RunDir(ctx.retrain_dir).metrics()
    ctx.say("      " + "\n      ".join(x for x in tail[-2:]))
    return {
        "overrides": overrides,
        "train_seconds": round(time.perf_counter() - t0, 1),
        "val_mae": metrics["val"]["mae"],
        "run_dir": str(ctx.retrain_dir),
    }

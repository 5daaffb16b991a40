"""One active-learning round, end to end, resumable at each step.

Steps (each writes its output into the round dir ``OUT`` and is recorded in ``OUT/state.json``
when it finishes; a re-run skips finished steps whose output exists and resumes at the step a
killed or failed run was in; a step that runs again invalidates the steps after it):

1. ``predict``  ``pool_predictions.jsonl``: the current model scores the unlabelled pool
   (:func:`distillery.evaluate.predict.load_predictor` + :func:`distillery.runtime.onnx_scorer.finalize`:
   the run's calibration.json and conformal confidence.json apply when present).
2. ``select``   ``candidates.jsonl``: pool articles not already labelled (content hash against the
   run's train/val/test and within the pool), picked by predicted weighted average >= threshold
   and/or by uncertainty (conformal interval width), capped by ``--budget``.
3. ``label``    ``labelled.jsonl``: the candidates labelled by the oracle through ``distillery
   score``'s machinery (the ledger: a paid answer is never lost or paid twice), with a cost
   estimate first, ``--max-cost`` and a confirmation.
4. ``merge``    ``data/{train,val,test}.jsonl``: the run's splits as they were + the new records
   split stratified by tier with the run's ratios (old val/test stay in place).
5. ``retrain``  ``retrain/``: ``distillery train`` with the run's own overrides on ``data/``.
6. ``report``   ``report.md`` + ``report.json``: tier mix before/after, the candidates' tiers, val
   (and test) metrics of the old and the new model on the same new splits, oracle cost and calls.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path
from typing import Any, Sequence


from distillery.errors import DistilleryError

STEPS = ("predict", "select", "label", "merge", "retrain", "report")
SELECT_MODES = ("threshold", "uncertainty", "both")
STATE = "state.json"
SPLITS = ("train", "val", "test")


@dataclass
class ActiveOptions:
    run_dir: Path
    pool: Path
    out: Path
    threshold: float = 5.0
    uncertain_top: int | None = None
    select: str | None = None  # None: "threshold", or "both" when uncertain_top is given
    budget: int | None = None
    max_cost: float | None = None
    yes: bool = False
    dry_run: bool = False  # predict + select + the cost estimate, nothing sent
    redo: str | None = None  # redo this step and the ones after it
    allow_missing: bool = False  # go on when some candidates have no answer yet
    # the oracle, as for `distillery score`
    preset: str | None = None
    flags: dict[str, Any] = field(default_factory=dict)
    overrides: list[str] = field(default_factory=list)
    ledger: str | None = None
    filters_dir: list[str] = field(default_factory=list)
    # retraining and inference
    train_overrides: list[str] = field(default_factory=list)
    batch_size: int | None = None
    threads: int | None = None
    quiet: bool = False

    @property
    def mode(self) -> str:
        return self.select or ("both" if self.uncertain_top is not None else "threshold")


# ---- small helpers ------------------------------------------------------------------------------
def _read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def tier_counts(spec: Any, records: Sequence[dict]) -> dict[str, int]:
    """Records per tier of their labels (clamp -> weighted average -> gatekeepers -> tier)."""
    from distillery.data.split import label_matrix

    c = Counter(spec.tier(spec.weighted_average(label_matrix(records, spec))).tolist()) if records else Counter()
    return {t: int(c.get(t, 0)) for t in spec.tier_names}


def tier_mix(counts: dict[str, int]) -> dict[str, Any]:
    n = sum(counts.values())
    return {"n": n, "counts": counts, "share": {t: (c / n if n else float("nan")) for t, c in counts.items()}}


def hydra_value(value: Any) -> str:
    """A value for a Hydra override: as is when plain, else single-quoted (spaces, commas, brackets...)."""
    text = str(value)
    if re.fullmatch(r"[\w./~+@:-]+", text):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


class State:
    """``OUT/state.json``: which steps finished, with the options they ran with and a summary."""

    def __init__(self, out: Path):
        self.path = out / STATE
        self.data: dict[str, Any] = json.loads(self.path.read_text()) if self.path.is_file() else {"format": 1,
                                                                                                  "steps": {}}

    def step(self, name: str) -> dict | None:
        return self.data["steps"].get(name)

    def finish(self, name: str, options: dict, summary: dict) -> None:
        from distillery.rundir import write_json

        self.data["steps"][name] = {"finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "options": options,
                                    "summary": summary}
        write_json(self.path, self.data)

    def drop_from(self, name: str) -> None:
        from distillery.rundir import write_json

        for s in STEPS[STEPS.index(name):]:
            self.data["steps"].pop(s, None)
        if self.path.parent.is_dir():
            write_json(self.path, self.data)


# ---- selection (pure) ----------------------------------------------------------------------------
def tier_margin(spec: Any, wa: float) -> float:
    """Distance of a weighted average to the nearest tier boundary (small: the tier is uncertain)."""
    edges = [t.threshold for t in spec.tiers if t.threshold > 0]
    return min((abs(wa - e) for e in edges), default=float("inf"))


def select_candidates(rows: Sequence[dict], known: set[str], spec: Any, mode: str = "threshold",
                      threshold: float = 5.0, uncertain_top: int | None = None,
                      budget: int | None = None) -> tuple[list[dict], dict[str, int]]:
    """Pick pool predictions to label. ``rows``: ``pool_predictions.jsonl`` rows (``content_sha``,
    ``weighted_average``; ``wa_halfwidth`` / ``needs_review`` for uncertainty). Returns the picked
    rows (each with ``reasons``), in priority order, and the counts.

    Articles whose content hash is in ``known`` (already labelled) or repeats an earlier pool
    article are never picked. ``threshold``: predicted weighted average >= threshold, highest
    first. ``uncertainty``: the ``uncertain_top`` widest conformal intervals (ties: closest to a
    tier boundary first), or every ``needs_review`` article when no top-k is given. ``both``: the
    union, interleaved one from each list, so that ``budget`` (the first N) takes from both.
    """
    if mode not in SELECT_MODES:
        raise DistilleryError(f"--select must be one of {', '.join(SELECT_MODES)}, got {mode!r}")
    counts = Counter(pool=len(rows))
    seen: set[str] = set()
    eligible = []
    for r in rows:
        h = r["content_sha"]
        if h in known:
            counts["already_labelled"] += 1
        elif h in seen:
            counts["pool_duplicates"] += 1
        else:
            seen.add(h)
            eligible.append(r)
    counts["eligible"] = len(eligible)
    by_threshold: list[dict] = []
    by_uncertainty: list[dict] = []
    if mode in ("threshold", "both"):
        by_threshold = sorted((r for r in eligible if r["weighted_average"] >= threshold),
                              key=lambda r: (-r["weighted_average"], r["index"]))
    if mode in ("uncertainty", "both"):
        if any(r.get("wa_halfwidth") is None for r in eligible):
            raise DistilleryError("uncertainty selection needs conformal confidence (confidence.json)")
        ranked = sorted(eligible, key=lambda r: (-r["wa_halfwidth"], tier_margin(spec, r["weighted_average"]),
                                                 r["index"]))
        by_uncertainty = (ranked[:uncertain_top] if uncertain_top is not None
                          else [r for r in ranked if r["needs_review"]])
    counts["by_threshold"], counts["by_uncertainty"] = len(by_threshold), len(by_uncertainty)
    reasons: dict[int, list[str]] = {}
    order: list[dict] = []
    for pair in zip_longest(by_threshold, by_uncertainty):
        for reason, r in zip(("threshold", "uncertainty"), pair):
            if r is None:
                continue
            if r["index"] not in reasons:
                reasons[r["index"]] = []
                order.append(r)
            reasons[r["index"]].append(reason)
    counts["by_both"] = sum(len(v) == 2 for v in reasons.values())
    counts["selected"] = len(order)
    if budget is not None:
        order = order[: max(0, int(budget))]
    counts["over_budget"] = counts["selected"] - len(order)
    counts["candidates"] = len(order)
    return [{**r, "reasons": reasons[r["index"]]} for r in order], dict(counts)


# ---- the round ----------------------------------------------------------------------------------
class Round:
    def __init__(self, opts: ActiveOptions):
        self.opts = opts
        self.run_dir = Path(opts.run_dir)
        self.out = Path(opts.out)
        self.state = State(self.out)
        self._predictor: Any = None
        self._run_cfg: dict | None = None
        self._spec: Any = None

    # ---- printing -----------------------------------------------------------------------------
    def say(self, msg: str) -> None:
        if not self.opts.quiet:
            print(msg, flush=True)

    # ---- the run being improved ---------------------------------------------------------------
    @property
    def run_cfg(self) -> dict:
        if self._run_cfg is None:
            from omegaconf import OmegaConf

            f = self.run_dir / "config.yaml"
            if not f.is_file() or not (self.run_dir / "checkpoint" / "distillery.json").is_file():
                raise DistilleryError(f"{self.run_dir}: not a finished training run dir (needs config.yaml and "
                                      "checkpoint/)")
            self._run_cfg = OmegaConf.to_container(OmegaConf.load(f), resolve=False)
        return self._run_cfg

    @property
    def predictor(self) -> Any:
        if self._predictor is None:
            from distillery.evaluate.predict import load_predictor

            self._predictor = load_predictor(self.run_dir, batch_size=self.opts.batch_size, threads=self.opts.threads)
        return self._predictor

    @property
    def filter_dirs(self) -> list[str]:
        return [*self.opts.filters_dir, *(self.run_cfg.get("filters_dirs") or [])]

    @property
    def spec(self) -> Any:
        """The filter as the oracle sees it (prompt, prefilter): the run's filter from the filters dirs;
        it must have the checkpoint's dimensions."""
        if self._spec is None:
            from distillery.filters.registry import load_filter
            from distillery.filters.spec import parse_spec

            ckpt = parse_spec(self.run_dir / "checkpoint" / "filter.yaml")
            try:
                spec = load_filter(ckpt.ref, self.filter_dirs)
            except DistilleryError as e:
                raise DistilleryError(f"the run's filter {ckpt.ref}: {e} (add --filters-dir)") from None
            if spec.dimension_names != ckpt.dimension_names or spec.weights.tolist() != ckpt.weights.tolist():
                raise DistilleryError(f"filter {spec.ref} at {spec.path} differs from the one the run trained with "
                                      f"({self.run_dir / 'checkpoint' / 'filter.yaml'}): dimensions or weights changed")
            self._spec = spec
        return self._spec

    def old_splits(self) -> dict[str, list[dict]]:
        """The run's labelled train/val/test, loaded the way the run loaded them."""
        from omegaconf import OmegaConf

        from distillery.data.datamodule import load_split_records
        from distillery.paths import cache_dir

        data = self.run_cfg.get("data")
        if not data:
            raise DistilleryError(f"{self.run_dir / 'config.yaml'}: no data config recorded")
        cache = (self.run_cfg.get("paths") or {}).get("cache_dir")
        cache_path = Path(str(cache)) if cache and "${" not in str(cache) else cache_dir()
        splits, _ = load_split_records(OmegaConf.create(data), self.spec, cache_path)
        return {s: list(splits.get(s) or []) for s in SPLITS}

    # ---- driving the steps --------------------------------------------------------------------
    def outputs(self, step: str) -> Path:
        return {"predict": self.out / "pool_predictions.jsonl", "select": self.out / "candidates.jsonl",
                "label": self.out / "labelled.jsonl", "merge": self.out / "data" / "train.jsonl",
                "retrain": self.out / "retrain" / "checkpoint" / "distillery.json",
                "report": self.out / "report.json"}[step]

    def step_options(self, step: str) -> dict:
        o = self.opts
        return {"predict": {"run_dir": str(self.run_dir.resolve()), "pool_sha256": self.pool_sha},
                "select": {"select": o.mode, "threshold": o.threshold, "uncertain_top": o.uncertain_top,
                           "budget": o.budget},
                "label": {}, "merge": {},
                "retrain": {"train_overrides": list(o.train_overrides)},
                "report": {}}[step]

    def check_options(self, step: str, recorded: dict) -> None:
        now = self.step_options(step)
        for k, v in recorded.items():
            if k in now and now[k] != v:
                flag = {"run_dir": "RUN_DIR", "pool_sha256": "--pool (its content)"}.get(k, "--" + k.replace("_", "-"))
                raise DistilleryError(
                    f"{self.out}: step {step!r} already finished with {flag} = {v!r} (now {now[k]!r}); use the same "
                    f"options, --redo {step} to redo it and the steps after it, or another --out")

    def run(self) -> dict[str, Any]:
        o = self.opts
        if not Path(o.pool).is_file():
            raise DistilleryError(f"--pool {o.pool}: no such file")
        if o.redo and o.redo not in STEPS:
            raise DistilleryError(f"--redo must be one of {', '.join(STEPS)}, got {o.redo!r}")
        _ = self.run_cfg, self.spec  # fail early on a bad run dir or filter
        self.oracle_config()  # ... and on bad oracle flags, before the long steps
        if o.mode != "threshold":
            self.confidence_or_error()
        self.pool_sha = file_sha256(Path(o.pool))
        self.out.mkdir(parents=True, exist_ok=True)
        if o.redo:
            self.state.drop_from(o.redo)
        fresh = False
        results: dict[str, Any] = {}
        last = STEPS.index("select") if o.dry_run else len(STEPS) - 1
        for i, step in enumerate(STEPS[: last + 1]):
            rec = self.state.step(step)
            if rec is not None and not fresh:
                self.check_options(step, rec["options"])
                if self.outputs(step).is_file():
                    self.say(f"[{i + 1}/{len(STEPS)}] {step}: done before ({self.outputs(step)})")
                    results[step] = rec["summary"]
                    continue
            fresh = True
            self.state.drop_from(step)
            t0 = time.perf_counter()
            summary = getattr(self, f"step_{step}")()
            summary["seconds"] = round(time.perf_counter() - t0, 1)
            self.state.finish(step, self.step_options(step), summary)
            results[step] = summary
        if o.dry_run:
            results["estimate"] = self.label_plan()["estimate"]
            self.print_estimate(results["estimate"])
            self.say(f"dry run: nothing sent; the same command without --dry-run continues at step 'label' "
                     f"({self.out})")
        return results

    # ---- step 1: predict ------------------------------------------------------------------------
    def confidence_or_error(self):
        from distillery.evaluate.evaluation import load_calibration
        from distillery.evaluate.predict import artifact_dir

        _, conf = load_calibration(artifact_dir(self.run_dir), self.spec)
        if conf is None:
            raise DistilleryError(f"--select {self.opts.mode} needs the run's conformal confidence: run "
                                  f"`distillery calibrate {self.run_dir}` first (writes confidence.json)")
        return conf

    def step_predict(self) -> dict:
        from distillery.evaluate.evaluation import load_calibration
        from distillery.evaluate.predict import artifact_dir
        from distillery.runtime.scoring import finalize
        from distillery.oracle.prepare import content_hash
        from distillery.oracle.run import load_articles

        spec = self.predictor.spec
        articles, source, _ = load_articles(spec, [str(self.opts.pool)], None, 0)
        if not articles:
            raise DistilleryError(f"--pool {self.opts.pool}: no articles")
        cal, conf = load_calibration(artifact_dir(self.run_dir), spec)
        self.say(f"[1/{len(STEPS)}] predict: scoring {len(articles)} pool articles with {self.run_dir}"
                 + (" (calibrated)" if cal else "") + (" + conformal confidence" if conf else ""))
        pred = self.predictor.predict(articles)
        fin = finalize(spec, pred.raw, cal, conf, pred.cut)
        c = fin.get("confidence")
        rows = []
        for i, a in enumerate(articles):
            row: dict[str, Any] = {
                "index": i, "id": a.get("id"), "content_sha": content_hash(a),
                "scores": {d: round(float(v), 4) for d, v in zip(spec.dimension_names, fin["scores"][i])},
                "weighted_average": round(float(fin["weighted_average"][i]), 4), "tier": str(fin["tier"][i]),
                "cut": bool(pred.cut[i]),
            }
            if c is not None:
                row.update(wa_halfwidth=round(float(c["wa_halfwidth"][i]), 4),
                           interval=[round(float(c["wa_low"][i]), 4), round(float(c["wa_high"][i]), 4)],
                           confidence=round(float(c["confidence"][i]), 4), needs_review=bool(c["needs_review"][i]))
            rows.append(row)
        from distillery.data.records import write_jsonl

        write_jsonl(self.outputs("predict"), rows)
        tiers = Counter(r["tier"] for r in rows)
        return {"pool": str(self.opts.pool), "articles": len(rows), "calibrated": cal is not None,
                "confidence": conf is not None, "predicted_tiers": {t: tiers.get(t, 0) for t in spec.tier_names},
                "needs_review": sum(bool(r.get("needs_review")) for r in rows)}

    # ---- step 2: select -----------------------------------------------------------------------
    def step_select(self) -> dict:
        from distillery.data.records import write_jsonl
        from distillery.oracle.prepare import content_hash
        from distillery.oracle.run import load_articles

        o = self.opts
        rows = _read_jsonl(self.outputs("predict"))
        articles, _, _ = load_articles(self.spec, [str(o.pool)], None, 0)
        if len(articles) != len(rows):
            raise DistilleryError(f"{o.pool} has {len(articles)} articles but {self.outputs('predict')} "
                                  f"{len(rows)}: use --redo predict")
        old = self.old_splits()
        known = {content_hash(r) for s in SPLITS for r in old[s]}
        picked, counts = select_candidates(rows, known, self.spec, o.mode, o.threshold, o.uncertain_top, o.budget)
        keep = ("weighted_average", "tier", "wa_halfwidth", "needs_review", "interval")
        cands = [{**articles[r["index"]],
                  "active": {"rank": k, "reasons": r["reasons"], "pool_index": r["index"],
                             "predicted": {x: r[x] for x in keep if x in r}}}
                 for k, r in enumerate(picked)]
        write_jsonl(self.outputs("select"), cands)
        tiers = Counter(r["tier"] for r in picked)
        self.say(f"[2/{len(STEPS)}] select ({o.mode}, threshold {o.threshold}"
                 + (f", top {o.uncertain_top} uncertain" if o.uncertain_top is not None else "")
                 + (f", budget {o.budget}" if o.budget is not None else "") + f"): {counts['pool']} in the pool, "
                 f"{counts.get('already_labelled', 0)} already labelled, {counts.get('pool_duplicates', 0)} duplicates "
                 f"in the pool; picked {counts['by_threshold']} by threshold, {counts['by_uncertainty']} by "
                 f"uncertainty -> {counts['candidates']} candidates")
        if not cands:
            raise DistilleryError(f"no candidates selected from {o.pool} (lower --threshold, or add "
                                  "--select uncertainty / --uncertain-top K)")
        return {"counts": counts, "predicted_tiers": {t: tiers.get(t, 0) for t in self.spec.tier_names},
                "labelled_before": {s: len(old[s]) for s in SPLITS}}

    # ---- step 3: label ------------------------------------------------------------------------
    def oracle_config(self):
        from distillery.oracle.config import Prices, load_config

        cfg = load_config(self.opts.preset, self.opts.flags, self.opts.overrides)
        prices = Prices(cfg)
        if self.opts.max_cost is not None and not prices.known:
            raise DistilleryError(f"--max-cost needs a price for model {cfg.model!r}: add it to "
                                  "conf/oracle/prices.yaml or pass --price-in/--price-out")
        return cfg, prices

    @property
    def oracle_out(self) -> Path:
        return self.out / "oracle"

    @property
    def ledger_path(self) -> Path:
        return Path(self.opts.ledger) if self.opts.ledger else self.oracle_out / "ledger.jsonl"

    def score_options(self):
        from distillery.oracle.run import ScoreOptions

        o = self.opts
        return ScoreOptions(filter=self.spec.ref, filters_dir=self.filter_dirs, inputs=[str(self.outputs("select"))],
                            out=str(self.oracle_out), ledger=o.ledger, preset=o.preset, flags=o.flags,
                            overrides=o.overrides, max_cost=o.max_cost, quiet=o.quiet)

    def label_plan(self) -> dict:
        """The candidates' oracle jobs, what the ledger already has, and the cost estimate."""
        from distillery.filters.prefilter import Prefilter
        from distillery.filters.prompt import render_system_prompt
        from distillery.oracle.ledger import Ledger
        from distillery.oracle.run import _plan, cost_estimate, load_articles
        from distillery.oracle.scorer import build_job

        cfg, prices = self.oracle_config()
        articles, _, _ = load_articles(self.spec, [str(self.outputs("select"))], None, 0)
        prefilter = Prefilter(self.spec)
        verdicts = [prefilter.check(a) for a in articles]
        system_prompt = render_system_prompt(self.spec)
        jobs = [build_job(self.spec, cfg, a, system_prompt) for a, v in zip(articles, verdicts) if v.passed]
        ledger = Ledger(self.ledger_path, readonly=True)
        pending, cached, gave_up = _plan(jobs, ledger, cfg, self.score_options())
        est = cost_estimate(self.spec, cfg, prices, pending)
        est.update(cached=cached, given_up_before=gave_up, blocked=sum(not v.passed for v in verdicts),
                   model=cfg.model, base_url=cfg.public_dict()["base_url"], prices=prices.source)
        return {"cfg": cfg, "prices": prices, "jobs": jobs, "pending": pending, "estimate": est,
                "max_attempts": 1 + cfg.invalid_retries}

    def print_estimate(self, est: dict) -> None:
        note = "" if est["price_known"] else " (no price known for this model: pass --price-in/--price-out)"
        self.say(f"oracle: {est['articles']} to send to {est['model']} at {est['base_url']}, {est['cached']} already "
                 f"in the ledger, {est['blocked']} blocked by the prefilter; estimated cost "
                 f"${est['typical']['cost_usd']:.4f} typical, ${est['at most']['cost_usd']:.4f} at most{note}")

    def step_label(self) -> dict:
        from distillery.oracle.ledger import Ledger
        from distillery.oracle.run import score

        o = self.opts
        plan = self.label_plan()
        est = plan["estimate"]
        self.say(f"[3/{len(STEPS)}] label: {len(plan['jobs'])} candidates for the oracle")
        self.print_estimate(est)
        if plan["pending"]:
            if o.max_cost is not None and est["typical"]["cost_usd"] > o.max_cost:
                raise DistilleryError(f"estimated oracle cost ${est['typical']['cost_usd']:.4f} for "
                                      f"{est['articles']} articles exceeds --max-cost ${o.max_cost:g}; nothing was "
                                      "sent (raise --max-cost or lower --budget)")
            if not o.yes:
                self.confirm(est)
        if plan["jobs"]:  # with nothing pending this only writes labelled.jsonl from the ledger
            score(self.score_options())
        # what the ledger has now, for every candidate
        ledger = Ledger(self.ledger_path, readonly=True)
        missing, failed = [], []
        for job in plan["jobs"]:
            st = ledger.state(job.key)
            if st.ok:
                continue
            (failed if len(st.invalid) >= plan["max_attempts"] else missing).append(job)
        scored = self.oracle_out / "labelled.jsonl"
        labelled = _read_jsonl(scored) if scored.is_file() else []
        if missing and not o.allow_missing:
            raise DistilleryError(f"{len(missing)} of {len(plan['jobs'])} candidates have no oracle answer yet "
                                  f"(request errors or a stopped run, see {self.oracle_out / 'summary.json'}); "
                                  "re-run the same command to continue (paid answers are in the ledger), or add "
                                  "--allow-missing to go on without them")
        from distillery.data.records import write_jsonl

        write_jsonl(self.outputs("label"), labelled)
        acct = oracle_accounting(ledger, [j.key for j in plan["jobs"]])
        self.say(f"labelled {len(labelled)}, failed {len(failed)} (invalid answers, in "
                 f"{self.oracle_out / 'failed.jsonl'}), missing {len(missing)}, blocked {est['blocked']}; "
                 f"{acct['paid_calls']} paid oracle calls, ${acct['cost_usd']:.4f}")
        return {"candidates": len(plan["jobs"]) + est["blocked"], "labelled": len(labelled), "failed": len(failed),
                "missing": len(missing), "blocked": est["blocked"], "estimate": est, "oracle": acct,
                "ledger": str(self.ledger_path), "keys": [j.key for j in plan["jobs"]]}

    def confirm(self, est: dict) -> None:
        if not sys.stdin or not sys.stdin.isatty():
            raise DistilleryError("sending to the oracle needs a confirmation: pass --yes (stdin is not a terminal)")
        answer = input(f"send {est['articles']} articles to {est['model']} for about "
                       f"${est['typical']['cost_usd']:.4f}? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            raise DistilleryError("not confirmed; nothing was sent")

    # ---- step 4: merge ------------------------------------------------------------------------
    def step_merge(self) -> dict:
        from distillery.data.records import read_records, write_jsonl
        from distillery.data.split import stratified_split
        from distillery.oracle.prepare import content_hash

        old = self.old_splits()
        known = {content_hash(r) for s in SPLITS for r in old[s]}
        new = []
        for r in read_records([self.outputs("label")], self.spec).records:
            h = content_hash(r)
            if h not in known:
                known.add(h)
                new.append(r)
        data = self.run_cfg.get("data") or {}
        fractions = list(data.get("split") or [0.8, 0.1, 0.1])
        seed = int(data.get("split_seed") or 0)
        parts = stratified_split(new, self.spec, fractions, seed)
        for s in SPLITS:
            write_jsonl(self.out / "data" / f"{s}.jsonl", old[s] + parts[s])
        self.say(f"[4/{len(STEPS)}] merge: + {len(new)} labelled records -> "
                 + ", ".join(f"{s} {len(old[s])} + {len(parts[s])}" for s in SPLITS) + f" ({self.out / 'data'})")
        return {"old": {s: len(old[s]) for s in SPLITS}, "added": {s: len(parts[s]) for s in SPLITS},
                "fractions": fractions, "split_seed": seed}

    # ---- step 5: retrain ----------------------------------------------------------------------
    def train_overrides(self) -> list[str]:
        """The run's own overrides (minus its data and dirs) + the new data + --train-overrides."""
        import yaml

        f = self.run_dir / ".hydra" / "overrides.yaml"
        own = list(yaml.safe_load(f.read_text()) or []) if f.is_file() else []
        data_dir = (self.out / "data").resolve()
        ours = ["data=jsonl", f"data.path={hydra_value(data_dir)}",
                f"hydra.run.dir={hydra_value((self.out / 'retrain').resolve())}"]
        if self.old_has_synthetic_eval():
            ours.append("++data.synthetic_in_eval=true")  # the run's synthetic val/test stay where they were
        extra = list(self.opts.train_overrides)

        def key(o: str) -> str:
            return o.split("=", 1)[0].lstrip("+~")

        replaced = {key(o) for o in ours + extra} | {"data.source", "ckpt_path"}
        kept = [o for o in own if key(o) not in replaced]
        return kept + ours + extra

    def old_has_synthetic_eval(self) -> bool:
        from distillery.data.split import is_synthetic

        for s in ("val", "test"):
            p = self.out / "data" / f"{s}.jsonl"
            if p.is_file() and any(is_synthetic(r) for r in _read_jsonl(p)):
                return True
        return False

    def step_retrain(self) -> dict:
        import shutil

        overrides = self.train_overrides()
        if (self.out / "retrain").exists():  # an interrupted or redone retrain starts afresh
            shutil.rmtree(self.out / "retrain")
        cmd = [sys.executable, "-m", "distillery.cli", "train", *overrides]
        log = self.out / "retrain.log"
        self.say(f"[5/{len(STEPS)}] retrain: distillery train {' '.join(shlex.quote(x) for x in overrides)}\n"
                 f"      (log: {log})")
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
        metrics = json.loads((self.out / "retrain" / "metrics.json").read_text())
        self.say("      " + "\n      ".join(x for x in tail[-2:]))
        return {"overrides": overrides, "train_seconds": round(time.perf_counter() - t0, 1),
                "val_mae": metrics["val"]["mae"], "run_dir": str(self.out / "retrain")}

    # ---- step 6: report -----------------------------------------------------------------------
    def step_report(self) -> dict:
        from distillery.data.records import read_records
        from distillery.evaluate.predict import load_predictor
        from distillery.oracle.ledger import Ledger

        spec = self.spec
        old = self.old_splits()
        new = {s: read_records([self.out / "data" / f"{s}.jsonl"], spec).records for s in SPLITS}
        labelled = read_records([self.outputs("label")], spec).records
        cands = _read_jsonl(self.outputs("select"))
        sel = self.state.step("select")["summary"]
        lab = self.state.step("label")["summary"]
        self.say(f"[6/{len(STEPS)}] report: evaluating the old and the new model on the new val/test splits")
        new_model = load_predictor(self.out / "retrain", batch_size=self.opts.batch_size, threads=self.opts.threads)
        metrics: dict[str, Any] = {}
        for s in ("val", "test"):
            recs = new[s]
            if not recs:
                continue
            n_old = len(old[s])
            subsets = {"all": slice(None), "old": slice(0, n_old), "added": slice(n_old, None)}
            metrics[s] = {"n": {"all": len(recs), "old": n_old, "added": len(recs) - n_old}}
            for name, model in (("old_model", self.predictor), ("new_model", new_model)):
                metrics[s][name] = split_metrics(spec, model, recs, subsets)
        # oracle accounting from the ledger (cached answers count at what they cost when paid)
        acct = oracle_accounting(Ledger(self.ledger_path, readonly=True), lab["keys"])
        report = {
            "run_dir": str(self.run_dir), "retrain_dir": str(self.out / "retrain"), "pool": str(self.opts.pool),
            "filter": spec.ref, "tiers": spec.tier_names,
            "selection": {"mode": self.opts.mode, "threshold": self.opts.threshold,
                          "uncertain_top": self.opts.uncertain_top, "budget": self.opts.budget, **sel["counts"]},
            "tier_mix": {
                "train": {"before": tier_mix(tier_counts(spec, old["train"])),
                          "after": tier_mix(tier_counts(spec, new["train"]))},
                "all": {"before": tier_mix(tier_counts(spec, [r for s in SPLITS for r in old[s]])),
                        "after": tier_mix(tier_counts(spec, [r for s in SPLITS for r in new[s]]))},
                "splits": {s: {"before": len(old[s]), "after": len(new[s])} for s in SPLITS},
                "candidates_predicted": tier_mix(count_tiers(spec, [c["active"]["predicted"]["tier"] for c in cands])),
                "candidates_oracle": tier_mix(tier_counts(spec, labelled)),
            },
            "labelling": {k: lab[k] for k in ("candidates", "labelled", "failed", "missing", "blocked")},
            "oracle": {**acct, "estimate_typical_usd": lab["estimate"]["typical"]["cost_usd"],
                       "estimate_at_most_usd": lab["estimate"]["at most"]["cost_usd"],
                       "model": lab["estimate"]["model"], "price_known": lab["estimate"]["price_known"]},
            "metrics": metrics,
            "metrics_note": "raw model outputs (no calibration) for both models, on the round's new splits",
        }
        from distillery.rundir import write_json

        write_json(self.outputs("report"), report)
        md = report_markdown(report)
        (self.out / "report.md").write_text(md)
        self.say(md)
        return {"report": str(self.outputs("report"))}


def count_tiers(spec: Any, tiers: Sequence[str]) -> dict[str, int]:
    c = Counter(tiers)
    return {t: int(c.get(t, 0)) for t in spec.tier_names}


def oracle_accounting(ledger: Any, keys: Sequence[str]) -> dict[str, Any]:
    """Paid calls (valid + invalid answers), request errors and cost in the ledger for these keys."""
    paid = errors = 0
    cost = 0.0
    for k in dict.fromkeys(keys):
        st = ledger.state(k)
        paid += bool(st.ok) + len(st.invalid)
        errors += st.errors
        cost += st.cost_usd
    return {"paid_calls": paid, "request_errors": errors, "cost_usd": round(cost, 6)}


def split_metrics(spec: Any, predictor: Any, records: Sequence[dict], subsets: dict[str, slice]) -> dict[str, Any]:
    """MAE / RMSE / Spearman / weighted-average MAE / tier accuracy of raw outputs, per subset."""
    from distillery.data.split import label_matrix
    from distillery.evaluate.metrics import regression_metrics

    pred = predictor.predict(records)
    true = label_matrix(records, spec)
    out = {}
    for name, sl in subsets.items():
        p, t = pred.raw[sl], true[sl]
        if len(t) == 0:
            continue
        m = regression_metrics(spec.clamp(p), t, spec)
        out[name] = {k: m[k] for k in ("mae", "rmse", "spearman", "weighted_mae", "tier_accuracy")}
    return out


# ---- report.md ------------------------------------------------------------------------------------
def _pct(x: float) -> str:
    return "–" if x != x else f"{100 * x:.1f}%"


def report_markdown(r: dict[str, Any]) -> str:
    tiers = r["tiers"]
    tm = r["tier_mix"]
    sel = r["selection"]
    lines = [f"# Active-learning round: {r['filter']}", "",
             f"- model before: `{r['run_dir']}`; after: `{r['retrain_dir']}`",
             f"- pool: `{r['pool']}`: {sel['pool']} articles, {sel.get('already_labelled', 0)} already labelled, "
             f"{sel.get('pool_duplicates', 0)} duplicates within the pool",
             f"- selection: {sel['mode']} (predicted weighted average >= {sel['threshold']}"
             + (f"; top {sel['uncertain_top']} by conformal interval width" if sel["uncertain_top"] is not None
                else "; every needs_review article" if sel["mode"] != "threshold" else "")
             + f"): {sel['by_threshold']} by threshold, {sel['by_uncertainty']} by uncertainty, {sel['by_both']} both"
             + (f"; budget {sel['budget']} dropped {sel['over_budget']}" if sel["budget"] is not None else "")
             + f" -> {sel['candidates']} candidates",
             f"- oracle ({r['oracle']['model']}): {r['labelling']['labelled']} labelled, {r['labelling']['failed']} "
             f"failed, {r['labelling']['missing']} missing, {r['labelling']['blocked']} blocked by the prefilter; "
             f"{r['oracle']['paid_calls']} paid calls, {r['oracle']['request_errors']} request errors, cost "
             + (f"${r['oracle']['cost_usd']:.4f} (estimated ${r['oracle']['estimate_typical_usd']:.4f} typical, "
                f"${r['oracle']['estimate_at_most_usd']:.4f} at most)" if r["oracle"]["price_known"]
                else "unknown (no price for this model)"),
             "", "## Tier mix of the labelled data", "",
             "| tier | train before | train after | Δ | all splits before | all splits after | Δ "
             "| candidates (predicted) | candidates (oracle) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for t in tiers:
        tb, ta = tm["train"]["before"], tm["train"]["after"]
        ab, aa = tm["all"]["before"], tm["all"]["after"]
        cp, co = tm["candidates_predicted"], tm["candidates_oracle"]
        lines.append(
            f"| {t} | {tb['counts'][t]} ({_pct(tb['share'][t])}) | {ta['counts'][t]} ({_pct(ta['share'][t])}) | "
            f"{100 * (ta['share'][t] - tb['share'][t]):+.1f} pp | {ab['counts'][t]} ({_pct(ab['share'][t])}) | "
            f"{aa['counts'][t]} ({_pct(aa['share'][t])}) | {100 * (aa['share'][t] - ab['share'][t]):+.1f} pp | "
            f"{cp['counts'][t]} ({_pct(cp['share'][t])}) | {co['counts'][t]} ({_pct(co['share'][t])}) |")
    n = {k: tm[k] for k in ("train", "all")}
    lines.append(f"| **n** | {n['train']['before']['n']} | {n['train']['after']['n']} | | {n['all']['before']['n']} | "
                 f"{n['all']['after']['n']} | | {tm['candidates_predicted']['n']} | {tm['candidates_oracle']['n']} |")
    lines += ["", "Splits: " + ", ".join(f"{s} {v['before']} -> {v['after']}" for s, v in tm["splits"].items()), ""]
    for split, m in r["metrics"].items():
        lines += [f"## {split} metrics: old vs new model on the new {split} split", "",
                  f"{m['n']['all']} articles: {m['n']['old']} from the run's {split} split + {m['n']['added']} added "
                  "this round. Raw model outputs (no calibration) for both models.", "",
                  "| metric | subset | old model | new model | Δ |", "|---|---|---:|---:|---:|"]
        for metric, better in (("mae", "lower"), ("spearman", "higher"), ("tier_accuracy", "higher"),
                               ("weighted_mae", "lower"), ("rmse", "lower")):
            for sub in ("all", "old", "added"):
                if sub not in m["old_model"]:
                    continue
                a, b = m["old_model"][sub][metric], m["new_model"][sub][metric]
                lines.append(f"| {metric} | {sub} | {a:.4f} | {b:.4f} | {b - a:+.4f} |")
        lines.append("")
    return "\n".join(lines)


def run_round(opts: ActiveOptions) -> dict[str, Any]:
    return Round(opts).run()

"""``distillery score``: input -> prefilter -> cache lookup -> oracle (online or batch) -> outputs.

Files written to the output folder (default ``$DISTILLERY_OUTPUTS/oracle/<name>_v<N>/``,
``$DISTILLERY_OUTPUTS`` defaulting to ``outputs``):

``ledger.jsonl``            every oracle answer (the cache; see ledger.py)
``labelled.jsonl``          the data contract: article + ``labels`` + provenance, ready for
                            ``distillery train --filter <ref> data=jsonl data.path=<file>``;
                            ``oracle_answer`` keeps content_type, evidence, final score, tier
``failed.jsonl``            articles with no valid answer: raw text, error type, attempts
``blocked.jsonl``           articles the prefilter blocked, with ``prefilter_reason``
``audit_blocked.jsonl``     blocked articles sent with ``--audit-blocked`` and their labels
``prefilter_report.json``   pass rate per reason, audited false-negative / false-positive rates
``summary.json``            counts, tokens, cost, timing, the oracle config (no secrets)
``batches.jsonl``           Batch API mode: uploads and batches, for resuming
"""

from __future__ import annotations

import asyncio
import json
import os
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distillery.data.records import ARTICLE_OPTIONAL, ARTICLE_REQUIRED, read_records, write_jsonl
from distillery.data.synthetic import generate_corpus
from distillery.errors import DistilleryError
from distillery.filters.prefilter import PASSED
from distillery.filters.prompt import response_format
from distillery.filters.registry import load_filter
from distillery.filters.spec import FilterSpec
from distillery.oracle.batch import BatchRunner
from distillery.oracle.client import OracleClient
from distillery.oracle.config import OracleConfig, Prices, api_key
from distillery.oracle.ledger import KeyState, Ledger, sha
from distillery.oracle.options import OracleOptions
from distillery.oracle.parsing import UNKNOWN_CONTENT_TYPE, grounded
from distillery.oracle.plan import JobPlan, ScoringJobs, cost_estimate, plan_jobs, scoring_jobs
from distillery.oracle.scorer import Budget, OracleJob, OracleScorer, OracleStopped, RunStats
from distillery.runtime.atomic import write_json


@dataclass
class ScoreOptions:
    filter: str
    filters_dir: list[str] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    articles: int | None = None
    seed: int = 0
    out: str | None = None
    oracle: OracleOptions = field(default_factory=OracleOptions)  # the oracle, max cost, ledger, cache policy
    dry_run: bool = False
    audit_blocked: int = 0
    batch: bool = False
    batch_id: str | None = None
    quiet: bool = False
    skip_invalid: bool = False


# ---- input ------------------------------------------------------------------------------------
def article_view(rec: dict) -> dict:
    """Only the article fields of a record (labels and provenance of an input are dropped)."""
    return {k: rec[k] for k in (*ARTICLE_REQUIRED, *ARTICLE_OPTIONAL) if k in rec}


def load_articles(
    spec: FilterSpec, inputs: list[str], n: int | None, seed: int, skip_invalid: bool | None = None
) -> tuple[list[dict], str, list[str]]:
    """(articles, description of the source, skipped lines). Without inputs: the synthetic
    corpus for ``spec`` (labels stripped), ``n`` articles (default 100) for ``seed``. ``skip_invalid``
    as in :func:`read_records` (None: the caller offers no skip option, so the error hints none)."""
    if not inputs:
        n = 100 if n is None else n
        return [article_view(r) for r in generate_corpus(spec, n, seed)], f"synthetic corpus ({n}, seed {seed})", []
    report = read_records(inputs, None, skip_invalid=skip_invalid)
    records = [article_view(r) for r in report.records]
    source = ", ".join(inputs)
    if n is not None and n < len(records):
        picked = sorted(random.Random(seed).sample(range(len(records)), n))
        records = [records[i] for i in picked]
        source += f" (sampled {n} of {len(report.records)}, seed {seed})"
    return records, source, report.skipped


# ---- outputs ----------------------------------------------------------------------------------
def labelled_record(spec: FilterSpec, article: dict, ok: dict, **extra: Any) -> dict:
    labels = {d: float(ok["labels"][d]) for d in spec.dimension_names}
    ct = ok.get("content_type")
    unknown = ct == UNKNOWN_CONTENT_TYPE and ct not in spec.oracle.content_types
    summary = spec.summarize(spec.labels_vector(labels), None if unknown else ct)
    text = f"{article.get('title') or ''}\n{article.get('content') or ''}"
    if ok.get("repairs"):
        extra = {"repairs": list(ok["repairs"]), **extra}
    if unknown:
        extra = {"content_type_cap": "not applied: the oracle's content type is not one of the filter's", **extra}
    return {
        **article,
        "labels": labels,
        "oracle": ok.get("model"),
        "filter": spec.name,
        "filter_version": spec.version,
        "oracle_answer": {
            "content_type": ok.get("content_type"),
            "evidence": ok.get("evidence", {}),
            "evidence_grounded": {d: grounded(e, text) for d, e in (ok.get("evidence") or {}).items()},
            "weighted_average": round(summary["weighted_average"], 4),
            "tier": summary["tier"],
            "key": ok["key"],
            **extra,
        },
    }


def failed_record(article: dict, st: KeyState, reason: str) -> dict:
    last = st.last_invalid if st.invalid else st.last_error
    last = last or {}
    return {
        **article,
        "prefilter_reason": reason,
        "status": "invalid" if st.invalid else "error",
        "error_type": last.get("error_type"),
        "error": last.get("error"),
        "raw": last.get("raw"),
        "attempts": len(st.invalid),
        "key": last.get("key"),
    }


def _relevant(spec: FilterSpec, tier: str) -> bool:
    """ "Tier >= medium": any tier above the lowest."""
    return spec.tier_names.index(tier) < len(spec.tier_names) - 1


def prefilter_report(spec: FilterSpec, reasons: Counter, audited: list[dict], passed_labelled: list[dict]) -> dict:
    total = sum(reasons.values())
    out: dict[str, Any] = {
        "filter": spec.ref,
        "articles": total,
        "passed": reasons.get(PASSED, 0),
        "pass_rate": round(reasons.get(PASSED, 0) / total, 4) if total else None,
        "by_reason": {r: {"count": c, "share": round(c / total, 4)} for r, c in reasons.most_common()},
        "relevant_means": f"oracle tier in {spec.tier_names[:-1]} (above {spec.tier_names[-1]!r})",
    }
    fn: dict[str, dict] = {}
    for rec in audited:
        r = rec["oracle_answer"]["prefilter_reason"]
        d = fn.setdefault(r, {"blocked": reasons.get(r, 0), "audited": 0, "relevant": 0})
        d["audited"] += 1
        d["relevant"] += _relevant(spec, rec["oracle_answer"]["tier"])
    for d in fn.values():
        d["false_negative_rate"] = round(d["relevant"] / d["audited"], 4) if d["audited"] else None
    out["audit_blocked"] = fn
    low = sum(not _relevant(spec, r["oracle_answer"]["tier"]) for r in passed_labelled)
    out["passed_scored"] = {
        "scored": len(passed_labelled),
        "oracle_lowest_tier": low,
        "false_positive_rate": round(low / len(passed_labelled), 4) if passed_labelled else None,
    }
    return out


# ---- the command --------------------------------------------------------------------------------
def _console(quiet: bool):
    from rich.console import Console

    return Console(stderr=True, quiet=quiet)


def dry_run(spec: FilterSpec, cfg: OracleConfig, prices: Prices, jobs: list[OracleJob], plan: JobPlan) -> int:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not jobs:
        console.print("nothing to send: no article passed the prefilter")
        return 0
    pending, cached = plan.pending, plan.cached
    job = pending[0][0] if pending else jobs[0]
    fmt = "json_schema" if cfg.response_format == "auto" else cfg.response_format
    console.rule(f"dry run: the prompt for article {job.article.get('id')!r} ({spec.ref}, {cfg.model})")
    for m in job.messages:
        console.print(f"[bold]--- {m['role']} ---[/bold]", highlight=False)
        console.print(m["content"], markup=False, highlight=False)
    rf = response_format(spec, fmt)
    console.print(f"[bold]--- response_format: {fmt} ---[/bold]")
    if rf:
        console.print_json(json.dumps(rf))
    n = len(pending)
    est = cost_estimate(spec, cfg, prices, pending)
    t = Table(title="estimate (nothing was sent)")
    for c in ("to send", "cached", "prompt tokens (est.)", "answer tokens", "cost online", "cost batch"):
        t.add_column(c, justify="right")
    price_note = "" if prices.known else " (no price known)"
    for label in ("typical", "at most"):
        e = est[label]
        t.add_row(
            str(n),
            str(cached),
            f"{est['prompt_tokens']:,}",
            f"{e['answer_tokens']:,} {label}",
            f"${e['cost_usd']:.4f}{price_note}",
            f"${e['cost_usd_batch']:.4f}",
        )
    console.print(t)
    console.print(f"prices: {prices.source}; prompt tokens estimated at 3 characters/token (generous)")
    return 0


@dataclass
class ScoreRun:
    """What one ``score`` run read, planned and did: what :func:`write_outputs` writes."""

    spec: FilterSpec
    cfg: OracleConfig
    prices: Prices
    ledger: Ledger
    out: Path
    articles: list[dict]
    source: str  # where the articles came from, in words
    skipped: list[str]  # input lines skipped (--skip-invalid)
    scoring: ScoringJobs  # the prefilter's verdicts and the jobs
    plan: JobPlan
    stats: RunStats
    opts: ScoreOptions
    error: str | None = None  # why the run failed (its one ``error:`` line); the outputs are written anyway


def score(opts: ScoreOptions) -> int:
    o = opts.oracle
    spec = load_filter(opts.filter, opts.filters_dir)
    cfg, prices = o.resolve()
    console = _console(opts.quiet)
    outputs = Path(os.environ.get("DISTILLERY_OUTPUTS") or "outputs")
    out = Path(opts.out) if opts.out else outputs / "oracle" / f"{spec.name}_v{spec.version}"
    ledger_path = Path(o.ledger) if o.ledger else out / "ledger.jsonl"

    articles, source, skipped = load_articles(spec, opts.inputs, opts.articles, opts.seed, opts.skip_invalid)
    if not articles:
        raise DistilleryError(f"no articles in {source}")
    scoring = scoring_jobs(spec, cfg, articles, opts.audit_blocked, opts.seed)
    jobs = scoring.jobs

    if opts.dry_run:
        ledger = Ledger(ledger_path, readonly=True)
        return dry_run(spec, cfg, prices, jobs, plan_jobs(jobs, ledger, cfg, o.ignore_cache, o.retry_failed))

    out.mkdir(parents=True, exist_ok=True)
    with Ledger(ledger_path) as ledger:
        plan = plan_jobs(jobs, ledger, cfg, o.ignore_cache, o.retry_failed)
        console.print(
            f"{spec.ref}: {len(articles)} articles from {source}; prefilter passed {len(scoring.passed)}, "
            f"blocked {len(scoring.blocked)}"
            + (f", auditing {scoring.audited}" if scoring.audited else "")
            + f"; cached {plan.cached}, to send {len(plan.pending)} -> {cfg.model} at "
            f"{cfg.public_dict()['base_url']}",
            highlight=False,
        )
        stats, error = RunStats(), None
        if plan.pending or (opts.batch and opts.batch_id):
            try:
                stats = asyncio.run(
                    send(spec, cfg, prices, ledger, scoring.system_prompt, jobs, plan, opts, out, console)
                )
            except OracleStopped as e:  # what was paid for before is in the ledger: write it out, then fail
                stats, error = e.stats, str(e)
        error = error or stats.unanswered(cfg.endpoint)
        summary = write_outputs(
            ScoreRun(spec, cfg, prices, ledger, out, articles, source, skipped, scoring, plan, stats, opts, error)
        )
    print_summary(summary, console_out=not opts.quiet)
    if error:
        raise DistilleryError(error)
    return 0


async def send(
    spec: FilterSpec,
    cfg: OracleConfig,
    prices: Prices,
    ledger: Ledger,
    system_prompt: str,
    jobs: list[OracleJob],
    plan: JobPlan,
    opts: ScoreOptions,
    out: Path,
    console: Any,
) -> RunStats:
    """Send ``plan.pending`` online (the concurrent scorer, a progress bar) or through the Batch API."""
    budget = Budget(opts.oracle.max_cost)
    if not opts.batch:  # (a batch run first collects its open batches: BatchRunner.submit checks)
        budget.check_one_call(prices, cfg, [j for j, _ in plan.pending])
    client = OracleClient(cfg, spec, api_key(cfg))
    try:
        if opts.batch:
            runner = BatchRunner(
                spec,
                cfg,
                ledger,
                client,
                prices,
                sha(system_prompt),
                out,
                budget,
                log=lambda m: console.print(m, highlight=False),
            )
            return await runner.run(jobs, [j for j, _ in plan.pending], opts.batch_id)
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        progress = Progress(
            TextColumn("[bold]scoring"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:.1f}/s"),
            TextColumn("${task.fields[cost]:.4f}"),
            TextColumn("{task.fields[fails]}"),
            TimeElapsedColumn(),
            console=console,
            disable=opts.quiet or not console.is_terminal,
            transient=False,
        )
        task = progress.add_task("scoring", total=len(plan.pending), cost=0.0, rate=0.0, fails="")

        def on_done(job: OracleJob, status: str, stats: RunStats) -> None:
            elapsed = progress.tasks[0].elapsed or 1e-9
            bad = stats.failed + stats.errors
            progress.update(
                task,
                advance=1,
                cost=stats.cost_usd,
                rate=(stats.scored + bad) / elapsed,
                fails=f"{bad} failed" if bad else "",
            )

        scorer = OracleScorer(spec, cfg, ledger, client, prices, system_prompt, budget, on_done)
        with progress:
            return await scorer.run(plan.pending)
    finally:
        await client.close()


def write_outputs(run: ScoreRun) -> dict:
    """Write labelled/failed/blocked(/audit_blocked).jsonl, prefilter_report.json and summary.json."""
    spec, ledger, out, stats, opts = run.spec, run.ledger, run.out, run.stats, run.opts
    jobs, blocked, articles = run.scoring.jobs, run.scoring.blocked, run.articles
    labelled, failed, audited = [], [], []
    for job in jobs:
        st = ledger.state(job.key)
        if st.ok:
            rec = (
                labelled_record(spec, job.article, st.ok, prefilter_reason=job.reason)
                if job.audit
                else labelled_record(spec, job.article, st.ok)
            )
            (audited if job.audit else labelled).append(rec)
        elif st.invalid or st.last_error:
            failed.append(failed_record(job.article, st, job.reason))
    files = {
        "labelled": write_jsonl(out / "labelled.jsonl", labelled),
        "failed": write_jsonl(out / "failed.jsonl", failed),
        "blocked": write_jsonl(out / "blocked.jsonl", [{**a, "prefilter_reason": r} for a, r in blocked]),
    }
    if opts.audit_blocked:
        files["audit_blocked"] = write_jsonl(out / "audit_blocked.jsonl", audited)
    report = prefilter_report(spec, run.scoring.reasons, audited, labelled)
    write_json(out / "prefilter_report.json", report)
    grounded_flags = [g for r in labelled for g in r["oracle_answer"]["evidence_grounded"].values() if g is not None]
    tiers = Counter(r["oracle_answer"]["tier"] for r in labelled)
    summary = {
        "filter": spec.ref,
        "source": run.source,
        "articles": len(articles),
        "skipped_input_lines": len(run.skipped),
        "blocked": len(blocked),
        "passed": len(articles) - len(blocked),
        "audited_blocked": sum(j.audit for j in jobs),
        "cached": run.plan.cached,
        "labelled": len(labelled),
        "failed_records": len(failed),
        "failed_invalid": sum(f["status"] == "invalid" for f in failed),  # given up after invalid answers
        "failed_no_answer": sum(f["status"] == "error" for f in failed),  # asked again on the next run
        "given_up_before": run.plan.given_up,
        "tiers": {t: tiers.get(t, 0) for t in spec.tier_names},
        "evidence_grounded_rate": round(sum(grounded_flags) / len(grounded_flags), 4) if grounded_flags else None,
        "run": stats.as_dict(),
        "articles_per_s": round((stats.scored + stats.failed + stats.errors) / stats.elapsed_s, 2)
        if stats.elapsed_s
        else None,
        "ledger": str(ledger.path),
        "ledger_cost_usd_total": round(sum(s.cost_usd for s in ledger.states.values()), 6),
        "prices": {"source": run.prices.source, "known": run.prices.known},
        "oracle": run.cfg.public_dict(),
        "files": {k: str(v) for k, v in files.items()},
        "prefilter": report,
        "max_cost": opts.oracle.max_cost,
        "error": run.error,
        # no advice to train on an empty file, or on the outputs of a run that failed
        "train_with": None
        if run.error or not labelled
        else f"distillery train --filter {spec.ref} data=jsonl data.path={files['labelled']}",
    }
    write_json(out / "summary.json", summary)
    return summary


def call_rows(run: dict, cost_label: str, cost_usd: float, price_known: bool) -> list[tuple[str, str]]:
    """The oracle-call rows every report table shares (``score``, ``synthesize``)."""
    return [
        ("errors (no answer)", run["errors"]),
        ("not sent (stopped)", run["not_scored"]),
        ("retries (HTTP + re-asks)", f"{run['http_retries']} + {run.get('reasks', 0)}"),
        ("tokens in / out", f"{run['prompt_tokens']:,} / {run['completion_tokens']:,}"),
        (cost_label, f"${cost_usd:.4f}" + ("" if price_known else " (no price known)")),
    ]


def print_summary(summary: dict, console_out: bool = True) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(quiet=not console_out)
    run = summary["run"]
    t = Table(title=f"distillery score {summary['filter']}", show_header=False)
    t.add_column("", style="bold")
    t.add_column("", justify="right")
    rate = summary["articles_per_s"]
    for label, value in (
        ("articles", summary["articles"]),
        ("blocked by prefilter", summary["blocked"]),
        ("cached (free)", summary["cached"]),
        ("scored now", run["scored"]),
        ("failed (invalid answers)", summary["failed_invalid"]),
        *([("  of them given up before", summary["given_up_before"])] if summary["given_up_before"] else []),
        *call_rows(run, "cost", run["cost_usd"], summary["prices"]["known"]),
        ("elapsed", f"{run['elapsed_s']:.1f} s"),
        ("articles/s", "-" if rate is None else f"{rate:.1f}"),
    ):
        t.add_row(label, str(value))
    console.print(t)
    pf = summary["prefilter"]
    r = Table(title="prefilter")
    for col in ("reason", "articles", "share", "audited", "oracle tier > lowest", "false-negative rate"):
        r.add_column(col, justify="right" if col != "reason" else "left")
    for reason, d in pf["by_reason"].items():
        a = pf["audit_blocked"].get(reason, {})
        r.add_row(
            reason,
            str(d["count"]),
            f"{d['share']:.1%}",
            str(a.get("audited", "")),
            str(a.get("relevant", "")),
            "" if a.get("false_negative_rate") is None else f"{a['false_negative_rate']:.1%}",
        )
    console.print(r)
    ps = pf["passed_scored"]
    if ps["scored"]:
        console.print(
            f"passed and scored: {ps['scored']}, oracle's lowest tier: {ps['oracle_lowest_tier']} "
            f"(false-positive rate {ps['false_positive_rate']:.1%})",
            highlight=False,
        )
    if run["stopped"]:
        console.print(
            f"[yellow]stopped early: {run['stopped']}; {run['not_scored']} article(s) not sent."
            + ("" if summary["error"] else " Re-run the same command to continue (answers in the ledger are free).")
            + "[/yellow]"
        )
    if run["format_downgrades"]:
        console.print(f"response_format fell back: {', '.join(run['format_downgrades'])}")
    if summary["failed_records"] and not summary["error"]:
        console.print(
            f"partial result (exit 0): {summary['labelled']} of {summary['labelled'] + summary['failed_records']} "
            f"article(s) labelled; {summary['failed_records']} article(s) without a valid answer: see "
            f"{summary['files']['failed']} (no answer: asked again when you re-run the same command; "
            "invalid answers: with --retry-failed)",
            highlight=False,
        )
    console.print(f"labelled: {summary['files']['labelled']} ({summary['labelled']} records)", highlight=False)
    if summary["train_with"]:
        console.print(f"train:    {summary['train_with']}", highlight=False)

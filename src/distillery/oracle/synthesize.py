"""``distillery synthesize``: the oracle writes articles to target dimension scores.

Real news rarely reaches a filter's top tier, so the student sees few examples of exactly the
articles it must find. ``synthesize`` asks the oracle LLM to *write* such articles:

1. **Targets.** Per article, per-dimension target scores drawn with ``--seed`` (a latent level
   inside the tier's score range plus per-dimension noise, in half points) and kept only when the
   spec's own arithmetic (``FilterSpec.weighted_average``: weights, gatekeepers, the content-type
   cap of the requested form) puts them in ``--tier``; ``--target dim=score,...`` fixes dimensions.
   Draws come in fixed-size chunks, so ``--n 60`` starts with the 50 targets of ``--n 50``.
2. **Prompt.** ``templates/synthesize.j2`` (or ``--template``), rendered like a filter's
   ``prompt.md``: the filter, each dimension's description and anchors with its target, a seeded
   subject, region and length, and the answer format ``{"title": ..., "content": ...}``.
3. **Oracle.** The same :class:`OracleClient` (retries, ``response_format`` fallback), ledger,
   rate limits, ``--max-cost`` budget and re-asks as ``distillery score``: an :class:`OracleScorer`
   whose request record and validation are generation's. Ledger keys use the filter ref
   ``<name>/v<N>#synthesize``, so they never collide with scoring keys; a re-run pays nothing and
   a killed run resumes.
4. **Records.** The data contract with ``labels`` = the targets, ``oracle``/``filter``/
   ``filter_version`` provenance and ``"synthetic": {"generator", "prompt_sha", "target", ...}``
   (``prompt_sha``: sha256 of the rendered prompt). Records tagged ``synthetic`` go to train
   only in ``prepare`` and ``data=jsonl`` (see :func:`distillery.data.split.stratified_split`).
5. ``--rescore``: the generated articles go through ``distillery score`` itself (prefilter,
   scoring prompt, validation; same ledger and budget); ``labels`` become the re-scored ones
   (the target stays in ``synthetic.target``) and a consistency report gives the MAE between
   target and re-scored per dimension, overall and of the weighted average.

Files for ``--out synth.jsonl``:

``synth.jsonl``          the labelled, tagged records
``synth.report.json``    counts, cost, target tiers; with ``--rescore`` the consistency report
``synth.failed.jsonl``   targets without a valid article: error type, raw answer, attempts
``synth.ledger.jsonl``   the ledger (``--ledger`` to share one): generation and re-scoring answers
``synth.rescore/``       with ``--rescore``: the ``distillery score`` output folder
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from distillery.data.records import write_jsonl
from distillery.errors import DistilleryError
from distillery.filters.registry import load_filter
from distillery.filters.spec import FilterSpec
from distillery.oracle.client import Completion, OracleClient, estimate_tokens
from distillery.oracle.config import OracleConfig, Prices, api_key, load_config  # noqa: F401 (load_config: re-exported)
from distillery.oracle.ledger import Ledger, cache_key, sha
from distillery.oracle.options import OracleOptions
from distillery.oracle.parsing import InvalidAnswer
from distillery.oracle.plan import plan_jobs
from distillery.oracle.run import failed_record
from distillery.oracle.scorer import Budget, OracleJob, OracleScorer, OracleStopped, RunStats
from distillery.oracle.synth_prompt import (  # noqa: F401 - the synthesize API, re-exported
    KEY_SUFFIX,
    MARKER,
    MIN_CONTENT_CHARS,
    REGIONS,
    SPREAD,
    STEP,
    TEMPLATE,
    TOPICS,
    USER_MESSAGE,
    article_format,
    article_setting,
    draw_targets,
    load_template,
    messages,
    parse_article_answer,
    parse_target,
    render_prompt,
    tier_range,
)
from distillery.oracle.synth_report import dry_run, print_report, rescore
from distillery.runtime.atomic import write_json


@dataclass
class SynthOptions:
    filter: str
    n: int = 10
    tier: str | None = None
    target: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    content_type: str | None = None
    template: str | None = None
    filters_dir: list[str] = field(default_factory=list)
    out: str | None = None
    oracle: OracleOptions = field(default_factory=OracleOptions)  # the oracle, max cost (both steps), ledger, cache
    rescore: bool = False
    dry_run: bool = False
    quiet: bool = False


# ---- targets ------------------------------------------------------------------------------------
class Generator(OracleScorer):
    """An :class:`OracleScorer` whose requests write articles: same pool, budget, limits, ledger, re-asks."""

    def base_record(self, job: OracleJob) -> dict:
        a = job.article
        return {
            "key": job.key,
            "kind": "synthesize",
            "article_id": a["id"],
            "filter": self.spec.ref,
            "provider": self.cfg.provider,
            "model": self.cfg.model,
            "sampling": self.cfg.sampling(),
            "prompt_sha": a["prompt_sha"],
            "target": a["target"],
            "mode": "online",
        }

    def judge(self, c: Completion) -> tuple[str, dict]:
        try:
            article, repairs = parse_article_answer(c.text, c.finish_reason, c.refusal)
        except InvalidAnswer as e:
            return "invalid", {"error_type": e.kind, "error": e.message}
        return "ok", {"article": article, "repairs": repairs}


# ---- the command --------------------------------------------------------------------------------
def build_jobs(spec: FilterSpec, cfg: OracleConfig, opts: SynthOptions, content_type: str) -> list[OracleJob]:
    """One generation job per target; ``job.article`` carries the target and the prompt's sha."""
    source = load_template(opts.template)
    targets = draw_targets(spec, opts.n, opts.seed, opts.tier, opts.target, content_type)
    jobs = []
    for i, vec in enumerate(targets):
        target = {d: float(v) for d, v in zip(spec.dimension_names, vec)}
        setting = article_setting(opts.seed, i)
        tier = str(spec.summarize(vec, content_type)["tier"])
        prompt = render_prompt(
            spec, source, target, tier if opts.tier else None, content_type, setting, f"{opts.seed}-{i}"
        )
        prompt_sha = sha(prompt)
        msgs = messages(prompt, cfg.system_role)
        article = {
            "id": f"synth-{spec.name}-v{spec.version}-{prompt_sha[:12]}",
            "target": target,
            "tier": tier,
            "prompt_sha": prompt_sha,
            "content_type": content_type,
            **setting,
        }
        key = cache_key(spec.ref + KEY_SUFFIX, cfg.model, cfg.sampling(), msgs)
        jobs.append(
            OracleJob(
                key=key,
                article=article,
                messages=msgs,
                est_prompt_tokens=sum(estimate_tokens(m["content"]) for m in msgs),
            )
        )
    return jobs


def synthetic_record(spec: FilterSpec, job: OracleJob, ok: dict, seed: int) -> dict:
    a = job.article
    return {
        "id": a["id"],
        **ok["article"],
        "language": "en",
        "labels": dict(a["target"]),
        "oracle": ok.get("model"),
        "filter": spec.name,
        "filter_version": spec.version,
        "synthetic": {
            "generator": ok.get("model"),
            "prompt_sha": a["prompt_sha"],
            "target": dict(a["target"]),
            "target_tier": a["tier"],
            "content_type": a["content_type"],
            "topic": a["topic"],
            "region": a["region"],
            "words": a["words"],
            "seed": seed,
            "key": job.key,
        },
    }


def _paths(spec: FilterSpec, opts: SynthOptions) -> dict[str, Path]:
    if opts.out:
        out = Path(opts.out)
    else:
        outputs = Path(os.environ.get("DISTILLERY_OUTPUTS") or "outputs")
        what = opts.tier or "target"
        out = outputs / "synthesize" / f"{spec.name}_v{spec.version}" / f"{what}_n{opts.n}_s{opts.seed}.jsonl"
    stem = out.with_suffix("") if out.suffix == ".jsonl" else out
    return {
        "out": out,
        "report": Path(f"{stem}.report.json"),
        "failed": Path(f"{stem}.failed.jsonl"),
        "ledger": Path(opts.oracle.ledger) if opts.oracle.ledger else Path(f"{stem}.ledger.jsonl"),
        "rescore": Path(f"{stem}.rescore"),
    }


def _content_type(spec: FilterSpec, wanted: str | None) -> str:
    types = spec.oracle.content_types
    if wanted is None:
        return "news_report" if "news_report" in types else types[0]
    if wanted not in types:
        raise DistilleryError(
            f"--content-type: {wanted!r} is not one of {spec.ref}'s content types: {', '.join(types)}"
        )
    return wanted


def synthesize(opts: SynthOptions) -> int:
    spec = load_filter(opts.filter, opts.filters_dir)
    if opts.n < 1:
        raise DistilleryError(f"--n must be at least 1, got {opts.n}")
    if opts.tier is None and not opts.target:
        raise DistilleryError(f"give --tier ({', '.join(spec.tier_names)}) and/or --target dim=score,...")
    if opts.tier is not None:
        tier_range(spec, opts.tier)
    o = opts.oracle
    cfg, prices = o.resolve()
    content_type = _content_type(spec, opts.content_type)
    jobs = build_jobs(spec, cfg, opts, content_type)
    paths = _paths(spec, opts)
    if opts.dry_run:
        plan = plan_jobs(jobs, Ledger(paths["ledger"], readonly=True), cfg, o.ignore_cache, o.retry_failed)
        return dry_run(cfg, prices, jobs, plan, opts.rescore)

    console = _console(opts.quiet)
    with Ledger(paths["ledger"]) as ledger:
        plan = plan_jobs(jobs, ledger, cfg, o.ignore_cache, o.retry_failed)
        pending, cached, gave_up = plan.pending, plan.cached, plan.given_up
        console.print(
            f"{spec.ref}: {len(jobs)} article(s) to targets "
            + (f"in tier {opts.tier!r}" if opts.tier else f"{opts.target}")
            + f"; cached {cached}, to write {len(pending)} -> {cfg.model} at {cfg.public_dict()['base_url']}",
            highlight=False,
        )
        budget = Budget(o.max_cost)
        budget.check_one_call(prices, cfg, [j for j, _ in pending])
        stats, error = RunStats(), None
        if pending:
            try:
                stats = asyncio.run(_generate(spec, cfg, prices, ledger, pending, budget, console, opts.quiet))
            except OracleStopped as e:  # what was paid for before is in the ledger: write it out, then fail
                stats, error = e.stats, str(e)
        records, failed = [], []
        for job in jobs:
            st = ledger.state(job.key)
            if st.ok:
                records.append(synthetic_record(spec, job, st.ok, opts.seed))
            elif st.invalid or st.last_error:
                rec = failed_record({"id": job.article["id"], "target": job.article["target"]}, st, "")
                rec.pop("prefilter_reason")
                failed.append(rec)
    report: dict[str, Any] = {
        "filter": spec.ref,
        "tier": opts.tier,
        "target": opts.target or None,
        "n": opts.n,
        "seed": opts.seed,
        "content_type": content_type,
        "template": str(opts.template or TEMPLATE.name),
        "generation": {
            "requested": len(jobs),
            "cached": cached,
            "generated": len(records),
            "failed_records": len(failed),
            "given_up_before": gave_up,
            "not_generated": len(jobs) - len(records) - len(failed),
            "run": stats.as_dict(),
        },
        "target_tiers": dict(Counter(j.article["tier"] for j in jobs)),
        "prices": {"source": prices.source, "known": prices.known},
        "oracle": cfg.public_dict(),
        "max_cost": o.max_cost,
        "rescore": None,
        "consistency": None,
    }
    write_jsonl(paths["failed"], failed)
    if opts.rescore and records and not error:
        remaining = None if o.max_cost is None else max(0.0, o.max_cost - stats.cost_usd)
        records, report["rescore"], report["consistency"] = rescore(
            spec,
            records,
            paths,
            opts.filter,
            opts.filters_dir,
            replace(o, max_cost=remaining, ledger=str(paths["ledger"])),
        )
    write_jsonl(paths["out"], records)
    run_cost = stats.cost_usd + ((report["rescore"] or {}).get("run") or {}).get("cost_usd", 0.0)
    report["cost_usd"] = round(run_cost, 6)
    with Ledger(paths["ledger"], readonly=True) as ro:
        ledger_cost = sum(s.cost_usd for s in ro.states.values())
    report["ledger_cost_usd_total"] = round(ledger_cost, 6)
    report["records"] = len(records)
    report["files"] = {k: str(v) for k, v in paths.items() if k != "rescore" or opts.rescore}
    report["error"] = error or (None if records else nothing_written(report, stats, failed, cfg))
    write_json(paths["report"], report)
    print_report(report, console_out=not opts.quiet)
    if report["error"]:
        raise DistilleryError(report["error"])
    return 0


def nothing_written(report: dict, stats: RunStats, failed: list[dict], cfg: OracleConfig) -> str:
    """The one error line of a run that produced none of the articles asked for, and why."""
    asked = report["generation"]["requested"]
    if unanswered := stats.unanswered(cfg.endpoint):
        why = unanswered
    elif failed:
        last = failed[-1]
        why = (
            f"{len(failed)} target(s) without a valid article (last: {last['error_type']}: "
            f"{str(last['error'])[:120]}), see {report['files']['failed']}"
        )
    elif report["rescore"]:
        why = f"none of the generated articles was re-scored, see {report['rescore']['folder']}"
    else:
        why = f"nothing was written ({report['generation']['run']['stopped'] or 'no request was answered'})"
    return f"synthesize wrote none of the {asked} article(s) asked for: {why}"


def _console(quiet: bool):
    from rich.console import Console

    return Console(stderr=True, quiet=quiet)


async def _generate(spec, cfg, prices, ledger, pending, budget, console, quiet) -> RunStats:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    client = OracleClient(cfg, spec, api_key(cfg), formats=lambda kind: article_format(spec, kind))
    progress = Progress(
        TextColumn("[bold]writing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("${task.fields[cost]:.4f}"),
        TimeElapsedColumn(),
        console=console,
        disable=quiet or not console.is_terminal,
    )
    task = progress.add_task("writing", total=len(pending), cost=0.0)
    try:
        gen = Generator(
            spec,
            cfg,
            ledger,
            client,
            prices,
            "",
            budget,  # prompt shas are per job: base_record
            lambda job, status, stats: progress.update(task, advance=1, cost=stats.cost_usd),
        )
        with progress:
            return await gen.run(pending)
    finally:
        await client.close()

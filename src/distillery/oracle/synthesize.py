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
import json
import os
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import jinja2
import numpy as np

from distillery.data.records import write_jsonl
from distillery.errors import DistilleryError
from distillery.filters.prompt import template_context, template_env
from distillery.filters.registry import load_filter
from distillery.filters.spec import SCORE_MAX, SCORE_MIN, FilterSpec
from distillery.oracle.client import Completion, OracleClient, estimate_tokens
from distillery.oracle.config import OracleConfig, Prices, api_key, load_config  # noqa: F401 (load_config: re-exported)
from distillery.oracle.ledger import Ledger, cache_key, sha
from distillery.oracle.options import OracleOptions
from distillery.oracle.parsing import InvalidAnswer, decode_json
from distillery.oracle.plan import plan_jobs
from distillery.oracle.run import failed_record
from distillery.oracle.scorer import Budget, OracleJob, OracleScorer, RunStats
from distillery.oracle.synth_report import dry_run, print_report, rescore

TEMPLATE = Path(__file__).parent / "templates" / "synthesize.j2"
MARKER = "distillery-synthesize"  # first words of the rendered prompt (the test server keys on it)
KEY_SUFFIX = "#synthesize"  # ledger keys: filter ref + this, never a scoring key
USER_MESSAGE = 'Write the article now. Reply with the JSON object {"title": ..., "content": ...} only.'
MIN_CONTENT_CHARS = 200  # shorter "articles" are invalid answers (re-asked)
STEP = 0.5  # targets are whole or half points
SPREAD = 1.0  # per-dimension noise (sd) around the article's level
CHUNK, MAX_ROUNDS = 256, 400  # rejection sampling: candidates per round, rounds before giving up
TOPICS = (
    "public health",
    "primary schools",
    "affordable housing",
    "clean energy",
    "public transport",
    "small-scale farming",
    "drinking water and sanitation",
    "local government",
    "digital services",
    "air and river pollution",
    "jobs and training",
    "courts and legal aid",
    "care for older people",
    "disability access",
    "mental health services",
    "food security",
    "disaster recovery",
    "youth programmes",
)
REGIONS = (
    "a mid-sized city in Kenya",
    "rural Peru",
    "a coastal town in Bangladesh",
    "a Midwestern US county",
    "an industrial city in Poland",
    "a district of Jakarta",
    "northern Nigeria",
    "a suburb of Lyon",
    "a remote region of Canada",
    "a province in Vietnam",
    "a neighbourhood of Sao Paulo",
    "rural Romania",
    "a town in Scotland",
    "the outskirts of Nairobi",
    "a city in northern India",
    "a Pacific island nation",
)


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
def parse_target(text: str, spec: FilterSpec) -> dict[str, float]:
    """``dim=score,dim=score`` -> {dim: score}, checked against the spec (one-line errors)."""
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, eq, value = part.partition("=")
        name = name.strip()
        if not eq:
            raise DistilleryError(f"--target: expected dim=score, got {part!r}")
        if name not in spec.dimension_names:
            raise DistilleryError(
                f"--target: unknown dimension {name!r} for {spec.ref}; dimensions: {', '.join(spec.dimension_names)}"
            )
        try:
            score = float(value)
        except ValueError:
            raise DistilleryError(f"--target: {name}={value.strip()!r} is not a number") from None
        if not SCORE_MIN <= score <= SCORE_MAX:
            raise DistilleryError(f"--target: {name}={score:g} is outside {SCORE_MIN:g}-{SCORE_MAX:g}")
        out[name] = score
    if not out:
        raise DistilleryError("--target: no dim=score pairs given")
    return out


def tier_range(spec: FilterSpec, tier: str) -> tuple[int, float, float]:
    """(index, lowest, highest final score) of a tier; a one-line error naming the tiers."""
    if tier not in spec.tier_names:
        raise DistilleryError(f"--tier: unknown tier {tier!r} for {spec.ref}; tiers: {', '.join(spec.tier_names)}")
    k = spec.tier_names.index(tier)
    return k, spec.tiers[k].threshold, spec.tiers[k - 1].threshold if k else SCORE_MAX


def draw_targets(
    spec: FilterSpec,
    n: int,
    seed: int = 0,
    tier: str | None = None,
    fixed: dict[str, float] | None = None,
    content_type: str | None = None,
) -> np.ndarray:
    """(n, D) target scores in ``tier`` under the spec's arithmetic, deterministic for the seed
    (and prefix-stable in ``n``). ``fixed`` dimensions keep their value."""
    k, lo, hi = tier_range(spec, tier) if tier else (None, SCORE_MIN, SCORE_MAX)
    fixed = fixed or {}
    cols = [spec.dimension_names.index(d) for d in fixed]
    rng = np.random.default_rng(seed)
    got: list[np.ndarray] = []
    for _ in range(MAX_ROUNDS):
        level = rng.uniform(lo, hi, CHUNK)
        s = level[:, None] + rng.normal(0.0, SPREAD, (CHUNK, len(spec.dimensions)))
        s = np.clip(np.round(s / STEP) * STEP, SCORE_MIN, SCORE_MAX)
        if cols:
            s[:, cols] = list(fixed.values())
        if k is not None:
            s = s[spec.tier_index(spec.weighted_average(s, content_type)) == k]
        got.append(s)
        if sum(map(len, got)) >= n:
            return np.concatenate(got)[:n]
    given = ",".join(f"{d}={v:g}" for d, v in fixed.items())
    raise DistilleryError(
        f"--tier {tier}: no targets reach that tier of {spec.ref}"
        + (f" with --target {given}" if given else "")
        + (f" for a {content_type}" if content_type else "")
        + f" (after {MAX_ROUNDS * CHUNK} draws): fixed scores, gatekeepers or content-type caps "
        "rule it out"
    )


def article_setting(seed: int, i: int) -> dict[str, Any]:
    """Subject, region and length of article ``i`` (its own seeded stream: prefix-stable)."""
    r = np.random.default_rng([seed, i])
    return {
        "topic": TOPICS[int(r.integers(len(TOPICS)))],
        "region": REGIONS[int(r.integers(len(REGIONS)))],
        "words": int(r.integers(35, 91)) * 10,
    }


# ---- the prompt and the answer ------------------------------------------------------------------
def load_template(path: str | None) -> str:
    p = Path(path) if path else TEMPLATE
    if not p.is_file():
        raise DistilleryError(f"--template: {p} not found")
    return p.read_text(encoding="utf-8")


def render_prompt(
    spec: FilterSpec,
    source: str,
    target: dict[str, float],
    tier: str | None,
    content_type: str,
    setting: dict,
    reference: str,
) -> str:
    """The generation prompt (the system message) for one article."""
    ctx = template_context(spec)
    by_name = {d["name"]: d for d in ctx["dimensions"]}
    targets = [{**by_name[d], "score": f"{target[d]:g}"} for d in spec.dimension_names]
    final = float(spec.weighted_average(spec.labels_vector(target), content_type))
    try:
        text = (
            template_env()
            .from_string(source)
            .render(
                **ctx,
                targets=targets,
                tier=tier,
                final=final,
                content_type=content_type,
                reference=reference,
                **setting,
            )
        )
    except jinja2.TemplateError as e:
        raise DistilleryError(f"synthesize template: {type(e).__name__}: {e}".splitlines()[0]) from None
    return text.strip() + "\n"


def messages(system: str, system_role: bool) -> list[dict[str, str]]:
    if system_role:
        return [{"role": "system", "content": system}, {"role": "user", "content": USER_MESSAGE}]
    return [{"role": "user", "content": f"{system}\n{USER_MESSAGE}"}]


def article_format(spec: FilterSpec, kind: str) -> dict | None:
    """``response_format`` of a generation request for kind json_schema | json_object | none."""
    if kind == "json_schema":
        schema = {
            "type": "object",
            "properties": {"title": {"type": "string"}, "content": {"type": "string"}},
            "required": ["title", "content"],
            "additionalProperties": False,
        }
        return {
            "type": "json_schema",
            "json_schema": {"name": f"{spec.name}_v{spec.version}_article", "strict": True, "schema": schema},
        }
    if kind == "json_object":
        return {"type": "json_object"}
    return None


def parse_article_answer(
    text: str | None, finish_reason: str | None = None, refusal: str | None = None
) -> tuple[dict[str, str], list[str]]:
    """({"title", "content"}, repairs) from a generation answer, or :class:`InvalidAnswer`.
    JSON is found and repaired exactly as for scoring answers (:func:`decode_json`)."""
    if refusal:
        raise InvalidAnswer("refusal", refusal[:200])
    obj, repairs = decode_json(text, finish_reason)
    missing = [k for k in ("title", "content") if k not in obj]
    if missing:
        raise InvalidAnswer(
            "truncated" if finish_reason == "length" else "missing_fields", f"no {missing} in the answer"
        )
    bad = [k for k in ("title", "content") if not isinstance(obj[k], str) or not obj[k].strip()]
    if bad:
        raise InvalidAnswer("bad_fields", f"{bad} must be non-empty strings")
    content = obj["content"].strip()
    if len(content) < MIN_CONTENT_CHARS:
        raise InvalidAnswer("too_short", f"the content has {len(content)} characters (< {MIN_CONTENT_CHARS})")
    return {"title": " ".join(obj["title"].split()), "content": content}, repairs


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
        stats = (
            asyncio.run(_generate(spec, cfg, prices, ledger, pending, budget, console, opts.quiet))
            if pending
            else RunStats()
        )
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
    if opts.rescore and records:
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
    paths["report"].parent.mkdir(parents=True, exist_ok=True)
    paths["report"].write_text(json.dumps(report, indent=2) + "\n")
    print_report(report, console_out=not opts.quiet)
    return 0


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

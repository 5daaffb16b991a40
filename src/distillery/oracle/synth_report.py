"""``distillery synthesize``'s report: ``--rescore`` (``distillery score`` on the generated
articles and the consistency report: MAE between target and re-scored), the dry run and the
tables (see :mod:`distillery.oracle.synthesize`)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np

from distillery.data.records import read_records, write_jsonl
from distillery.errors import DistilleryError
from distillery.filters.spec import FilterSpec
from distillery.oracle.config import OracleConfig, Prices
from distillery.oracle.options import OracleOptions
from distillery.oracle.plan import JobPlan
from distillery.oracle.run import ScoreOptions, call_rows, score
from distillery.oracle.scorer import OracleJob


# ---- --rescore: distillery score on the generated articles, and the consistency report ------------
def rescore(
    spec: FilterSpec,
    records: list[dict],
    paths: dict[str, Path],
    filter_ref: str,
    filters_dir: list[str],
    oracle: OracleOptions,
) -> tuple[list[dict], dict, dict | None]:
    """Score ``records`` with ``distillery score`` (``oracle``: the same oracle config, the shared
    ledger, the budget left) -> (records with re-scored labels, what the scoring run did, the
    consistency report)."""
    folder = paths["rescore"]
    articles = write_jsonl(
        folder / "articles.jsonl", [{k: r[k] for k in ("id", "title", "content", "language")} for r in records]
    )
    try:
        score(
            ScoreOptions(
                filter=filter_ref,
                filters_dir=filters_dir,
                inputs=[str(articles)],
                out=str(folder),
                oracle=oracle,
                quiet=True,
            )
        )
    except DistilleryError as e:  # the generated articles are in the ledger: a re-run does not pay for them again
        raise DistilleryError(f"--rescore (the generated articles are kept in the ledger): {e}") from None
    summary = json.loads((folder / "summary.json").read_text())
    scored = {r["id"]: r for r in read_records([folder / "labelled.jsonl"], spec).records}
    blocked = {r["id"]: r["prefilter_reason"] for r in read_records([folder / "blocked.jsonl"]).records}
    failed = {r["id"]: r.get("error_type") for r in read_records([folder / "failed.jsonl"]).records}
    out = [{**scored[r["id"]], "synthetic": r["synthetic"]} for r in records if r["id"] in scored]
    info = {
        "folder": str(folder),
        "scored": len(out),
        "cached": summary["cached"],
        "blocked": blocked,
        "failed": failed,
        "not_scored": [
            r["id"] for r in records if r["id"] not in scored and r["id"] not in blocked and r["id"] not in failed
        ],
        "run": summary["run"],
    }
    return out, info, consistency(spec, out) if out else None


def consistency(spec: FilterSpec, records: list[dict]) -> dict:
    """MAE between ``synthetic.target`` and the re-scored ``labels``: per dimension, over all
    scores, and of the final score (weighted average with gatekeepers and each side's content
    type cap: the requested form for the target, the oracle's verdict for the re-score)."""
    t = np.array([spec.labels_vector(r["synthetic"]["target"]) for r in records])
    s = np.array([spec.labels_vector(r["labels"]) for r in records])
    ct_t = np.array([r["synthetic"].get("content_type") for r in records], dtype=object)
    ct_s = np.array([(r.get("oracle_answer") or {}).get("content_type") for r in records], dtype=object)
    wa_t, wa_s = spec.weighted_average(t, ct_t), spec.weighted_average(s, ct_s)
    err = s - t
    tiers_s = Counter(spec.tier(wa_s).tolist())
    return {
        "n": len(records),
        "mae": {
            "overall": round(float(np.abs(err).mean()), 4),
            "weighted_average": round(float(np.abs(wa_s - wa_t).mean()), 4),
            "per_dimension": {d: round(float(np.abs(err[:, j]).mean()), 4) for j, d in enumerate(spec.dimension_names)},
        },
        "bias": {d: round(float(err[:, j].mean()), 4) for j, d in enumerate(spec.dimension_names)},
        "tier_agreement": round(float((spec.tier_index(wa_s) == spec.tier_index(wa_t)).mean()), 4),
        "rescored_tiers": {name: tiers_s.get(name, 0) for name in spec.tier_names},
    }


# ---- printing -----------------------------------------------------------------------------------
def dry_run(cfg: OracleConfig, prices: Prices, jobs: list[OracleJob], plan: JobPlan, rescore: bool) -> int:
    from rich.console import Console

    console = Console()
    pending, cached = plan.pending, plan.cached
    job = pending[0][0] if pending else jobs[0]
    a = job.article
    console.rule(f"dry run: the prompt for {a['id']} (target tier {a['tier']}, {cfg.model})")
    for m in job.messages:
        console.print(f"[bold]--- {m['role']} ---[/bold]", highlight=False)
        console.print(m["content"], markup=False, highlight=False)
    prompt_toks = sum(j.est_prompt_tokens for j, _ in pending)
    most = prices.cost(prompt_toks, cfg.max_answer_tokens * len(pending))
    console.print(
        f"to write: {len(pending)} (cached {cached}); prompt tokens (est.) {prompt_toks:,}; "
        f"at most ${most:.4f} for generation"
        + ("" if prices.known else " (no price known)")
        + (" plus one scoring request per article (--rescore)" if rescore else "")
        + "; nothing was sent",
        highlight=False,
    )
    return 0


def print_report(report: dict, console_out: bool = True) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(quiet=not console_out)
    g, run = report["generation"], report["generation"]["run"]
    t = Table(
        title=f"distillery synthesize {report['filter']} "
        + (f"tier {report['tier']}" if report["tier"] else "")
        + (f" {report['target']}" if report["target"] else ""),
        show_header=False,
    )
    t.add_column("", style="bold")
    t.add_column("", justify="right")
    for label, value in (
        ("articles requested", g["requested"]),
        ("cached (free)", g["cached"]),
        ("written now", run["scored"]),
        ("failed (invalid answers)", g["failed_records"]),
        *call_rows(run, "cost (this run)", report["cost_usd"], report["prices"]["known"]),
    ):
        t.add_row(label, str(value))
    console.print(t)
    rs, c = report["rescore"], report["consistency"]
    if rs:
        console.print(
            f"re-scored: {rs['scored']} (cached {rs['cached']}), blocked by the prefilter: {len(rs['blocked'])}, "
            f"failed: {len(rs['failed'])}, not sent: {len(rs['not_scored'])}",
            highlight=False,
        )
    if c:
        m = Table(title=f"consistency: target vs re-scored ({c['n']} articles)")
        for col in ("dimension", "MAE", "bias (re-scored - target)"):
            m.add_column(col, justify="left" if col == "dimension" else "right")
        for d, v in c["mae"]["per_dimension"].items():
            m.add_row(d, f"{v:.3f}", f"{c['bias'][d]:+.3f}")
        m.add_row("[bold]all scores[/bold]", f"{c['mae']['overall']:.3f}", "")
        m.add_row("[bold]weighted average[/bold]", f"{c['mae']['weighted_average']:.3f}", "")
        console.print(m)
        console.print(
            f"tier agreement {c['tier_agreement']:.1%}; re-scored tiers {c['rescored_tiers']}", highlight=False
        )
    if run["stopped"]:
        console.print(
            f"[yellow]stopped early: {run['stopped']}; {run['not_scored']} article(s) not written."
            + ("" if report["error"] else " Re-run the same command to continue (answers in the ledger are free).")
            + "[/yellow]"
        )
    if g["failed_records"]:
        console.print(
            f"{g['failed_records']} target(s) without a valid article: see {report['files']['failed']}", highlight=False
        )
    console.print(
        f"records: {report['files']['out']} ({report['records']}), report: {report['files']['report']}", highlight=False
    )

"""The round's report (step 6, ``report.md`` + ``report.json``): tier mix before/after, the
candidates' tiers, val/test metrics of the old and the new model on the round's new splits, and
the oracle's calls and cost from the ledger."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from distillery.active.context import SPLITS, STEPS, RoundContext, read_jsonl
from distillery.data.records import read_records
from distillery.data.split import label_matrix
from distillery.evaluate.predict import load_predictor
from distillery.filters.spec import FilterSpec
from distillery.oracle.ledger import Ledger
from distillery.rundir import write_json


def tier_counts(spec: FilterSpec, records: Sequence[dict]) -> dict[str, int]:
    """Records per tier of their labels (clamp -> weighted average -> gatekeepers -> tier)."""
    c = Counter(spec.tier(spec.weighted_average(label_matrix(records, spec))).tolist()) if records else Counter()
    return {t: int(c.get(t, 0)) for t in spec.tier_names}


def tier_mix(counts: dict[str, int]) -> dict[str, Any]:
    n = sum(counts.values())
    return {"n": n, "counts": counts, "share": {t: (c / n if n else float("nan")) for t, c in counts.items()}}


def step_report(ctx: RoundContext) -> dict:
    spec = ctx.spec
    old = ctx.old_splits()
    new = {s: read_records([ctx.data_dir / f"{s}.jsonl"], spec).records for s in SPLITS}
    labelled = read_records([ctx.outputs("label")], spec).records
    cands = read_jsonl(ctx.outputs("select"))
    sel = ctx.state.step("select")["summary"]
    lab = ctx.state.step("label")["summary"]
    ctx.say(f"[6/{len(STEPS)}] report: evaluating the old and the new model on the new val/test splits")
    new_model = load_predictor(ctx.retrain_dir, batch_size=ctx.opts.batch_size, threads=ctx.opts.threads)
    metrics: dict[str, Any] = {}
    for s in ("val", "test"):
        recs = new[s]
        if not recs:
            continue
        n_old = len(old[s])
        subsets = {"all": slice(None), "old": slice(0, n_old), "added": slice(n_old, None)}
        metrics[s] = {"n": {"all": len(recs), "old": n_old, "added": len(recs) - n_old}}
        for name, model in (("old_model", ctx.predictor), ("new_model", new_model)):
            metrics[s][name] = split_metrics(spec, model, recs, subsets)
    # oracle accounting from the ledger (cached answers count at what they cost when paid)
    acct = oracle_accounting(Ledger(ctx.ledger_path, readonly=True), lab["keys"])
    report = {
        "run_dir": str(ctx.run_dir.path),
        "retrain_dir": str(ctx.retrain_dir),
        "pool": str(ctx.opts.pool),
        "filter": spec.ref,
        "tiers": spec.tier_names,
        "selection": {
            "mode": ctx.opts.mode,
            "threshold": ctx.opts.threshold,
            "uncertain_top": ctx.opts.uncertain_top,
            "budget": ctx.opts.budget,
            **sel["counts"],
        },
        "tier_mix": {
            "train": {
                "before": tier_mix(tier_counts(spec, old["train"])),
                "after": tier_mix(tier_counts(spec, new["train"])),
            },
            "all": {
                "before": tier_mix(tier_counts(spec, [r for s in SPLITS for r in old[s]])),
                "after": tier_mix(tier_counts(spec, [r for s in SPLITS for r in new[s]])),
            },
            "splits": {s: {"before": len(old[s]), "after": len(new[s])} for s in SPLITS},
            "candidates_predicted": tier_mix(count_tiers(spec, [c["active"]["predicted"]["tier"] for c in cands])),
            "candidates_oracle": tier_mix(tier_counts(spec, labelled)),
        },
        "labelling": {k: lab[k] for k in ("candidates", "labelled", "failed", "missing", "blocked")},
        "oracle": {
            **acct,
            "estimate_typical_usd": lab["estimate"]["typical"]["cost_usd"],
            "estimate_at_most_usd": lab["estimate"]["at most"]["cost_usd"],
            "model": lab["estimate"]["model"],
            "price_known": lab["estimate"]["price_known"],
        },
        "metrics": metrics,
        "metrics_note": "raw model outputs (no calibration) for both models, on the round's new splits",
    }
    write_json(ctx.outputs("report"), report)
    md = report_markdown(report)
    (ctx.out / "report.md").write_text(md)
    ctx.say(md)
    return {"report": str(ctx.outputs("report"))}


def count_tiers(spec: FilterSpec, tiers: Sequence[str]) -> dict[str, int]:
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


def split_metrics(
    spec: FilterSpec, predictor: Any, records: Sequence[dict], subsets: dict[str, slice]
) -> dict[str, Any]:
    """MAE / RMSE / Spearman / weighted-average MAE / tier accuracy of raw outputs, per subset."""
    from distillery.evaluate.metrics import regression_metrics  # imports torch

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
def pct(x: float) -> str:
    return "–" if x != x else f"{100 * x:.1f}%"


def report_markdown(r: dict[str, Any]) -> str:
    tiers = r["tiers"]
    tm = r["tier_mix"]
    sel = r["selection"]
    lines = [
        f"# Active-learning round: {r['filter']}",
        "",
        f"- model before: `{r['run_dir']}`; after: `{r['retrain_dir']}`",
        f"- pool: `{r['pool']}`: {sel['pool']} articles, {sel.get('already_labelled', 0)} already labelled, "
        f"{sel.get('pool_duplicates', 0)} duplicates within the pool",
        f"- selection: {sel['mode']} (predicted weighted average >= {sel['threshold']}"
        + (
            f"; top {sel['uncertain_top']} by conformal interval width"
            if sel["uncertain_top"] is not None
            else "; every needs_review article"
            if sel["mode"] != "threshold"
            else ""
        )
        + f"): {sel['by_threshold']} by threshold, {sel['by_uncertainty']} by uncertainty, {sel['by_both']} both"
        + (f"; budget {sel['budget']} dropped {sel['over_budget']}" if sel["budget"] is not None else "")
        + f" -> {sel['candidates']} candidates",
        f"- oracle ({r['oracle']['model']}): {r['labelling']['labelled']} labelled, {r['labelling']['failed']} "
        f"failed, {r['labelling']['missing']} missing, {r['labelling']['blocked']} blocked by the prefilter; "
        f"{r['oracle']['paid_calls']} paid calls, {r['oracle']['request_errors']} request errors, cost "
        + (
            f"${r['oracle']['cost_usd']:.4f} (estimated ${r['oracle']['estimate_typical_usd']:.4f} typical, "
            f"${r['oracle']['estimate_at_most_usd']:.4f} at most)"
            if r["oracle"]["price_known"]
            else "unknown (no price for this model)"
        ),
        "",
        "## Tier mix of the labelled data",
        "",
        "| tier | train before | train after | Δ | all splits before | all splits after | Δ "
        "| candidates (predicted) | candidates (oracle) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for t in tiers:
        tb, ta = tm["train"]["before"], tm["train"]["after"]
        ab, aa = tm["all"]["before"], tm["all"]["after"]
        cp, co = tm["candidates_predicted"], tm["candidates_oracle"]
        lines.append(
            f"| {t} | {tb['counts'][t]} ({pct(tb['share'][t])}) | {ta['counts'][t]} ({pct(ta['share'][t])}) | "
            f"{100 * (ta['share'][t] - tb['share'][t]):+.1f} pp | {ab['counts'][t]} ({pct(ab['share'][t])}) | "
            f"{aa['counts'][t]} ({pct(aa['share'][t])}) | {100 * (aa['share'][t] - ab['share'][t]):+.1f} pp | "
            f"{cp['counts'][t]} ({pct(cp['share'][t])}) | {co['counts'][t]} ({pct(co['share'][t])}) |"
        )
    n = {k: tm[k] for k in ("train", "all")}
    lines.append(
        f"| **n** | {n['train']['before']['n']} | {n['train']['after']['n']} | | {n['all']['before']['n']} | "
        f"{n['all']['after']['n']} | | {tm['candidates_predicted']['n']} | {tm['candidates_oracle']['n']} |"
    )
    lines += ["", "Splits: " + ", ".join(f"{s} {v['before']} -> {v['after']}" for s, v in tm["splits"].items()), ""]
    for split, m in r["metrics"].items():
        lines += [
            f"## {split} metrics: old vs new model on the new {split} split",
            "",
            f"{m['n']['all']} articles: {m['n']['old']} from the run's {split} split + {m['n']['added']} added "
            "this round. Raw model outputs (no calibration) for both models.",
            "",
            "| metric | subset | old model | new model | Δ |",
            "|---|---|---:|---:|---:|",
        ]
        for metric, _better in (
            ("mae", "lower"),
            ("spearman", "higher"),
            ("tier_accuracy", "higher"),
            ("weighted_mae", "lower"),
            ("rmse", "lower"),
        ):
            for sub in ("all", "old", "added"):
                if sub not in m["old_model"]:
                    continue
                a, b = m["old_model"][sub][metric], m["new_model"][sub][metric]
                lines.append(f"| {metric} | {sub} | {a:.4f} | {b:.4f} | {b - a:+.4f} |")
        lines.append("")
    return "\n".join(lines)

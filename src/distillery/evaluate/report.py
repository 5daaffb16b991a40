"""An eval dir: metrics.json, predictions.jsonl, plots/*.png, report.md, and W&B (offline) logging."""

from __future__ import annotations

import math
import os
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from distillery.evaluate import plots
from distillery.evaluate.evaluation import public, write_predictions
from distillery.filters.spec import FilterSpec
from distillery.rundir import RunDir, write_json

REPORT = "report.md"  # an eval dir's report (the rest of its files are named as in a run dir)


def new_eval_dir(task: str = "evaluate") -> Path:
    """``$DISTILLERY_OUTPUTS/<task>/runs/<time>_<id>`` (like training run dirs)."""
    base = Path(os.environ.get("DISTILLERY_OUTPUTS") or "outputs")
    d = base / task / "runs" / f"{time.strftime('%Y-%m-%d_%H-%M-%S')}_{uuid.uuid4().hex[:6]}"
    d.mkdir(parents=True, exist_ok=False)
    return d


def _f(x: Any, nd: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if isinstance(x, float):
        return f"{x:.{nd}f}"
    return str(x)


def write_plots(
    out: Path, spec: FilterSpec, raw: np.ndarray, true: np.ndarray, m: dict[str, Any], calibrated: bool, label: str
) -> dict[str, Path]:
    a = m["_arrays"]
    d = out / RunDir.PLOTS
    d.mkdir(parents=True, exist_ok=True)
    names = spec.dimension_names
    res = {
        "pred_vs_true": plots.pred_vs_true(
            a["scores"], true, names, d / "pred_vs_true.png", title=f"{label}: MAE {m['mae']:.3f}"
        ),
        "distributions": plots.distributions(
            np.column_stack([a["scores"], a["weighted_average"]]),
            np.column_stack([true, a["wa_true"]]),
            [*names, "weighted_average"],
            d / "distributions.png",
            title=f"{label}: oracle vs student",
        ),
        "calibration_curve": plots.calibration_curve(
            raw,
            a["scores"] if calibrated else None,
            true,
            names,
            d / "calibration_curve.png",
            title=f"{label}: calibration",
        ),
    }
    conf = a.get("confidence")
    if conf is not None:
        err = np.abs(a["weighted_average"] - a["wa_true"])
        jitter = np.random.default_rng(0).uniform(-0.03, 0.03, len(err))
        res["confidence"] = plots.error_vs_uncertainty(
            conf["wa_halfwidth"] + jitter,
            err,
            conf["needs_review"],
            d / "confidence.png",
            "conformal half-width (jittered)",
            label,
        )
    return res


def markdown(
    spec: FilterSpec,
    m: dict[str, Any],
    title: str,
    about: Sequence[tuple[str, str]],
    plot_files: dict[str, Path],
    out: Path,
) -> str:
    L: list[str] = [f"# {title}", ""]
    L += [f"- **{k}**: {v}" for k, v in about]
    L += [
        "",
        "## Headline",
        "",
        "| metric | raw model | " + ("calibrated (final) |" if m["calibrated"] else "final |"),
        "|---|---|---|",
    ]
    for k, name in (
        ("mae", "MAE"),
        ("rmse", "RMSE"),
        ("spearman", "Spearman (mean over dimensions)"),
        ("weighted_mae", "weighted-average MAE"),
        ("tier_accuracy", "tier accuracy"),
    ):
        L.append(f"| {name} | {_f(m['raw'][k])} | {_f(m['final'][k])} |")
    L += [
        "",
        "## Per dimension (final scores)",
        "",
        "| dimension | weight | MAE | RMSE | Spearman | raw MAE |",
        "|---|---|---|---|---|---|",
    ]
    for d in spec.dimensions:
        f = m["final"]
        L.append(
            f"| {d.name} | {d.weight:g} | {_f(f[d.name + '/mae'])} | {_f(f[d.name + '/rmse'])} | "
            f"{_f(f[d.name + '/spearman'])} | {_f(m['raw'][d.name + '/mae'])} |"
        )
    t = m["tiers"]
    L += [
        "",
        "## Tiers (weighted average)",
        "",
        "Confusion matrix: rows = oracle tier, columns = predicted tier.",
        "",
        "| oracle \\ predicted | " + " | ".join(t["tiers"]) + " |",
        "|---" * (len(t["tiers"]) + 1) + "|",
    ]
    for name, row in zip(t["tiers"], t["confusion"]):
        L.append(f"| **{name}** | " + " | ".join(str(x) for x in row) + " |")
    L += ["", "| tier | precision | recall | support | predicted |", "|---|---|---|---|---|"]
    for name, v in t["per_tier"].items():
        L.append(f"| {name} | {_f(v['precision'])} | {_f(v['recall'])} | {v['support']} | {v['predicted']} |")
    r = m["ranking"]
    ks = [k.split("@")[1] for k in r if k.startswith("recall@")]
    L += [
        "",
        f"## Ranking (needle retrieval by weighted average; relevant = oracle tier `{r['relevant_tier']}`, "
        f"{r['n_relevant']} of {r['n']})",
        "",
        "| k | " + " | ".join(ks) + " |",
        "|---" * (len(ks) + 1) + "|",
        "| Recall@k | " + " | ".join(_f(r[f"recall@{k}"]) for k in ks) + " |",
        "| NDCG@k | " + " | ".join(_f(r[f"ndcg@{k}"]) for k in ks) + " |",
        "",
        f"R-precision: {_f(r['r_precision'])}",
    ]
    if "mae_by_cut" in m:
        L += [
            "",
            f"Articles the context strategy cut: {m['cut_share']:.1%}; MAE whole {_f(m['mae_by_cut']['whole'])} "
            f"vs cut {_f(m['mae_by_cut']['cut'])}.",
        ]
    if "confidence" in m:
        c = m["confidence"]
        fw = c["flags_weighted_average_error"]
        L += [
            "",
            "## Confidence (split-conformal, see docs/decisions/003-confidence.md)",
            "",
            f"- target coverage {1 - c['alpha']:.0%}: weighted-average intervals cover {_f(c['coverage_weighted_average'])}, "
            f"per-dimension intervals {_f(c['coverage_dimensions'])}; mean half-width {_f(c['mean_halfwidth'])}",
            f"- flagged for review (half-width > {_f(c['review_threshold'])}): {fw['n_flagged']} of {fw['n']} "
            f"({_f(fw['flagged_share'] * 100, 1)}%)",
            f"- weighted-average |error|: flagged {_f(fw['mae_flagged'])} vs not flagged {_f(fw['mae_unflagged'])} "
            f"(x{_f(fw['ratio'], 2)}); per-dimension MAE flagged {_f(c['flags_dimension_error']['mae_flagged'])} "
            f"vs {_f(c['flags_dimension_error']['mae_unflagged'])}",
            f"- Spearman(half-width, |error|): {_f(c['spearman_halfwidth_error'])}",
        ]
    if "spread" in m:
        s = m["spread"]
        fw = s["flags_weighted_average_error"]
        L += [
            "",
            "## Ensemble spread as uncertainty",
            "",
            f"- mean weighted spread {_f(s['mean'])}; flagged when spread > {_f(s['threshold'])} ({s['threshold_rule']}): "
            f"{fw['n_flagged']} of {fw['n']}",
            f"- weighted-average |error|: flagged {_f(fw['mae_flagged'])} vs not flagged {_f(fw['mae_unflagged'])} "
            f"(x{_f(fw['ratio'], 2)})",
            f"- Spearman(spread, |error|): {_f(s['spearman_spread_error'])}",
        ]
    L += ["", "## Plots", ""]
    for name, p in plot_files.items():
        L.append(f"![{name}]({p.relative_to(out).as_posix()})")
    return "\n".join(L) + "\n"


def log_wandb(
    out: Path,
    m: dict[str, Any],
    plot_files: dict[str, Path],
    name: str,
    config: dict[str, Any],
    job_type: str = "evaluate",
) -> str | None:
    """Log metrics + plots to W&B (offline unless WANDB_MODE says otherwise). Returns the run dir."""
    os.environ.setdefault("WANDB_SILENT", "true")
    import wandb

    mode = os.environ.get("WANDB_MODE", "offline")
    run = wandb.init(
        project="distillery",
        job_type=job_type,
        name=name,
        dir=str(out),
        mode=mode,
        config=config,
        reinit="finish_previous",
    )
    try:
        flat: dict[str, Any] = {}
        for section in ("final", "raw"):
            flat.update({f"{section}/{k}": v for k, v in m[section].items()})
        flat.update({f"ranking/{k}": v for k, v in m["ranking"].items() if isinstance(v, (int, float))})
        for tier, v in m["tiers"]["per_tier"].items():
            flat.update({f"tiers/{tier}/{k}": x for k, x in v.items()})
        for sec in ("confidence", "spread"):
            if sec in m:
                for k, v in m[sec].items():
                    if isinstance(v, dict):
                        flat.update({f"{sec}/{k}/{kk}": vv for kk, vv in v.items()})
                    elif isinstance(v, (int, float)):
                        flat[f"{sec}/{k}"] = v
        run.summary.update(flat)
        run.log({**flat, **{f"plots/{k}": wandb.Image(str(p)) for k, p in plot_files.items()}})
        return str(Path(run.dir).parent)
    finally:
        run.finish()


def write_eval_dir(
    out: Path,
    spec: FilterSpec,
    records: Sequence[dict],
    raw: np.ndarray,
    true: np.ndarray,
    m: dict[str, Any],
    title: str,
    about: Sequence[tuple[str, str]],
    extra: dict[str, Any],
    wandb_on: bool,
    spread: np.ndarray | None = None,
) -> dict[str, Any]:
    plot_files = write_plots(out, spec, raw, true, m, m["calibrated"], title)
    result = {**extra, **public(m)}
    write_predictions(out / RunDir.PREDICTIONS, records, spec, m, raw, spread)
    (out / REPORT).write_text(markdown(spec, m, title, about, plot_files, out))
    if wandb_on:
        result["wandb_dir"] = log_wandb(
            out, m, plot_files, out.name, {k: v for k, v in extra.items() if k != "members"} | {"filter": spec.ref}
        )
    write_json(out / RunDir.METRICS, result)
    return result

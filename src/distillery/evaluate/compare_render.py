"""How ``distillery compare`` shows its table: compare.md's cells, compare.csv, and compare.png's bars
(mean over seeds with the 95% interval as error bars; a delta within seed noise is marked).
The numbers come from :mod:`distillery.evaluate.compare`."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from distillery.evaluate.plots import pyplot

# per-variant columns that only a multi-seed (or per-article paired) comparison fills
SEED_COLS = ["seeds", "val_mae_ci", "delta_ci_low_pct", "delta_ci_high_pct", "distinguishable", "delta_noise"]


def _cell(col: str, v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if col.endswith("_pct"):
        return f"{v:+.1f}%"
    if col in ("train_seconds", "global_step"):  # a mean over seeds is a float
        return f"{v:.0f}"
    if col == "inference_ms_per_article":
        return f"{v:.2f}"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v).replace("|", "\\|")


HEADERS = {
    "variant": "variant",
    "status": "status",
    "val_mae": "best val MAE",
    "delta_vs_baseline_pct": "Δ vs baseline",
    "train_seconds": "train s",
    "inference_ms_per_article": "inference ms/article",
    "error": "error",
    "global_step": "optimizer steps",
    "seeds": "seeds",
    "delta_ci_low_pct": "Δ 95% CI",
    "distinguishable": "Δ ≠ 0?",
}


def _header(col: str) -> str:
    if col.endswith("/val_mae"):
        return f"{col[:-8]} val MAE"
    if col.endswith("/delta_vs_single_pct"):
        return f"{col[:-20]} Δ vs single"
    return HEADERS.get(col, col)


_MERGED = {"val_mae_ci", "delta_ci_high_pct", "delta_noise"}  # shown inside another column's cell


def _row_cell(col: str, r: dict[str, Any]) -> str:
    if col == "val_mae" and r.get("val_mae_ci") is not None and r["val_mae"] is not None:
        return f"{r['val_mae']:.3f} ± {r['val_mae_ci']:.3f}"
    if col == "delta_ci_low_pct":
        lo, hi = r.get("delta_ci_low_pct"), r.get("delta_ci_high_pct")
        return "" if lo is None or hi is None else f"[{lo:+.1f}%, {hi:+.1f}%]"
    if col == "distinguishable" and r.get("distinguishable"):
        return "yes" if r["distinguishable"] == "yes" else "no: within noise"
    if col == "seeds":
        return "" if r.get("seeds") is None else str(r["seeds"])
    return _cell(col, r.get(col))


def markdown(cols: list[str], rows: list[dict[str, Any]], title: str = "") -> str:
    seeded = any((r.get("seeds") or 0) > 1 or r.get("delta_ci_low_pct") is not None for r in rows)
    shown = [
        c
        for c in cols
        if c != "job"
        and c not in _MERGED
        and (c != "error" or any(r["error"] for r in rows))
        and (c not in SEED_COLS or seeded)
        and ":" not in c
    ]  # a multi-filter sweep's <filter>:<dimension> columns: csv only (too wide)
    bold = [c for c in shown if c == "val_mae" or c.endswith("/val_mae")]
    best = {c: min((r[c] for r in rows if r[c] is not None), default=None) for c in bold}
    head = [_header(c) for c in shown]
    lines = ([f"# {title}", ""] if title else []) + [
        "| " + " | ".join(head) + " |",
        "|" + "|".join("---" for _ in shown) + "|",
    ]
    for r in rows:
        cells = []
        for c in shown:
            s = _row_cell(c, r)
            cells.append(f"**{s}**" if c in best and r[c] is not None and r[c] == best[c] else s)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_csv(path: Path, cols: list[str], rows: list[dict[str, Any]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow({c: ("" if r[c] is None else r[c]) for c in cols})
    return path


def per_filter_rows(cols: list[str], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A multi-filter sweep's chart rows: one bar per (filter, job) with that filter's val MAE and
    its Δ vs the single-filter job (the baseline bar); empty for a one-filter sweep."""
    out = []
    for ref in [c[: -len("/val_mae")] for c in cols if c.endswith("/val_mae")]:
        for r in rows:
            if r[f"{ref}/val_mae"] is not None:
                single = r[f"{ref}/delta_vs_single_pct"] is None
                out.append(
                    {
                        "variant": f"{ref}: {r['variant'].replace(' (baseline)', '')}"
                        + (" (baseline)" if single else ""),
                        "val_mae": r[f"{ref}/val_mae"],
                        "status": r["status"],
                        "delta_vs_baseline_pct": r[f"{ref}/delta_vs_single_pct"],
                    }
                )
    return out


def bar_chart(rows: list[dict[str, Any]], out: Path, title: str = "") -> Path:
    plt = pyplot()
    labels = [r["variant"] for r in rows]
    vals = [r["val_mae"] if r["val_mae"] is not None else 0.0 for r in rows]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(rows) + 1.5))
    colors = [
        "tab:gray" if r["status"] != "ok" else ("tab:orange" if "(baseline)" in r["variant"] else "tab:blue")
        for r in rows
    ]
    y = list(range(len(rows)))
    err = [r.get("val_mae_ci") or 0.0 for r in rows]
    ax.barh(y, vals, color=colors, xerr=err if any(err) else None, capsize=3)
    for i, r in enumerate(rows):
        txt = f"{r['val_mae']:.3f}" if r["val_mae"] is not None else r["status"]
        if r["delta_vs_baseline_pct"] is not None and "(baseline)" not in r["variant"]:
            txt += f" ({r['delta_vs_baseline_pct']:+.1f}%)"
        if r.get("distinguishable") == "no":
            txt += " ~noise"
        ax.text(vals[i] + err[i], i, " " + txt, va="center", fontsize=8)
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set(xlabel="best val MAE (lower is better)", title=title or "sweep comparison")
    ax.set_xlim(0, max([v + e for v, e in zip(vals, err)] + [1e-9]) * 1.35)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out

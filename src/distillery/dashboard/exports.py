"""The export adapter: any dir with manifest.json and an ONNX model / parity.json / model card,
read through :class:`~distillery.runtime.manifest.ExportDir` (parity.json, benchmark.json).

The context strategy shown is the manifest's strategy name (``Manifest.strategy_name``, e.g.
``trunc512``, the name its training run shows) when the export keeps it, else its ``kind``
(exports made before the name was kept).

A hybrid dir (``distillery tune-hybrid``, export/tune_hybrid.py: hybrid.json, report.md, a manifest
of ``kind: hybrid`` and copies of both exports under ``stage1/`` and ``stage2/``) is ONE export row:
the tuned threshold and its skip / false-negative rates, with the stages as its ``stages`` (each
read like an export). It is a leaf, so the stage copies are never listed as exports of their own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from distillery.dashboard.common import (
    BENCHMARK,
    Adapter,
    any_exists,
    dig,
    iso_time,
    load_json,
    mtime_iso,
    number,
)
from distillery.runtime.manifest import ExportDir, Manifest

STAGES = ("stage1", "stage2")  # tune_hybrid.py: hybrid.json "stage1" / "stage2" (the copies' folders)


def export_claims(d: Path) -> bool:
    ex = ExportDir(d)
    return ex.is_export() and (
        ex.is_hybrid() or any_exists(ex / ExportDir.PARITY, ex / ExportDir.CARD) or any(d.glob("*.onnx"))
    )


def export_watched(d: Path, prev: dict | None) -> list[Path]:
    ex = ExportDir(d)
    out = [ex / ExportDir.MANIFEST, ex / ExportDir.PARITY, ex / BENCHMARK]
    if ex.is_hybrid():
        out.append(ex / ExportDir.HYBRID)
        for stage in STAGES:
            out += export_watched(d / stage, None)
    return out


def strategy_of(man: dict[str, Any]) -> str | None:
    """``Manifest.strategy_name`` (``trunc512``) when the export keeps it, else the strategy's kind."""
    try:
        name = Manifest.model_validate(man).strategy_name
    except ValidationError:  # an incomplete manifest (a hybrid's, or one being written): read it plainly
        name = dig(man, "context_strategy", "name")
    return name or dig(man, "context_strategy", "kind")


def parity_row(parity: dict[str, Any]) -> dict[str, Any]:
    int8 = parity.get("int8") or {}
    fp32 = parity.get("fp32") or {}
    return {
        "n": parity.get("n"),
        "fp32_max_abs_diff": number(fp32.get("max_abs_diff")),
        "fp32_atol": number(fp32.get("atol")),
        "fp32_passed": fp32.get("passed"),
        "tokenizer_mismatches": dig(fp32, "tokenizer", "mismatched_articles"),
        "int8_config": parity.get("int8_config"),
        "int8_tried": [t.get("config") for t in parity.get("int8_tried") or []],
        "mae_fp32": number(int8.get("mae_fp32")),
        "mae_int8": number(int8.get("mae_int8")),
        "mae_rel_change": number(int8.get("mae_rel_change")),
        "tier_agreement": number(int8.get("tier_agreement")),
        "min_spearman_vs_fp32": number(int8.get("min_spearman_vs_fp32")),
        "int8_mae_tol": number(int8.get("int8_mae_tol")),
        "int8_passed": int8.get("passed"),
    }


def benchmark_row(bench: dict[str, Any]) -> dict[str, Any]:
    rows = []
    for r in bench.get("rows") or []:
        rows.append(
            {
                "length": r.get("length"),
                "backend": r.get("backend"),
                "batch_size": r.get("batch_size"),
                "ms_per_article": number(r.get("ms_per_article")),
                "articles_per_s": number(r.get("articles_per_s")),
                "speedup_vs_pytorch": number(r.get("speedup_vs_pytorch")),
            }
        )
    return {
        "rows": rows,
        "threads": dig(bench, "threads"),
        "cpu": dig(bench, "cpu"),
        "when": iso_time(dig(bench, "when")),
    }


def hybrid_read(d: Path) -> dict[str, Any]:
    """A hybrid dir as one export: its stages (read as exports) are parts of it."""
    ex = ExportDir(d)
    h = load_json(ex / ExportDir.HYBRID) or {}
    tuned = h.get("tuned_on") or {}
    stages = []
    for stage in STAGES:
        sd = d / str(h.get(stage) or stage)
        part = export_read(sd, None) if ExportDir(sd).is_export() else {"status": "incomplete", "error": None}
        stages.append(
            {
                **part,
                "stage": stage,
                "name": f"{d.name}/{sd.name}",
                "path": str(sd),
                "source_export": dig(h, "sources", stage, "export_dir"),
            }
        )
    bad = [s for s in stages if s["status"] != "ok"]
    if tuned.get("meets_target") is False:  # tune-hybrid exits 4 but still writes the dir
        fn, target = number(tuned.get("fn_rate")), number(tuned.get("fn_target"))
        status, error = "failed", f"FN target not met on the tuning data: FN rate {fn} > target {target}"
    elif bad:
        status = "failed" if any(s["status"] == "failed" for s in bad) else "incomplete"
        error = "; ".join(f"{s['stage']}: {s['error']}" for s in bad if s.get("error")) or None
    else:
        status, error = ("ok" if tuned else "incomplete"), None
    s1, s2 = stages
    return {
        "kind": "export",
        "name": d.name,
        "started": mtime_iso(ex / ExportDir.MANIFEST),
        "status": status,
        "error": error,
        "filter": h.get("filter") or (ex.manifest_dict() or {}).get("filter"),
        "source_run": s2.get("source_run"),
        "model": f"{s1.get('model') or '?'} → {s2.get('model') or '?'}",
        "context_strategy": s2.get("context_strategy"),
        "max_tokens": s2.get("max_tokens"),
        "parity": {},
        "sizes": {k: sum(s.get("sizes", {}).get(k) or 0 for s in stages) or None for k in ("fp32", "int8")},
        "train_val_mae": s2.get("train_val_mae"),
        "benchmark": benchmark_row(load_json(ex / BENCHMARK)) if (ex / BENCHMARK).is_file() else None,
        "hybrid": {
            "threshold": number(h.get("threshold")),
            "min_tier": h.get("min_tier"),
            "fn_target": number(h.get("fn_target")),
            "tuned_on": tuned.get("data"),
            "skip_rate": number(tuned.get("skip_rate")),
            "fn_rate": number(tuned.get("fn_rate")),
            "meets_target": tuned.get("meets_target"),
            "check_fn_rate": number(dig(h, "check", "fn_rate")),
            "speedup": number(dig(h, "timing", "speedup")),
            "mae": number(dig(tuned, "hybrid", "mae")),
            "stage2_alone_mae": number(dig(tuned, "stage2_alone", "mae")),
        },
        "stages": stages,
    }


def export_read(d: Path, prev: dict | None) -> dict[str, Any]:
    ex = ExportDir(d)
    if ex.is_hybrid():
        return hybrid_read(d)
    man = (ex.manifest_dict() if ex.is_export() else None) or {}
    parity = load_json(ex / ExportDir.PARITY) or man.get("parity") or {}
    bench = load_json(ex / BENCHMARK)
    int8 = parity.get("int8") or {}
    fp32 = parity.get("fp32") or {}
    passed = bool(fp32.get("passed")) and bool(int8.get("passed"))
    if "parity" in man and passed:
        status = "ok"
    elif parity and (fp32.get("passed") is False or (parity.get("int8_tried") and not int8)):
        status = "failed"
    else:
        status = "incomplete"
    sizes = {
        k: dig(man, "files", v.get("file"), "bytes")
        for k, v in (man.get("models") or {}).items()
        if isinstance(v, dict)
    }
    tm = dig(man, "source", "training_metrics") or {}
    return {
        "kind": "export",
        "name": d.name,
        "started": mtime_iso(ex / ExportDir.MANIFEST),
        "status": status,
        "error": ("; ".join(int8.get("failed_because") or []) or "parity gate failed") if status == "failed" else None,
        "filter": man.get("filter"),
        "source_run": dig(man, "source", "run_dir"),
        "model": dig(man, "base_model", "name"),
        "context_strategy": strategy_of(man),
        "max_tokens": dig(man, "context_strategy", "max_tokens"),
        "export_seconds": number(man.get("export_seconds")),
        "parity": parity_row(parity),
        "sizes": sizes,
        "train_val_mae": number(dig(tm, "val", "mae")),
        "benchmark": benchmark_row(bench) if bench else None,
    }


# version 2: context_strategy is the strategy's name when the manifest keeps it
# version 3: a hybrid dir is one export with its stages as parts
EXPORT = Adapter("export", 3, True, export_claims, export_watched, export_read)

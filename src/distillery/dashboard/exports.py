"""The export adapter: any dir with manifest.json and an ONNX model / parity.json / model card,
read through :class:`~distillery.runtime.manifest.ExportDir` (parity.json, benchmark.json).

The context strategy shown is the manifest's strategy name (``Manifest.strategy_name``, e.g.
``trunc512``, the name its training run shows) when the export keeps it, else its ``kind``
(exports made before the name was kept).
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


def export_claims(d: Path) -> bool:
    ex = ExportDir(d)
    return ex.is_export() and (any_exists(ex / ExportDir.PARITY, ex / ExportDir.CARD) or any(d.glob("*.onnx")))


def export_watched(d: Path, prev: dict | None) -> list[Path]:
    ex = ExportDir(d)
    return [ex / ExportDir.MANIFEST, ex / ExportDir.PARITY, ex / BENCHMARK]


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


def export_read(d: Path, prev: dict | None) -> dict[str, Any]:
    ex = ExportDir(d)
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
EXPORT = Adapter("export", 2, True, export_claims, export_watched, export_read)

"""The gate adapter: a ``distillery gate`` output dir (gate.json + report.md), one row per gate:
verdict, candidate, baseline, holdout, primary metric delta with its CI, failing metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from distillery.dashboard.common import Adapter, dig, load_json, mtime_iso, number
from distillery.release.report import GATE_JSON, GATE_REPORT


def gate_claims(d: Path) -> bool:
    return (d / GATE_JSON).is_file() and (d / GATE_REPORT).is_file()


def gate_watched(d: Path, prev: dict | None) -> list[Path]:
    return [d / GATE_JSON]


def gate_read(d: Path, prev: dict | None) -> dict[str, Any]:
    g = load_json(d / GATE_JSON) or {}
    primary = dig(g, "release", "primary")
    delta = dig(g, "table", primary, "delta") or {}
    return {
        "kind": "gate",
        "name": d.name,
        "started": mtime_iso(d / GATE_JSON),
        "status": "ok" if g.get("passed") else "failed",
        "error": None if g.get("passed") else "failing: " + ", ".join(g.get("failing") or []),
        "filter": g.get("filter"),
        "candidate": dig(g, "candidate", "target"),
        "baseline": dig(g, "baseline", "target"),
        "holdout": dig(g, "holdout", "file"),
        "holdout_n": dig(g, "holdout", "n"),
        "primary": primary,
        "primary_delta": number(delta.get("value")),
        "primary_ci": [number(delta.get("low")), number(delta.get("high"))],
        "failing": g.get("failing") or [],
    }


GATE = Adapter("gate", 1, True, gate_claims, gate_watched, gate_read)

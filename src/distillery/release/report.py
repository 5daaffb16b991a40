"""The gate's outputs: ``gate.json`` (strict JSON: NaN written as null), ``report.md``, the console table."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from distillery.release.bootstrap import Interval
from distillery.runtime.atomic import write_json

GATE_JSON = "gate.json"
GATE_REPORT = "report.md"


def _plain(x: Any) -> Any:
    if isinstance(x, Interval):
        return x.as_dict()
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if hasattr(x, "item"):
        return _plain(x.item())
    return x


def _f(x: float | None) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.4f}"


def table_rows(res: dict[str, Any]) -> list[list[str]]:
    rows = []
    for name, r in res["table"].items():
        c, b = r["scorers"]
        d = r["delta"]
        rows.append(
            [
                name + (" (primary)" if r.get("primary") else ""),
                _f(c.value),
                _f(b.value),
                f"{_f(d.value)} [{_f(d.low)}, {_f(d.high)}]",
                _f(r.get("tolerance")),
                r["verdict"],
            ]
        )
    return rows


HEADER = ["metric", "candidate", "baseline", "delta [CI]", "tolerance", "verdict"]


def write_outputs(res: dict[str, Any], out: Path) -> dict[str, str]:
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / GATE_JSON, _plain(res))
    verdict = "PASS" if res["passed"] else f"FAIL ({', '.join(res['failing'])})"
    lines = [
        f"# Release gate: {verdict}",
        "",
        f"- candidate: `{res['candidate']['target']}` ({res['candidate']['kind']})",
        f"- baseline: `{res['baseline']['target']}` ({res['baseline']['kind']})",
        f"- filter: {res['filter']}; holdout `{res['holdout']['file']}`, {res['holdout']['n']} articles, "
        f"fingerprint {res['holdout']['fingerprint'][:12]}",
        "- overlap with the candidate's training data: "
        + ("not checked (--skip-overlap-check)" if res["overlap"] is None else str(res["overlap"]["count"])),
        f"- primary metric: {res['release']['primary']}; paired bootstrap over articles, "
        f"{res['release']['n_boot']} resamples, {res['release']['level']:.0%} CI",
        *([f"- {res['floor']}"] if res.get("floor") else []),
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "---|" * len(HEADER),
        *("| " + " | ".join(r) + " |" for r in table_rows(res)),
        "",
    ]
    (out / GATE_REPORT).write_text("\n".join(lines))
    return {"gate": str(out / GATE_JSON), "report": str(out / GATE_REPORT)}


def print_table(res: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    verdict = "PASS" if res["passed"] else f"FAIL: {', '.join(res['failing'])}"
    t = Table(title=f"gate {res['filter']} on {res['holdout']['n']} holdout articles: {verdict}")
    for h in HEADER:
        t.add_column(h, justify="left" if h == "metric" else "right")
    for r in table_rows(res):
        t.add_row(*r, style="red" if r[-1] == "FAIL" else None)
    Console().print(t)

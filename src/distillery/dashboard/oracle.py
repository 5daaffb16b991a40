"""The score adapter: an oracle scoring dir (``distillery score --out DIR``, oracle/run.py): any dir
with summary.json next to ledger.jsonl / labelled.jsonl / prefilter_report.json. The ledger
(append-only, oracle/ledger.py) is read incrementally: only what was appended since last time.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from distillery.dashboard.common import (
    LABELLED,
    LEDGER,
    PREFILTER_REPORT,
    SUMMARY,
    Adapter,
    any_exists,
    dig,
    histogram,
    jsonl_records,
    load_json,
    mtime_iso,
    number,
    paths_in,
)

LEDGER_HEAD = 4096


def score_claims(d: Path) -> bool:
    return (d / SUMMARY).is_file() and any_exists(*paths_in(d, LEDGER, LABELLED, PREFILTER_REPORT))


def ledger_path_of(d: Path, prev: dict | None) -> Path:
    """The ledger the row read last time (summary.json may point outside the dir), else ``<d>/ledger.jsonl``."""
    p = dig(prev, "ledger", "path")
    return Path(p) if p else d / LEDGER


def score_watched(d: Path, prev: dict | None) -> list[Path]:
    out = paths_in(d, SUMMARY, PREFILTER_REPORT, LABELLED, LEDGER)
    lp = ledger_path_of(d, prev)
    if lp not in out:
        out.append(lp)
    return out


def head_sha(path: Path, n: int) -> str:
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read(n)).hexdigest()


def read_ledger_incremental(path: Path, prev: dict | None) -> dict[str, Any]:
    """Monthly oracle usage from a ledger, reading only what was appended since ``prev``.

    The ledger is append-only (oracle/ledger.py): when it is at least as long as last time and
    its first bytes are unchanged, the aggregates carry over and only the lines appended since
    are read. Anything else (rewritten, truncated) is read from the start. ``read_bytes`` says
    how much this call read.
    """
    if not path.is_file():
        return {"path": str(path), "offset": 0, "head": None, "head_len": 0, "months": {}, "read_bytes": 0}
    size = path.stat().st_size
    months: dict[str, dict[str, float]] = {}
    offset = 0
    if (
        prev
        and prev.get("path") == str(path)
        and prev.get("head")
        and size >= int(prev.get("offset") or 0)
        and head_sha(path, int(prev["head_len"])) == prev["head"]
    ):
        months = {k: dict(v) for k, v in (prev.get("months") or {}).items()}
        offset = int(prev["offset"])
    with open(path, "rb") as fh:
        fh.seek(offset)
        data = fh.read()
    end = data.rfind(b"\n") + 1  # complete lines only: a line being written is read next time
    for line in data[:end].splitlines():
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(r, dict):
            count_usage(months, r)
    head_len = min(LEDGER_HEAD, offset + end)
    return {
        "path": str(path),
        "offset": offset + end,
        "head": head_sha(path, head_len),
        "head_len": head_len,
        "months": months,
        "read_bytes": end,
    }


def count_usage(months: dict[str, dict[str, float]], r: dict) -> None:
    """Add one ledger line to its ``<month>|<filter>|<model>`` aggregate."""
    month = str(r.get("ts") or "")[:7] or "unknown"
    key = f"{month}|{r.get('filter') or '?'}|{r.get('model') or '?'}"
    a = months.setdefault(
        key,
        {
            "requests": 0,
            "ok": 0,
            "invalid": 0,
            "error": 0,
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "cost_usd": 0.0,
            "latency_s": 0.0,
        },
    )
    a["requests"] += 1
    st = r.get("status")
    a[st if st in ("ok", "invalid") else "error"] += 1
    u = r.get("usage") or {}
    a["prompt_tokens"] += int(u.get("prompt_tokens") or 0)
    a["completion_tokens"] += int(u.get("completion_tokens") or 0)
    a["cost_usd"] += float(r.get("cost_usd") or 0.0)
    a["latency_s"] += float(r.get("latency_s") or 0.0)


def labelled_histograms(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    vals: dict[str, list[float]] = {}
    n = 0
    for r in jsonl_records(path):
        n += 1
        for d, v in (r.get("labels") or {}).items():
            vals.setdefault(d, []).append(float(v))
        wa = number(dig(r, "oracle_answer", "weighted_average"))
        if wa is not None:
            vals.setdefault("weighted_average", []).append(wa)
    return {"n": n, "oracle": {d: histogram(v) for d, v in vals.items()}}


def score_read(d: Path, prev: dict | None) -> dict[str, Any]:
    s = load_json(d / SUMMARY) or {}
    pf = load_json(d / PREFILTER_REPORT) or s.get("prefilter") or {}
    run = s.get("run") or {}
    ledger_path = Path(s["ledger"]) if s.get("ledger") else d / LEDGER
    if not ledger_path.is_absolute() and not ledger_path.is_file():
        ledger_path = d / ledger_path.name
    ledger = read_ledger_incremental(ledger_path, dig(prev, "ledger"))
    return {
        "kind": "score",
        "name": d.name,
        "started": mtime_iso(d / SUMMARY),  # summary.json is rewritten by every `distillery score`
        "status": "failed" if run.get("stopped") else "ok",
        "error": f"stopped early: {run['stopped']}" if run.get("stopped") else None,
        "filter": s.get("filter") or pf.get("filter"),
        "model": dig(s, "oracle", "model"),
        "provider": dig(s, "oracle", "provider"),
        "source": s.get("source"),
        "counts": {
            k: s.get(k)
            for k in ("articles", "blocked", "passed", "audited_blocked", "cached", "labelled", "failed_records")
        },
        "run": {
            k: run.get(k)
            for k in (
                "scored",
                "failed",
                "errors",
                "prompt_tokens",
                "completion_tokens",
                "cost_usd",
                "elapsed_s",
                "http_retries",
                "invalid_answers",
            )
        },
        "articles_per_s": number(s.get("articles_per_s")),
        "ledger_cost_usd_total": number(s.get("ledger_cost_usd_total")),
        "prices_known": dig(s, "prices", "known"),
        "tiers": s.get("tiers"),
        "prefilter": {
            "articles": pf.get("articles"),
            "pass_rate": number(pf.get("pass_rate")),
            "by_reason": pf.get("by_reason") or {},
            "audit_blocked": pf.get("audit_blocked") or {},
            "passed_scored": pf.get("passed_scored") or {},
        },
        "labels": labelled_histograms(d / LABELLED),
        "ledger": ledger,
    }


SCORE = Adapter("score", 1, True, score_claims, score_watched, score_read)

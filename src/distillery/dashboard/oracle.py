"""The oracle adapters. The ledgers (append-only, oracle/ledger.py) are read incrementally: only
what was appended since last time; the cost panel counts each ledger once (site.py ``costs``).

score       a ``distillery score --out DIR`` dir (oracle/run.py): any dir with summary.json next to
            ledger.jsonl / labelled.jsonl / prefilter_report.json
synthesize  a folder of ``distillery synthesize --out <stem>.jsonl`` runs (oracle/synthesize.py
            ``_paths``): ``<stem>.report.json`` (counts, ``cost_usd`` = generation + re-scoring)
            beside ``<stem>.failed.jsonl`` and the ledger ``<stem>.ledger.jsonl`` (or ``--ledger``:
            the report's ``files.ledger``). What it paid shows with or without ``--rescore``; not a
            leaf, so a ``<stem>.rescore/`` score dir is a score row of its own (same ledger, counted once)
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
    SYNTH_FAILED,
    SYNTH_LEDGER,
    SYNTH_REPORT,
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


# ---- synthesize ------------------------------------------------------------------------------------
def synth_stems(d: Path) -> list[str]:
    """The ``<stem>`` of every synthesize run in ``d``: ``<stem>.report.json`` beside ``<stem>.failed.jsonl``
    (a finished run), or in the default folder ``<outputs>/synthesize/<name>_v<N>/`` only
    ``<stem>.ledger.jsonl`` (a run still going, or killed: it paid all the same)."""
    done = (p.name[: -len(SYNTH_REPORT)] for p in d.glob(f"*{SYNTH_REPORT}"))
    going = (p.name[: -len(SYNTH_LEDGER)] for p in d.glob(f"*{SYNTH_LEDGER}")) if d.parent.name == "synthesize" else ()
    return sorted({st for st in done if (d / f"{st}{SYNTH_FAILED}").is_file()} | set(going))


def synth_claims(d: Path) -> bool:
    return bool(synth_stems(d))


def synth_ledger_paths(d: Path, prev: dict | None) -> list[Path]:
    """The ledgers read last time (a report may name one outside ``d``: ``--ledger``) and the default ones."""
    known = [Path(x["path"]) for x in (prev or {}).get("ledgers") or [] if x.get("path")]
    return sorted({*known, *(d / f"{st}{SYNTH_LEDGER}" for st in synth_stems(d))})


def synth_watched(d: Path, prev: dict | None) -> list[Path]:
    out = [d]  # a new run adds files: the folder's mtime changes
    for st in synth_stems(d):
        out += paths_in(d, f"{st}{SYNTH_REPORT}", f"{st}{SYNTH_FAILED}")
    return out + [p for p in synth_ledger_paths(d, prev) if p not in out]


def synth_run(d: Path, stem: str) -> dict[str, Any]:
    """One run from its report (oracle/synthesize.py ``report``); ``finished`` False without one."""
    r = load_json(d / f"{stem}{SYNTH_REPORT}") or {}
    gen = dig(r, "generation", "run") or {}
    res = dig(r, "rescore", "run") or {}
    tokens = {k: int(gen.get(k) or 0) + int(res.get(k) or 0) for k in ("prompt_tokens", "completion_tokens")}
    return {
        "stem": stem,
        "finished": bool(r),
        "filter": r.get("filter"),
        "tier": r.get("tier"),
        "target": r.get("target"),
        "n": r.get("n"),
        "seed": r.get("seed"),
        "records": r.get("records"),
        "generated": dig(r, "generation", "generated"),
        "failed_records": dig(r, "generation", "failed_records"),
        "cost_usd": number(r.get("cost_usd")),
        "generation_cost_usd": number(gen.get("cost_usd")),
        "rescore_cost_usd": number(res.get("cost_usd")),
        **tokens,
        "rescored": r.get("rescore") is not None,
        "consistency_mae": number(dig(r, "consistency", "mae", "overall")),
        "stopped": gen.get("stopped") or res.get("stopped"),
        "model": dig(r, "oracle", "model"),
        "provider": dig(r, "oracle", "provider"),
        "ledger": dig(r, "files", "ledger") or str(d / f"{stem}{SYNTH_LEDGER}"),
        "written": mtime_iso(d / f"{stem}{SYNTH_REPORT}"),
    }


def synth_read(d: Path, prev: dict | None) -> dict[str, Any]:
    runs = [synth_run(d, st) for st in synth_stems(d)]
    old = {x.get("path"): x for x in (prev or {}).get("ledgers") or []}
    ledgers = {p: read_ledger_incremental(Path(p), old.get(p)) for p in dict.fromkeys(x["ledger"] for x in runs)}
    for x in runs:
        if not x["finished"]:  # no report yet: what its ledger says it paid (and for which filter)
            months = ledgers[x["ledger"]]["months"]
            x["cost_usd"] = round(sum(a["cost_usd"] for a in months.values()), 6)
            x["filter"] = next((k.split("|")[1] for k in months), None)
            x["written"] = mtime_iso(Path(x["ledger"]))
    runs.sort(key=lambda x: x["written"] or "")
    stopped = [x for x in runs if x["stopped"]]
    filters = list(dict.fromkeys(x["filter"] for x in runs if x["filter"]))
    row = {
        "kind": "synthesize",
        "name": d.name,
        "started": runs[-1]["written"] if runs else mtime_iso(d),
        "status": "failed" if stopped else ("ok" if all(x["finished"] for x in runs) else "incomplete"),
        "error": f"{stopped[-1]['stem']}: stopped early: {stopped[-1]['stopped']}" if stopped else None,
        "filter": filters[0] if len(filters) == 1 else None,
        "model": runs[-1]["model"] if runs else None,
        "provider": runs[-1]["provider"] if runs else None,
        **synth_totals(runs),
        "ledgers": list(ledgers.values()),
    }
    if len(filters) > 1:  # one --out folder used for several filters: each filter its own runs
        row["filters"] = filters
        row["per_filter"] = {f: synth_totals([x for x in runs if x["filter"] == f]) for f in filters}
    return row


def synth_totals(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The runs and what the page shows of an oracle run (the score row's keys): articles asked
    for, scored now (written), tokens, USD."""
    return {
        "runs": runs,
        "counts": {"articles": sum(int(x["n"] or 0) for x in runs)},
        "run": {
            "scored": sum(int(x["generated"] or 0) for x in runs),
            "prompt_tokens": sum(x["prompt_tokens"] for x in runs),
            "completion_tokens": sum(x["completion_tokens"] for x in runs),
            "cost_usd": round(sum(x["cost_usd"] or 0.0 for x in runs), 6),
        },
    }


SYNTHESIZE = Adapter("synthesize", 1, False, synth_claims, synth_watched, synth_read)

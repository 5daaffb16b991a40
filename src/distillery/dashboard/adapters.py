"""One adapter per run kind: which dirs it claims, which files it watches, how it reads a dir.

An adapter is three small functions and a version:

``claims(dir) -> bool``              from file *names* only (cheap: runs on every scan)
``watched(dir, prev) -> [paths]``     the files whose (mtime, size) make the dir's fingerprint;
                                      ``prev`` is the row read last time (or None)
``read(dir, prev) -> row``            a JSON-able dict; every row has ``kind``, ``name``,
                                      ``started`` (local time, ISO), ``status`` and ``filter``

The registry re-reads a dir only when its fingerprint (the watched files' stats plus the
adapter's ``version``) changed; bump ``version`` when ``read`` changes what it returns.
A dir no adapter claims is not a run (the walk goes on into it); a dir that looks like a run
(``<outputs>/<task>/runs/<dir>`` or a ``run.json``) but of a kind nobody knows is read by the
``other`` adapter, so a new kind shows up in the runs table before it has an adapter.

Kinds and their sources (see docs/dashboard.md):

train     <outputs>/train/runs/<time>_<id>/ and sweep jobs: config.yaml, run.json, metrics.json,
          error.log, wandb/{offline-,}run-*; predictions_{val,test}.jsonl when the run saves them
sweep     <outputs>/train/multiruns/<time>_<id>/: multirun.yaml, compare.{csv,md,png}, job dirs
evaluate  <outputs>/{evaluate,ensemble}/runs/<time>_<id>/: metrics.json (final/raw), run.json,
          predictions.jsonl
export    any dir with manifest.json + an ONNX model / parity.json: parity.json, benchmark.json
score     any dir with summary.json next to ledger.jsonl / labelled.jsonl (``distillery score``):
          summary.json, prefilter_report.json, labelled.jsonl, the ledger (read incrementally)
other     run.json / metrics.json / error.log of a run dir of an unknown kind
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

BIN_WIDTH = 0.5
N_BINS = 20  # scores 0-10 in steps of 0.5 (10.0 falls in the last bin)
_DIR_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})_(\d{2})-(\d{2})-(\d{2})")
MAX_ERROR_CHARS = 400


# ---- helpers --------------------------------------------------------------------------------------
def load_json(path: Path) -> Any:
    """The parsed file, or None if it does not exist. Unreadable JSON raises ValueError."""
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def load_yaml(path: Path) -> Any:
    if not path.is_file():
        return None
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8"))


def dig(d: Any, *keys: str, default: Any = None) -> Any:
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return default
        d = d[k]
    return d


def number(x: Any) -> float | None:
    """A finite float, else None (JSON has no NaN; the page shows None as '–')."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    return float(x) if math.isfinite(x) else None


def numeric(d: Any) -> dict[str, float]:
    """The finite numeric entries of a flat metrics dict."""
    if not isinstance(d, dict):
        return {}
    return {k: v for k, v in ((k, number(v)) for k, v in d.items()) if v is not None}


def iso_time(text: Any) -> str | None:
    """``2026-11-22T02:18:51+0000`` (run.json) -> local naive ISO ``2026-11-22T03:18:51``."""
    if not isinstance(text, str) or not text:
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S"):
        try:
            t = _dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
        if t.tzinfo is not None:
            t = t.astimezone().replace(tzinfo=None)
        return t.isoformat(timespec="seconds")
    try:
        t = _dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if t.tzinfo is not None:
        t = t.astimezone().replace(tzinfo=None)
    return t.isoformat(timespec="seconds")


def dir_time(d: Path) -> str | None:
    """Hydra-style dir names start with the local start time: ``2026-11-22_02-18-41_fa474d``."""
    m = _DIR_TIME.match(d.name)
    return f"{m.group(1)}T{m.group(2)}:{m.group(3)}:{m.group(4)}" if m else None


def mtime_iso(p: Path) -> str | None:
    try:
        return _dt.datetime.fromtimestamp(p.stat().st_mtime).isoformat(timespec="seconds")
    except OSError:
        return None


def started_of(d: Path, run: dict | None) -> str | None:
    return iso_time(dig(run, "started")) or dir_time(d) or mtime_iso(d)


def last_line(path: Path) -> str:
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return (lines[-1] if lines else "error")[:MAX_ERROR_CHARS]


def histogram(values: Iterable[float]) -> list[int]:
    """Counts in ``N_BINS`` bins of ``BIN_WIDTH`` over 0-10 (values outside are clamped)."""
    counts = [0] * N_BINS
    for v in values:
        if v is None or not math.isfinite(v):
            continue
        counts[min(N_BINS - 1, max(0, int(v // BIN_WIDTH)))] += 1
    return counts


def prediction_histograms(path: Path) -> dict[str, Any] | None:
    """Oracle labels vs student scores per dimension from a predictions JSONL.

    Format (``distillery evaluate``'s predictions.jsonl): one object per article with
    ``labels`` {dim: oracle score}, ``scores`` {dim: final student score} and optionally
    ``weighted_average`` / ``oracle_weighted_average``.
    """
    if not path.is_file():
        return None
    oracle: dict[str, list[float]] = {}
    student: dict[str, list[float]] = {}
    n = 0
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                continue
            n += 1
            for d, v in (r.get("labels") or {}).items():
                oracle.setdefault(d, []).append(float(v))
            for d, v in (r.get("scores") or r.get("pred") or {}).items():
                student.setdefault(d, []).append(float(v))
            if number(r.get("oracle_weighted_average")) is not None:
                oracle.setdefault("weighted_average", []).append(float(r["oracle_weighted_average"]))
            if number(r.get("weighted_average")) is not None:
                student.setdefault("weighted_average", []).append(float(r["weighted_average"]))
    return {"n": n, "oracle": {d: histogram(v) for d, v in oracle.items()},
            "student": {d: histogram(v) for d, v in student.items()}}


def dims_of(metrics: dict) -> list[str]:
    """Dimension names in the order of a metrics dict's ``<dim>/mae`` keys."""
    return [k[:-4] for k in metrics if k.endswith("/mae")]


def wandb_info(run_dir: Path, logger_cfg: dict | None) -> dict[str, Any] | None:
    """The W&B run a dir logged to: ``wandb/offline-run-<time>-<id>`` or ``wandb/run-<time>-<id>``."""
    wdir = run_dir / "wandb"
    if not wdir.is_dir():
        return None
    runs = sorted(p for p in wdir.iterdir() if p.is_dir() and (p.name.startswith("offline-run-") or p.name.startswith("run-")))
    if not runs:
        return None
    return wandb_run(runs[-1], logger_cfg)


def wandb_run(p: Path, logger_cfg: dict | None) -> dict[str, Any]:
    """Link facts of one W&B run folder (``offline-run-<time>-<id>``: the id is the last part)."""
    run_id = p.name.rsplit("-", 1)[-1]
    offline = p.name.startswith("offline-")
    project, entity = dig(logger_cfg, "project"), dig(logger_cfg, "entity")
    url = f"https://wandb.ai/{entity}/{project}/runs/{run_id}" if (not offline and entity and project) else None
    return {"id": run_id, "mode": "offline" if offline else "online", "dir": str(p), "project": project,
            "entity": entity, "group": dig(logger_cfg, "group"), "url": url,
            "sync": f"wandb sync {p}" if offline else None}


# ---- the adapter type ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Adapter:
    kind: str
    version: int
    leaf: bool  # True: the walk does not look inside a claimed dir
    claims: Callable[[Path], bool]
    watched: Callable[[Path, dict | None], list[Path]]
    read: Callable[[Path, dict | None], dict]


def _files(d: Path, *names: str) -> list[Path]:
    return [d / n for n in names]


def _has(d: Path, *names: str) -> bool:
    return any((d / n).exists() for n in names)


def _under(d: Path, *tasks: str) -> bool:
    """``<outputs>/<task>/runs/<d>`` for one of ``tasks``."""
    return d.parent.name == "runs" and d.parent.parent.name in tasks


# ---- train ---------------------------------------------------------------------------------------
TRAIN_FILES = ("config.yaml", "run.json", "metrics.json", "error.log", "predictions_val.jsonl", "predictions_test.jsonl")


def train_claims(d: Path) -> bool:
    if _has(d, "report.md", "predictions.jsonl") and not _has(d, "config.yaml"):
        return False  # an eval dir
    return (d / "config.yaml").is_file() or (d / ".hydra").is_dir() or _under(d, "train")


def train_watched(d: Path, prev: dict | None) -> list[Path]:
    out = _files(d, *TRAIN_FILES)
    w = d / "wandb"
    if w.is_dir():
        out.append(w)  # a new W&B run folder changes the dir's mtime
    return out


def train_read(d: Path, prev: dict | None) -> dict[str, Any]:
    cfg = load_yaml(d / "config.yaml") or load_yaml(d / ".hydra" / "config.yaml") or {}
    run = load_json(d / "run.json") or {}
    m = load_json(d / "metrics.json") or {}
    err = d / "error.log"
    if isinstance(m.get("val"), dict):
        status = "ok"
    elif err.is_file():
        status = "failed"
    else:
        status = "incomplete"  # running, or killed before writing metrics
    metrics = {s: numeric(m[s]) for s in ("val", "test") if isinstance(m.get(s), dict)}
    sweep = str(d.parent) if (d.parent / "multirun.yaml").is_file() or d.parent.name == "multiruns" or \
        d.parent.parent.name == "multiruns" else None
    preds = {}
    for split in ("val", "test"):
        h = prediction_histograms(d / f"predictions_{split}.jsonl")
        if h:
            preds[split] = h
    return {
        "kind": "train",
        "name": d.name,
        "started": started_of(d, run),
        "status": status,
        "error": last_line(err) if status == "failed" else None,
        "filter": m.get("filter") or dig(cfg, "filter", "name"),
        "model": dig(cfg, "model", "name"),
        "context_strategy": dig(cfg, "context_strategy", "name"),
        "max_tokens": dig(cfg, "context_strategy", "max_tokens"),
        "loss": dig(cfg, "loss", "name"),
        "seed": m.get("seed", run.get("seed", cfg.get("seed"))),
        "tags": cfg.get("tags") or [],
        "data": {"source": dig(cfg, "data", "source"), "path": dig(cfg, "data", "path"), "n": m.get("n")},
        "git": {"sha": dig(run, "git", "sha"), "dirty": dig(run, "git", "dirty")},
        "command": run.get("command"),
        "epochs": m.get("epochs"),
        "train_seconds": number(m.get("train_seconds")),
        "inference_ms_per_article": number(m.get("inference_ms_per_article")),
        "metrics": metrics,
        "dims": dims_of(metrics.get("val", {})),
        "wandb": wandb_info(d, cfg.get("logger")) if dig(cfg, "logger", "kind", default="wandb") == "wandb" else None,
        "logger": dig(cfg, "logger", "kind"),
        "sweep": sweep,
        "predictions": preds or None,
    }


# ---- sweep ---------------------------------------------------------------------------------------
def sweep_claims(d: Path) -> bool:
    return (d / "multirun.yaml").is_file() or d.parent.name == "multiruns"


def _job_dirs(d: Path) -> list[Path]:
    return sorted(p for p in d.iterdir() if p.is_dir() and _has(p, "metrics.json", "error.log", "config.yaml", ".hydra"))


def sweep_watched(d: Path, prev: dict | None) -> list[Path]:
    out = _files(d, "multirun.yaml", "compare.csv", "compare.md", "optimization_results.yaml")
    out.append(d)  # a new job dir changes the sweep dir's mtime
    for j in _job_dirs(d):
        out += _files(j, "metrics.json", "error.log")
    return out


def sweep_read(d: Path, prev: dict | None) -> dict[str, Any]:
    mr = load_yaml(d / "multirun.yaml") or {}
    jobs: list[dict[str, Any]] = []
    baseline = None
    try:
        from distillery.evaluate.compare import read_sweep

        for j in read_sweep(d):
            jobs.append({"path": str(j.dir), "num": j.num, "variant": j.variant, "status": j.status})
    except Exception:  # noqa: BLE001 - no job dirs yet, or compare changed: list the dirs plainly
        for n, j in enumerate(_job_dirs(d)):
            jobs.append({"path": str(j), "num": n, "variant": j.name.split("_", 1)[-1], "status": None})
    ok = [j for j in jobs if j["status"] == "ok"]
    if ok:
        baseline = ok[0]["path"]
    filt = dig(mr, "filter", "name")
    if not filt:
        for j in jobs:
            mm = load_json(Path(j["path"]) / "metrics.json") if (Path(j["path"]) / "metrics.json").is_file() else None
            if mm and mm.get("filter"):
                filt = mm["filter"]
                break
    statuses = {j["status"] for j in jobs}
    return {
        "kind": "sweep",
        "name": d.name,
        "sweep_name": dig(mr, "hydra", "job", "config_name") or d.name,
        "params": dig(mr, "hydra", "sweeper", "params") or {},
        "started": dir_time(d) or mtime_iso(d),
        "status": "ok" if statuses == {"ok"} else ("failed" if "failed" in statuses else "incomplete"),
        "filter": filt,
        "jobs": jobs,
        "baseline": baseline,
        "wandb_group": dig(mr, "logger", "group"),
        "files": {k: str(d / f) for k, f in (("compare_md", "compare.md"), ("compare_csv", "compare.csv"),
                                              ("compare_png", "compare.png")) if (d / f).is_file()},
    }


# ---- evaluate / ensemble -------------------------------------------------------------------------
def evaluate_claims(d: Path) -> bool:
    if (d / "config.yaml").is_file():
        return False
    return _under(d, "evaluate", "ensemble") or ((d / "metrics.json").is_file() and _has(d, "report.md", "predictions.jsonl"))


def evaluate_watched(d: Path, prev: dict | None) -> list[Path]:
    return _files(d, "metrics.json", "run.json", "predictions.jsonl", "error.log")


def evaluate_read(d: Path, prev: dict | None) -> dict[str, Any]:
    m = load_json(d / "metrics.json") or {}
    run = load_json(d / "run.json") or {}
    task = run.get("task") or (d.parent.parent.name if d.parent.name == "runs" else "evaluate")
    final, raw = numeric(m.get("final")), numeric(m.get("raw"))
    status = "ok" if final else ("failed" if (d / "error.log").is_file() else "incomplete")
    target = m.get("target") or run.get("target")
    wandb = None
    if m.get("wandb_dir"):  # <eval dir>/wandb/offline-run-<time>-<id> (evaluate/report.py)
        wandb = wandb_run(Path(m["wandb_dir"]), {"project": "distillery"})
    elif (d / "wandb").is_dir():
        wandb = wandb_info(d, {"project": "distillery"})
    return {
        "kind": task if task in ("evaluate", "ensemble") else "evaluate",
        "name": d.name,
        "started": started_of(d, run),
        "status": status,
        "error": last_line(d / "error.log") if status == "failed" else None,
        "filter": m.get("filter"),
        "target": target,
        "members": [x.get("target") for x in m.get("members") or []] or run.get("members"),
        "model": m.get("kind"),
        "data": m.get("data"),
        "calibrated": m.get("calibrated"),
        "ms_per_article": number(m.get("ms_per_article")),
        "metrics": {"final": final, "raw": raw},
        "ranking": numeric(m.get("ranking")),
        "dims": dims_of(final),
        "wandb": wandb,
        "predictions": prediction_histograms(d / "predictions.jsonl"),
    }


# ---- export ----------------------------------------------------------------------------------------
def export_claims(d: Path) -> bool:
    return (d / "manifest.json").is_file() and (_has(d, "parity.json", "MODEL_CARD.md") or any(d.glob("*.onnx")))


def export_watched(d: Path, prev: dict | None) -> list[Path]:
    return _files(d, "manifest.json", "parity.json", "benchmark.json")


def export_read(d: Path, prev: dict | None) -> dict[str, Any]:
    man = load_json(d / "manifest.json") or {}
    parity = load_json(d / "parity.json") or man.get("parity") or {}
    bench = load_json(d / "benchmark.json")
    int8 = parity.get("int8") or {}
    fp32 = parity.get("fp32") or {}
    passed = bool(fp32.get("passed")) and bool(int8.get("passed"))
    if "parity" in man and passed:
        status = "ok"
    elif parity and (fp32.get("passed") is False or (parity.get("int8_tried") and not int8)):
        status = "failed"
    else:
        status = "incomplete"
    sizes = {k: dig(man, "files", v.get("file"), "bytes") for k, v in (man.get("models") or {}).items()
             if isinstance(v, dict)}
    rows = []
    for r in (bench or {}).get("rows") or []:
        rows.append({"length": r.get("length"), "backend": r.get("backend"), "batch_size": r.get("batch_size"),
                     "ms_per_article": number(r.get("ms_per_article")), "articles_per_s": number(r.get("articles_per_s")),
                     "speedup_vs_pytorch": number(r.get("speedup_vs_pytorch"))})
    tm = dig(man, "source", "training_metrics") or {}
    return {
        "kind": "export",
        "name": d.name,
        "started": mtime_iso(d / "manifest.json"),
        "status": status,
        "error": ("; ".join(int8.get("failed_because") or []) or "parity gate failed") if status == "failed" else None,
        "filter": man.get("filter"),
        "source_run": dig(man, "source", "run_dir"),
        "model": dig(man, "base_model", "name"),
        "context_strategy": dig(man, "context_strategy", "kind"),
        "max_tokens": dig(man, "context_strategy", "max_tokens"),
        "export_seconds": number(man.get("export_seconds")),
        "parity": {
            "n": parity.get("n"),
            "fp32_max_abs_diff": number(fp32.get("max_abs_diff")), "fp32_atol": number(fp32.get("atol")),
            "fp32_passed": fp32.get("passed"),
            "tokenizer_mismatches": dig(fp32, "tokenizer", "mismatched_articles"),
            "int8_config": parity.get("int8_config"),
            "int8_tried": [t.get("config") for t in parity.get("int8_tried") or []],
            "mae_fp32": number(int8.get("mae_fp32")), "mae_int8": number(int8.get("mae_int8")),
            "mae_rel_change": number(int8.get("mae_rel_change")),
            "tier_agreement": number(int8.get("tier_agreement")),
            "min_spearman_vs_fp32": number(int8.get("min_spearman_vs_fp32")),
            "int8_mae_tol": number(int8.get("int8_mae_tol")), "int8_passed": int8.get("passed"),
        },
        "sizes": sizes,
        "train_val_mae": number(dig(tm, "val", "mae")),
        "benchmark": {"rows": rows, "threads": dig(bench, "threads"), "cpu": dig(bench, "cpu"),
                      "when": iso_time(dig(bench, "when"))} if bench else None,
    }


# ---- score (oracle) ------------------------------------------------------------------------------
def score_claims(d: Path) -> bool:
    return (d / "summary.json").is_file() and _has(d, "ledger.jsonl", "labelled.jsonl", "prefilter_report.json")


def _ledger_path(d: Path, prev: dict | None) -> Path:
    p = dig(prev, "ledger", "path")
    return Path(p) if p else d / "ledger.jsonl"


def score_watched(d: Path, prev: dict | None) -> list[Path]:
    out = _files(d, "summary.json", "prefilter_report.json", "labelled.jsonl", "ledger.jsonl")
    lp = _ledger_path(d, prev)
    if lp not in out:
        out.append(lp)
    return out


LEDGER_HEAD = 4096


def _head_sha(path: Path, n: int) -> str:
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
    if prev and prev.get("path") == str(path) and prev.get("head") and size >= int(prev.get("offset") or 0):
        if _head_sha(path, int(prev["head_len"])) == prev["head"]:
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
            _count(months, r)
    head_len = min(LEDGER_HEAD, offset + end)
    return {"path": str(path), "offset": offset + end, "head": _head_sha(path, head_len), "head_len": head_len,
            "months": months, "read_bytes": end}


def _count(months: dict[str, dict[str, float]], r: dict) -> None:
    month = str(r.get("ts") or "")[:7] or "unknown"
    key = f"{month}|{r.get('filter') or '?'}|{r.get('model') or '?'}"
    a = months.setdefault(key, {"requests": 0, "ok": 0, "invalid": 0, "error": 0, "prompt_tokens": 0,
                                "completion_tokens": 0, "cost_usd": 0.0, "latency_s": 0.0})
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
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                continue
            n += 1
            for d, v in (r.get("labels") or {}).items():
                vals.setdefault(d, []).append(float(v))
            wa = number(dig(r, "oracle_answer", "weighted_average"))
            if wa is not None:
                vals.setdefault("weighted_average", []).append(wa)
    return {"n": n, "oracle": {d: histogram(v) for d, v in vals.items()}}


def score_read(d: Path, prev: dict | None) -> dict[str, Any]:
    s = load_json(d / "summary.json") or {}
    pf = load_json(d / "prefilter_report.json") or s.get("prefilter") or {}
    run = s.get("run") or {}
    ledger_path = Path(s["ledger"]) if s.get("ledger") else d / "ledger.jsonl"
    if not ledger_path.is_absolute() and not ledger_path.is_file():
        ledger_path = d / ledger_path.name
    ledger = read_ledger_incremental(ledger_path, dig(prev, "ledger"))
    return {
        "kind": "score",
        "name": d.name,
        "started": mtime_iso(d / "summary.json"),  # summary.json is rewritten by every `distillery score`
        "status": "failed" if run.get("stopped") else "ok",
        "error": f"stopped early: {run['stopped']}" if run.get("stopped") else None,
        "filter": s.get("filter") or pf.get("filter"),
        "model": dig(s, "oracle", "model"),
        "provider": dig(s, "oracle", "provider"),
        "source": s.get("source"),
        "counts": {k: s.get(k) for k in ("articles", "blocked", "passed", "audited_blocked", "cached", "labelled",
                                         "failed_records")},
        "run": {k: run.get(k) for k in ("scored", "failed", "errors", "prompt_tokens", "completion_tokens", "cost_usd",
                                        "elapsed_s", "http_retries", "invalid_answers")},
        "articles_per_s": number(s.get("articles_per_s")),
        "ledger_cost_usd_total": number(s.get("ledger_cost_usd_total")),
        "prices_known": dig(s, "prices", "known"),
        "tiers": s.get("tiers"),
        "prefilter": {
            "articles": pf.get("articles"), "pass_rate": number(pf.get("pass_rate")),
            "by_reason": pf.get("by_reason") or {},
            "audit_blocked": pf.get("audit_blocked") or {},
            "passed_scored": pf.get("passed_scored") or {},
        },
        "labels": labelled_histograms(d / "labelled.jsonl"),
        "ledger": ledger,
    }


# ---- anything else that looks like a run -----------------------------------------------------------
def other_claims(d: Path) -> bool:
    return d.parent.name == "runs" or (d / "run.json").is_file()


def other_watched(d: Path, prev: dict | None) -> list[Path]:
    return _files(d, "run.json", "metrics.json", "error.log")


def other_read(d: Path, prev: dict | None) -> dict[str, Any]:
    run = load_json(d / "run.json") or {}
    try:
        m = load_json(d / "metrics.json") or {}
    except ValueError:
        m = {}
    err = d / "error.log"
    return {
        "kind": run.get("task") or (d.parent.parent.name if d.parent.name == "runs" else "other"),
        "name": d.name,
        "started": started_of(d, run),
        "status": "failed" if err.is_file() else ("ok" if m else "incomplete"),
        "error": last_line(err) if err.is_file() else None,
        "filter": m.get("filter") if isinstance(m, dict) else None,
        "unknown_kind": True,
    }


ADAPTERS: tuple[Adapter, ...] = (
    Adapter("score", 1, True, score_claims, score_watched, score_read),
    Adapter("export", 1, True, export_claims, export_watched, export_read),
    Adapter("sweep", 1, False, sweep_claims, sweep_watched, sweep_read),
    Adapter("evaluate", 1, True, evaluate_claims, evaluate_watched, evaluate_read),
    Adapter("train", 1, True, train_claims, train_watched, train_read),
    Adapter("other", 1, True, other_claims, other_watched, other_read),
)
BY_KIND = {a.kind: a for a in ADAPTERS}


def adapter_for(d: Path) -> Adapter | None:
    for a in ADAPTERS:
        try:
            if a.claims(d):
                return a
        except OSError:
            continue
    return None

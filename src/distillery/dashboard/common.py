"""What every adapter shares: the :class:`Adapter` type, the names of the files no typed class
spells, and small readers (JSON / YAML, numbers, times, error lines, score histograms, W&B links).

Training run dirs are named by :class:`distillery.rundir.RunDir` and export dirs by
:class:`distillery.runtime.manifest.ExportDir`; the constants below are the other artifacts the
dashboard reads, each named here once.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distillery.rundir import RunDir

# ---- file names no typed class spells (one place) ---------------------------------------------------
# oracle scoring (oracle/run.py, ledger.py): ``distillery score --out DIR``
SUMMARY = "summary.json"
LEDGER = "ledger.jsonl"
LABELLED = "labelled.jsonl"
PREFILTER_REPORT = "prefilter_report.json"
# ``distillery synthesize --out <stem>.jsonl`` (oracle/synthesize.py ``_paths``): files beside the records
SYNTH_REPORT = ".report.json"
SYNTH_FAILED = ".failed.jsonl"
SYNTH_LEDGER = ".ledger.jsonl"
SYNTH_RESCORE = ".rescore"  # with --rescore: a ``distillery score`` folder
# evaluation (evaluate/report.py) and export benchmark (export/benchmark.py)
REPORT = "report.md"
BENCHMARK = "benchmark.json"
# sweeps (Hydra multirun + evaluate/compare.py)
MULTIRUN = "multirun.yaml"
COMPARE_CSV = "compare.csv"
COMPARE_MD = "compare.md"
COMPARE_PNG = "compare.png"
OPTIMIZATION_RESULTS = "optimization_results.yaml"  # Optuna sweeper

BIN_WIDTH = 0.5
N_BINS = 20  # scores 0-10 in steps of 0.5 (10.0 falls in the last bin)
MAX_ERROR_CHARS = 400
LAUNCH_GRACE_S = 120  # a sweep with no job dir this long after multirun.yaml was written did not launch
_DIR_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})_(\d{2})-(\d{2})-(\d{2})")


# ---- the adapter type ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Adapter:
    kind: str
    version: int
    leaf: bool  # True: the walk does not look inside a claimed dir
    claims: Callable[[Path], bool]
    watched: Callable[[Path, dict | None], list[Path]]
    read: Callable[[Path, dict | None], dict]


def paths_in(d: Path, *names: str) -> list[Path]:
    return [d / n for n in names]


def any_exists(*paths: Path) -> bool:
    return any(p.exists() for p in paths)


def under_task(d: Path, *tasks: str) -> bool:
    """``<outputs>/<task>/runs/<d>`` for one of ``tasks``."""
    return d.parent.name == "runs" and d.parent.parent.name in tasks


def task_of(d: Path, default: str) -> str:
    """``<task>`` of ``<outputs>/<task>/runs/<d>``, else ``default``."""
    return d.parent.parent.name if d.parent.name == "runs" else default


# ---- readers -------------------------------------------------------------------------------------
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


def dims_of(metrics: dict) -> list[str]:
    """Dimension names in the order of a metrics dict's ``<dim>/mae`` keys."""
    return [k[:-4] for k in metrics if k.endswith("/mae")]


def _local_iso(t: _dt.datetime) -> str:
    if t.tzinfo is not None:
        t = t.astimezone().replace(tzinfo=None)
    return t.isoformat(timespec="seconds")


def iso_time(text: Any) -> str | None:
    """``2026-11-22T02:18:51+0000`` (run.json) -> local naive ISO ``2026-11-22T03:18:51``."""
    if not isinstance(text, str) or not text:
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S"):
        try:
            return _local_iso(_dt.datetime.strptime(text, fmt))
        except ValueError:
            continue
    try:
        return _local_iso(_dt.datetime.fromisoformat(text))
    except ValueError:
        return None


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


# ---- score histograms ----------------------------------------------------------------------------
def histogram(values: Iterable[float]) -> list[int]:
    """Counts in ``N_BINS`` bins of ``BIN_WIDTH`` over 0-10 (values outside are clamped)."""
    counts = [0] * N_BINS
    for v in values:
        if v is None or not math.isfinite(v):
            continue
        counts[min(N_BINS - 1, max(0, int(v // BIN_WIDTH)))] += 1
    return counts


def jsonl_records(path: Path) -> Iterable[Any]:
    """The parsed lines of a JSONL file (lines that are not JSON are skipped)."""
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue


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
    for r in jsonl_records(path):
        n += 1
        for d, v in (r.get("labels") or {}).items():
            oracle.setdefault(d, []).append(float(v))
        for d, v in (r.get("scores") or r.get("pred") or {}).items():
            student.setdefault(d, []).append(float(v))
        if number(r.get("oracle_weighted_average")) is not None:
            oracle.setdefault("weighted_average", []).append(float(r["oracle_weighted_average"]))
        if number(r.get("weighted_average")) is not None:
            student.setdefault("weighted_average", []).append(float(r["weighted_average"]))
    return {
        "n": n,
        "oracle": {d: histogram(v) for d, v in oracle.items()},
        "student": {d: histogram(v) for d, v in student.items()},
    }


# ---- W&B -----------------------------------------------------------------------------------------
def wandb_info(run_dir: Path, logger_cfg: dict | None) -> dict[str, Any] | None:
    """The W&B run a dir logged to: ``wandb/offline-run-<time>-<id>`` or ``wandb/run-<time>-<id>``."""
    wdir = RunDir(run_dir).wandb_dir
    if not wdir.is_dir():
        return None
    runs = sorted(
        p for p in wdir.iterdir() if p.is_dir() and (p.name.startswith("offline-run-") or p.name.startswith("run-"))
    )
    if not runs:
        return None
    return wandb_run(runs[-1], logger_cfg)


def wandb_run(p: Path, logger_cfg: dict | None) -> dict[str, Any]:
    """Link facts of one W&B run folder (``offline-run-<time>-<id>``: the id is the last part)."""
    run_id = p.name.rsplit("-", 1)[-1]
    offline = p.name.startswith("offline-")
    project, entity = dig(logger_cfg, "project"), dig(logger_cfg, "entity")
    url = f"https://wandb.ai/{entity}/{project}/runs/{run_id}" if (not offline and entity and project) else None
    return {
        "id": run_id,
        "mode": "offline" if offline else "online",
        "dir": str(p),
        "project": project,
        "entity": entity,
        "group": dig(logger_cfg, "group"),
        "url": url,
        "sync": f"wandb sync {p}" if offline else None,
    }

"""The run registry: one SQLite row per run dir, kept in step with the dirs incrementally.

``Registry(db, roots).update()`` walks the roots (the outputs folder, plus any extra folders such
as ``exports/``), asks the adapters (adapters.py) which dirs are runs, and for each run dir
computes a *fingerprint*: the adapter's kind and version plus ``(name, mtime_ns, size)`` of the
files that adapter watches (a run's metrics / run info / error log, an export's manifest, the ledger, ...).
A dir whose fingerprint equals the stored one is not read again (unless its row asked to be, at
``recheck_at``); a changed or new dir is read
by its adapter and its row replaced; a row whose dir is gone is deleted. The walk itself only
lists folders and stats a handful of files per run, so a rebuild over thousands of runs costs
milliseconds per unchanged run.

Table ``runs``: ``path`` (absolute dir, primary key), ``kind``, ``fingerprint``, ``row`` (JSON:
what the adapter read), ``read_at`` (unix time). A row that could not be read (bad JSON, a file
being written) is stored with ``status: unreadable`` and retried when its files change.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distillery.dashboard.adapters import ADAPTERS, Adapter, adapter_for
from distillery.dashboard.common import dig, dir_time, mtime_iso, number
from distillery.rundir import RunDir

SCHEMA = 1
MAX_DEPTH = 5  # <outputs>/train/multiruns/<sweep>/<job> is depth 4
SKIP_DIRS = frozenset(
    {
        RunDir.CHECKPOINT,
        RunDir.CHECKPOINTS,
        RunDir.PLOTS,
        "wandb",
        "csv",
        "tokenizer",
        "adapter",
        "__pycache__",
        "node_modules",
        "lightning_logs",
        "optuna",
    }
)


@dataclass
class UpdateStats:
    discovered: int = 0
    read: int = 0
    unchanged: int = 0
    removed: int = 0
    unreadable: int = 0
    seconds: float = 0.0
    read_paths: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{self.discovered} run dirs: {self.read} read, {self.unchanged} unchanged, {self.removed} removed"
            + (f", {self.unreadable} unreadable" if self.unreadable else "")
            + f" ({self.seconds:.2f} s)"
        )


def default_outputs() -> Path:
    return Path(os.environ.get("DISTILLERY_OUTPUTS") or "outputs")


def fingerprint(adapter: Adapter, d: Path, prev: dict | None) -> str:
    stats: list[list[Any]] = []
    for p in adapter.watched(d, prev):
        try:
            st = p.stat()
        except OSError:
            continue
        name = str(p.relative_to(d)) if p.is_relative_to(d) else str(p)
        stats.append([name, st.st_mtime_ns, st.st_size if p.is_file() else 0])
    return json.dumps([adapter.kind, adapter.version, stats], separators=(",", ":"))


def recheck_due(prev: dict | None) -> bool:
    """A row may ask to be read again at a time (``recheck_at``, unix seconds) even if no file
    changed: a sweep that has not started a job yet is failed once its launch window passed."""
    due = number(dig(prev, "recheck_at"))
    return due is not None and time.time() >= due


def discover(roots: list[Path], skip: set[Path] | None = None) -> Iterator[tuple[Adapter, Path]]:
    """(adapter, dir) for every run dir under ``roots`` (each dir once, roots in order)."""
    skip = {p.resolve() for p in (skip or set())}
    seen: set[Path] = set()

    def walk(d: Path, depth: int) -> Iterator[tuple[Adapter, Path]]:
        rd = d.resolve()
        if rd in seen or rd in skip:
            return
        seen.add(rd)
        a = adapter_for(d) if depth > 0 or not _is_outputs_like(d) else None
        if a is not None:
            yield a, rd
            if a.leaf:
                return
        if depth >= MAX_DEPTH:
            return
        try:
            children = sorted(
                p for p in d.iterdir() if p.is_dir() and not p.name.startswith(".") and p.name not in SKIP_DIRS
            )
        except OSError:
            return
        for c in children:
            yield from walk(c, depth + 1)

    for r in roots:
        if Path(r).is_dir():
            yield from walk(Path(r), 0)


def _is_outputs_like(d: Path) -> bool:
    """A root that is itself a run dir (``--scan exports/uplifting_v6``) is a run; a folder of
    folders (the outputs root) is not, even if it has a stray run.json."""
    return any((d / t).is_dir() for t in ("train", "evaluate", "oracle", "ensemble", "runs"))


class Registry:
    def __init__(self, db_path: Path | str, roots: list[Path | str], skip: list[Path | str] | None = None):
        self.db_path = Path(db_path)
        self.roots = [Path(r) for r in roots]
        self.skip = {Path(p) for p in (skip or [])} | {self.db_path.parent}
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self.con = sqlite3.connect(str(self.db_path), timeout=30)
        self._schema()

    def _schema(self) -> None:
        c = self.con
        c.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        v = c.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        if v is None or int(v[0]) != SCHEMA:
            c.execute("DROP TABLE IF EXISTS runs")
            c.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA),))
        c.execute(
            "CREATE TABLE IF NOT EXISTS runs (path TEXT PRIMARY KEY, kind TEXT NOT NULL, "
            "fingerprint TEXT NOT NULL, row TEXT NOT NULL, read_at REAL NOT NULL)"
        )
        c.commit()

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def update(self, full: bool = False) -> UpdateStats:
        """Bring the table in step with the dirs; ``full`` re-reads every dir."""
        t0 = time.perf_counter()
        stats = UpdateStats()
        stored = {p: (k, fp, r) for p, k, fp, r in self.con.execute("SELECT path, kind, fingerprint, row FROM runs")}
        present: set[str] = set()
        with self.con:
            for adapter, d in discover(self.roots, self.skip):
                key = str(d)
                present.add(key)
                stats.discovered += 1
                old = stored.get(key)
                prev = json.loads(old[2]) if old and old[0] == adapter.kind else None
                fp = fingerprint(adapter, d, prev)
                if old and not full and old[0] == adapter.kind and old[1] == fp and not recheck_due(prev):
                    stats.unchanged += 1
                    continue
                try:
                    row = adapter.read(d, prev)
                except Exception as e:  # noqa: BLE001 - one bad dir never breaks the dashboard
                    stats.unreadable += 1
                    row = {
                        "kind": adapter.kind,
                        "name": d.name,
                        "started": dir_time(d) or mtime_iso(d),
                        "status": "unreadable",
                        "error": f"{type(e).__name__}: {e}"[:400],
                        "filter": (prev or {}).get("filter"),
                    }
                row["path"] = key
                self.con.execute(
                    "INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?)",
                    (key, adapter.kind, fp, json.dumps(row, default=str), time.time()),
                )
                stats.read += 1
                stats.read_paths.append(key)
            gone = [p for p in stored if p not in present]
            self.con.executemany("DELETE FROM runs WHERE path = ?", [(p,) for p in gone])
            stats.removed = len(gone)
        stats.seconds = time.perf_counter() - t0
        return stats

    def rows(self, kind: str | None = None) -> list[dict[str, Any]]:
        q = "SELECT row FROM runs" + (" WHERE kind = ?" if kind else "") + " ORDER BY path"
        return [json.loads(r) for (r,) in self.con.execute(q, (kind,) if kind else ())]


__all__ = ["ADAPTERS", "Registry", "UpdateStats", "default_outputs", "discover", "fingerprint"]

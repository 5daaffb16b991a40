"""The ledger: every oracle answer, appended durably the moment it arrives.

One JSON object per line (see docs/decisions/002-oracle-ledger.md for why JSONL). Each line is
written with ``write`` + ``flush`` + ``fsync`` before the scorer moves on, so a crash or
``kill -9`` loses at most the requests still in flight; a torn last line (killed mid-write) is
cut off when the ledger is next opened. One process at a time may write a ledger (an
exclusive ``flock``; the OS releases it when the process dies).

Lines have a ``status``:

``ok``       a valid answer (paid) -> cache hit forever
``invalid``  a paid answer that failed validation; after ``1 + invalid_retries`` of them the
             key is given up (a failed record), until ``--retry-failed``
``error``    no answer (timeouts/429/5xx after the SDK's retries, bad request): free, never a
             cache hit, retried on the next run

A key is ``sha256`` of (filter ref, oracle model, sampling params, the rendered messages), and
the rendered messages contain the system prompt (from the template and spec) and the article:
a changed article, prompt, model or sampling parameter changes exactly the affected keys.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distillery.errors import DistilleryError

try:  # POSIX only; elsewhere the lock is skipped (one writer is then the user's job)
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

KEY_VERSION = 1


def cache_key(filter_ref: str, model: str, sampling: dict[str, Any], messages: list[dict]) -> str:
    payload = {"v": KEY_VERSION, "filter": filter_ref, "model": model, "sampling": sampling, "messages": messages}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class KeyState:
    """What the ledger knows about one key."""

    ok: dict | None = None
    invalid: list[dict] = field(default_factory=list)  # paid, failed validation (oldest first)
    errors: int = 0
    last_error: dict | None = None
    cost_usd: float = 0.0

    @property
    def last_invalid(self) -> dict | None:
        return self.invalid[-1] if self.invalid else None


class Ledger:
    """Append-only JSONL store of oracle answers, indexed by key in memory."""

    def __init__(self, path: str | Path, lock: bool = True, readonly: bool = False):
        self.path = Path(path)
        self.readonly = readonly
        self.states: dict[str, KeyState] = {}
        self.recovered_bytes = 0
        self.bad_lines: list[int] = []
        self._fd = -1
        self._lock = threading.Lock()  # append() may run on a writer thread
        if readonly:  # for --dry-run and reports: no lock, no repair, nothing created
            if self.path.is_file():
                self._load()
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        if lock and fcntl is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(self._fd)
                raise DistilleryError(f"{self.path} is in use by another `distillery score` process") from None
        self._load()

    # ---- reading ------------------------------------------------------------------------------
    def _load(self) -> None:
        with open(self.path, "rb") as fh:
            data = fh.read()
        end = len(data)
        if data and not data.endswith(b"\n") and not self.readonly:  # torn last line (killed mid-write)
            end = data.rfind(b"\n") + 1
            self.recovered_bytes = len(data) - end
            os.ftruncate(self._fd, end)
            os.fsync(self._fd)
            print(
                f"ledger {self.path}: dropped a partial last line ({self.recovered_bytes} bytes) "
                "left by an interrupted run",
                file=sys.stderr,
            )
        for n, line in enumerate(data[:end].splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                self._index(rec)
            except (json.JSONDecodeError, KeyError, TypeError):
                self.bad_lines.append(n)
        if self.bad_lines:
            print(
                f"ledger {self.path}: skipped {len(self.bad_lines)} unreadable line(s), "
                f"first at line {self.bad_lines[0]}",
                file=sys.stderr,
            )

    def _index(self, rec: dict) -> None:
        st = self.states.setdefault(rec["key"], KeyState())
        st.cost_usd += float(rec.get("cost_usd") or 0.0)
        status = rec["status"]
        if status == "ok":
            st.ok = rec
        elif status == "invalid":
            st.invalid.append(rec)
        else:
            st.errors += 1
            st.last_error = rec

    def state(self, key: str) -> KeyState:
        return self.states.get(key) or KeyState()

    def __contains__(self, key: str) -> bool:
        st = self.states.get(key)
        return bool(st and st.ok)

    def __len__(self) -> int:
        return len(self.states)

    # ---- writing ------------------------------------------------------------------------------
    def append(self, record: dict) -> None:
        """Write one record durably (write + fsync) and index it."""
        if self._fd < 0:
            raise RuntimeError(f"ledger {self.path} is closed or read-only")
        record.setdefault("ts", time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        line = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        with self._lock:
            view = memoryview(line)
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
            os.fsync(self._fd)
            self._index(record)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # also releases the flock
            self._fd = -1

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover
        try:
            self.close()
        except Exception:
            pass


def read_ledger(path: str | Path) -> Iterable[dict]:
    """Every readable record of a ledger file, in order (for reports and audits; no lock)."""
    with open(path, "rb") as fh:
        for line in fh:
            if line.endswith(b"\n"):
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    continue

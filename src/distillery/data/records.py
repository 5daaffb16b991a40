"""The data contract, read and written in one place.

Article: ``{"id", "title", "content"}`` plus optional ``url, source, published_date, language`` and
``group`` (a string: records of one group, e.g. the same source story or writer, always land in
the same split; see :mod:`distillery.data.dedupe`).
Labelled record: an article plus ``"labels": {dimension: float 0-10}`` keyed by the filter's
dimension names, plus provenance ``oracle``, ``filter``, ``filter_version``.

Every problem names its file and line. Nothing is dropped silently: with ``skip_invalid`` the
bad lines are returned in a report instead of raising.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from distillery.errors import DistilleryError

if TYPE_CHECKING:
    from distillery.filters.spec import FilterSpec

ARTICLE_REQUIRED = ("id", "title", "content")
ARTICLE_OPTIONAL = ("url", "source", "published_date", "language", "group")


@dataclass
class ReadReport:
    """What was read, and every line that was skipped and why."""

    records: list[dict] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "file:line: reason"
    where: list[str] = field(default_factory=list)  # "file:line" of each record, parallel to records


class BadLine(str):
    """Why a JSONL line could not be parsed (``iter_jsonl`` yields it in place of the object)."""


def parse_line(raw: bytes, n: int) -> Any | BadLine | None:
    """One JSONL line (bytes, newline included or not) -> the parsed value, a :class:`BadLine`
    naming the line and column of the problem, or None for a blank line. Never raises."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as e:  # the prefix before e.start is valid UTF-8: count its characters
        col = len(raw[: e.start].decode("utf-8")) + 1
        return BadLine(f"not UTF-8 (byte 0x{raw[e.start]:02x} at column {col})")
    if n == 1:
        line = line.removeprefix("\ufeff")  # a UTF-8 byte-order mark some editors write
    line = line.rstrip("\r\n")  # so a line cut inside a string reads as such, not as a raw newline in it
    if not line.strip():
        return None
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        if e.msg.startswith("Unterminated string"):  # json points at the opening quote; the break is the line's end
            return BadLine(
                f"broken JSON at line {n} column {len(line) + 1}: the line ends inside a string "
                f"(opened at column {e.colno})"
            )
        return BadLine(f"broken JSON at line {n} column {e.colno}: {e.msg.removesuffix(' at')}")
    except RecursionError:
        return BadLine(f"broken JSON at line {n}: nested too deeply to parse")
    except ValueError as e:  # e.g. an integer beyond Python's digit limit
        return BadLine(f"broken JSON at line {n}: {str(e).splitlines()[0]}")
    if "\\u" in line and not _encodable(obj):
        return BadLine("a \\u escape of a lone UTF-16 surrogate (not a character)")
    return obj


def _encodable(obj: Any) -> bool:
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, ValueError, RecursionError):
        return False
    return True


def iter_jsonl(path: Path) -> Iterator[tuple[int, Any | BadLine]]:
    """Yield (line_number, parsed value or a :class:`BadLine`) for each non-blank line: the one
    JSONL reader. A line that is not UTF-8 or not JSON comes back as a BadLine, never an exception."""
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh, 1):
            obj = parse_line(raw, n)
            if obj is not None:
                yield n, obj


def _lines(path: Path) -> Iterator[tuple[int, Any | BadLine]]:
    try:
        yield from iter_jsonl(path)
    except OSError as e:  # unreadable (permissions, a failing disk): named, not a traceback
        raise DistilleryError(f"{path}: cannot read ({e.strerror or e})") from None


def article_problem(obj: Any) -> str | None:
    if not isinstance(obj, dict):
        return f"expected a JSON object, got {type(obj).__name__}"
    missing = [k for k in ARTICLE_REQUIRED if k not in obj]
    if missing:
        return f"missing key(s) {missing}"
    if not isinstance(obj["content"], str) or not obj["content"].strip():
        return "empty content"
    if not isinstance(obj["title"], str):
        return "title must be a string"
    group = obj.get("group")
    if group is not None and (isinstance(group, bool) or not isinstance(group, (str, int))):
        return f"group must be a string (got {type(group).__name__})"
    return None


def labels_problem(obj: dict, spec: FilterSpec) -> str | None:
    labels = obj.get("labels")
    if not isinstance(labels, dict):
        return "missing 'labels' object"
    names = spec.dimension_names
    missing = [d for d in names if d not in labels]
    unknown = [k for k in labels if k not in names]
    if missing or unknown:
        parts = [
            f"missing dimension(s) {missing}" if missing else "",
            f"unknown dimension(s) {unknown}" if unknown else "",
        ]
        return f"labels for {spec.ref}: " + "; ".join(p for p in parts if p)
    for d in names:
        v = labels[d]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and math.isnan(v)):
            return f"labels.{d}: not a number ({v!r})"
        if not 0.0 <= v <= 10.0:
            return f"labels.{d}: {v} is outside 0-10"
    return None


def read_records(
    paths: Iterable[str | Path],
    spec: FilterSpec | None = None,
    skip_invalid: bool | None = None,
    skip_hint: str = "--skip-invalid",
) -> ReadReport:
    """Read articles (``spec`` None) or labelled records (``spec`` given) from JSONL files.

    Raises DistilleryError at the first bad line (``file:line: reason``) unless
    ``skip_invalid``, in which case the bad lines are listed in the report. The error hints how
    to skip bad lines, ``skip_hint`` (the argparse verbs' ``--skip-invalid``; train passes
    ``data.skip_invalid=true``), when the caller offers a choice (passes ``skip_invalid``, True
    or False); ``skip_invalid=None`` means it does not, and the error gives no hint.
    """
    report = ReadReport()
    for path in map(Path, paths):
        if not path.is_file():
            raise DistilleryError(f"{path}: no such file" + (" (it is a folder)" if path.is_dir() else ""))
        for n, obj in _lines(path):
            if isinstance(obj, BadLine):
                problem: str | None = obj
            else:
                problem = article_problem(obj) or (labels_problem(obj, spec) if spec is not None else None)
            if problem:
                where = f"{path}:{n}: {problem}"
                if not skip_invalid:
                    hint = f" (use {skip_hint} to skip and report such lines)" if skip_invalid is not None else ""
                    raise DistilleryError(where + hint)
                report.skipped.append(where)
                continue
            report.records.append(obj)
            report.where.append(f"{path}:{n}")
    return report


SPLITS = ("train", "val", "test")
TRAIN_SKIP_HINT = "data.skip_invalid=true"  # how `distillery train` skips bad lines


def jsonl_data_files(path: Any) -> dict[str, Path] | Path:
    """``data.path`` of ``data=jsonl``: one file (split by distillery), or a folder's
    ``{split: file}`` (train.jsonl required, val/test optional)."""
    if not path:
        raise DistilleryError(
            "data.path is required for data=jsonl (a .jsonl file or a folder with train/val/test.jsonl)"
        )
    p = Path(str(path)).expanduser()
    if p.is_dir():
        files = {s: p / f"{s}.jsonl" for s in SPLITS if (p / f"{s}.jsonl").is_file()}
        if "train" not in files:
            raise DistilleryError(f"{p}: a data folder needs train.jsonl (and val.jsonl, test.jsonl)")
        return files
    if p.is_file():
        return p
    raise DistilleryError(f"data.path={p}: no such file or folder")


def check_jsonl_data(path: Any, spec: FilterSpec) -> int:
    """Read every line of ``data.path`` now, raising at the first bad one (``file:line: reason``):
    `train` calls this before torch and the model load, so a bad line is reported in a second,
    not after the imports. Returns the number of records."""
    files = jsonl_data_files(path)
    paths = list(files.values()) if isinstance(files, dict) else [files]
    return len(read_records(paths, spec, False, TRAIN_SKIP_HINT).records)


def write_jsonl(path: str | Path, records: Iterable[dict]) -> Path:
    """Write records atomically (temp file + rename), one JSON object per line."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for r in records:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path

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


def iter_jsonl(path: Path) -> Iterator[tuple[int, Any | Exception]]:
    """Yield (line_number, parsed object or the JSON error) for each non-blank line.

    A line that is not UTF-8, or nested too deeply to parse, comes back as an error too."""
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                yield n, json.JSONDecodeError(f"not UTF-8 ({e.reason} at byte {e.start})", "", 0)
                continue
            if not line.strip():
                continue
            try:
                yield n, json.loads(line)
            except json.JSONDecodeError as e:
                yield n, e
            except (ValueError, RecursionError) as e:  # e.g. nesting beyond the parser's limit
                yield n, json.JSONDecodeError(type(e).__name__, line, 0)


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


def read_records(paths: Iterable[str | Path], spec: FilterSpec | None = None, skip_invalid: bool = False) -> ReadReport:
    """Read articles (``spec`` None) or labelled records (``spec`` given) from JSONL files.

    Raises DistilleryError at the first bad line (``file:line: reason``) unless
    ``skip_invalid``, in which case the bad lines are listed in the report.
    """
    report = ReadReport()
    for path in map(Path, paths):
        if not path.is_file():
            raise DistilleryError(f"{path}: no such file")
        for n, obj in iter_jsonl(path):
            if isinstance(obj, Exception):
                problem = f"broken JSON ({obj.msg} at column {obj.colno})"
            else:
                problem = article_problem(obj) or (labels_problem(obj, spec) if spec is not None else None)
            if problem:
                where = f"{path}:{n}: {problem}"
                if not skip_invalid:
                    raise DistilleryError(where + " (use --skip-invalid / data.skip_invalid=true to skip and report)")
                report.skipped.append(where)
                continue
            report.records.append(obj)
            report.where.append(f"{path}:{n}")
    return report


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

"""Writing artifacts so that a crash or SIGKILL at any moment leaves the old complete file (or
folder) or the new complete one, never a half-written one; and JSON that strict parsers accept.

* :func:`write_bytes` / :func:`write_text` / :func:`write_json`: a temporary file in the same
  folder, flushed and fsynced, then ``os.replace``-d onto the target (atomic on POSIX and Windows).
* :func:`atomic_dir`: build a folder under a temporary sibling name and swap it into place on
  success; on an exception the temporary folder is removed and the old folder (if any) is kept.
* :func:`strict_json`: non-finite floats (NaN, ±inf) become ``null`` with ``<key>_null_reason``
  beside them, so ``JSON.parse`` and other strict readers accept every file distillery writes.

Torch-free and standard library only: packaged scorers vendor it.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

NULL_REASON = "_null_reason"


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not supported everywhere (e.g. Windows); best effort
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)
    return path


def write_text(path: str | os.PathLike, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def _reason(x: float) -> str:
    if math.isnan(x):
        return "not a number: undefined on this data (e.g. a metric over zero articles or a constant column)"
    return f"{'+' if x > 0 else '-'}infinity: unbounded on this data"


def strict_json(obj: Any) -> Any:
    """A copy of ``obj`` with every non-finite float replaced by ``None``; in a dict, the key
    ``<key>_null_reason`` is added beside it. numpy scalars and arrays become Python values."""
    if isinstance(obj, dict):
        out: dict = {}
        for k, v in obj.items():
            v = _plain(v)
            if isinstance(v, float) and not math.isfinite(v):
                out[k] = None
                out[f"{k}{NULL_REASON}"] = _reason(v)
            else:
                out[k] = strict_json(v)
        return out
    obj = _plain(obj)
    if isinstance(obj, (list, tuple)):
        return [strict_json(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _plain(v: Any) -> Any:
    """numpy scalars/arrays -> Python (without importing numpy)."""
    if type(v).__module__ == "numpy":
        return v.tolist() if hasattr(v, "tolist") else v.item()
    return v


def dumps(obj: Any, indent: int | None = 2) -> str:
    """Strict JSON text (raises on anything :func:`strict_json` could not make finite)."""
    return json.dumps(strict_json(obj), indent=indent, allow_nan=False, default=str)


def write_json(path: str | os.PathLike, obj: Any, indent: int | None = 2) -> Path:
    return write_text(path, dumps(obj, indent) + "\n")


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """``with atomic_dir(out) as tmp:`` write everything into ``tmp``; on success ``tmp`` becomes
    ``out`` (an old ``out`` is moved aside first and deleted after), on an exception ``tmp`` is
    removed and an old ``out`` stays as it was. A SIGKILL leaves ``out`` complete (old or new)
    plus at most a hidden ``.<name>.*`` sibling, which the next call ignores."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    recover_dir(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if not path.exists():
        os.replace(tmp, path)
    elif _exchange(tmp, path):  # Linux: one atomic swap, `out` is never missing; tmp now holds the old
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
        os.rmdir(old)
        os.replace(path, old)  # between here and the next line a kill leaves `out` missing but
        os.replace(tmp, path)  # `.out.*.old` complete; recover_dir() (run first by every atomic_dir) restores it
        shutil.rmtree(old, ignore_errors=True)
    _fsync_dir(path.parent)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths with renameat2(RENAME_EXCHANGE) (Linux >= 3.15, glibc >= 2.28);
    False where that is not available."""
    import ctypes
    import ctypes.util
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def recover_dir(path: str | os.PathLike) -> Path | None:
    """After a kill between the two renames of :func:`atomic_dir`: put the newest complete
    ``.<name>.*.old`` back if ``path`` is missing, and remove stale ``.partial`` folders.
    Returns the folder now at ``path`` (or None)."""
    path = Path(path)
    if not path.parent.is_dir():
        return None
    for p in path.parent.glob(f".{path.name}.*.partial"):
        shutil.rmtree(p, ignore_errors=True)
    olds = sorted(path.parent.glob(f".{path.name}.*.old"), key=lambda p: p.stat().st_mtime)
    if not path.exists() and olds:
        os.replace(olds.pop(), path)
    for p in olds:
        shutil.rmtree(p, ignore_errors=True)
    return path if path.exists() else None

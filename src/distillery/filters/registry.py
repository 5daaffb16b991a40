"""Finding filters: ``uplifting/v6`` -> ``<filters dir>/uplifting/v6/filter.yaml``.

Search order: folders passed explicitly (config ``filter.dirs`` / ``--filters-dir``), then
``$DISTILLERY_FILTERS`` (os.pathsep-separated), then the project's shipped ``filters/``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from distillery.errors import DistilleryError
from distillery.filters.spec import FilterSpec, parse_spec
from distillery.paths import filters_dir

SPEC_FILE = "filter.yaml"
_REF = re.compile(r"^(?P<name>[a-z][a-z0-9_]*)(?:/v(?P<version>\d+))?$")


def search_dirs(extra: Iterable[str | Path] = ()) -> list[Path]:
    env = [p for p in os.environ.get("DISTILLERY_FILTERS", "").split(os.pathsep) if p]
    dirs = [Path(p).expanduser() for p in [*extra, *env]] + [filters_dir()]
    seen, out = set(), []
    for d in dirs:
        key = d.resolve()
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def _versions(folder: Path) -> list[int]:
    return sorted(int(p.name[1:]) for p in folder.glob("v*") if p.name[1:].isdigit() and (p / SPEC_FILE).is_file())


def find_filter(ref: str | Path, dirs: Iterable[str | Path] = ()) -> Path:
    """Resolve ``name/vN``, ``name`` (latest version) or a path to a spec folder/file."""
    p = Path(ref).expanduser()
    if p.is_file():
        return p
    if (p / SPEC_FILE).is_file():
        return p / SPEC_FILE
    m = _REF.match(str(ref).replace("-", "_"))
    places = search_dirs(dirs)
    if m:
        for root in places:
            folder = root / m["name"]
            if m["version"]:
                if (folder / f"v{m['version']}" / SPEC_FILE).is_file():
                    return folder / f"v{m['version']}" / SPEC_FILE
            elif versions := _versions(folder):
                return folder / f"v{versions[-1]}" / SPEC_FILE
    known = ", ".join(list_filters(dirs)) or "none"
    raise DistilleryError(
        f"unknown filter {str(ref)!r} (looked in {', '.join(map(str, places))}); known filters: {known}"
    )


def list_filters(dirs: Iterable[str | Path] = ()) -> list[str]:
    refs: list[str] = []
    for root in search_dirs(dirs):
        for spec in sorted(root.glob(f"*/v*/{SPEC_FILE}")):
            ref = f"{spec.parent.parent.name}/{spec.parent.name}"
            if ref not in refs:
                refs.append(ref)
    return refs


@lru_cache(maxsize=64)
def load_cached(path: Path, mtime: float) -> FilterSpec:
    try:
        spec = parse_spec(path)
    except UnicodeDecodeError as e:  # named with its line, like the spec's other problems
        line = e.object[: e.start].count(b"\n") + 1
        raise DistilleryError(f"{path}:{line}: not UTF-8 (byte 0x{e.object[e.start]:02x})") from None
    except OSError as e:
        raise DistilleryError(f"{path}: cannot read ({e.strerror or e})") from None
    expected = f"{path.parent.parent.name}/{path.parent.name}"
    if path.parent.name.startswith("v") and spec.ref != expected:
        raise DistilleryError(f"{path}: name/version say {spec.ref!r} but the folder is {expected!r}")
    return spec


def load_filter(ref: str | Path, dirs: Iterable[str | Path] = ()) -> FilterSpec:
    path = find_filter(ref, dirs).resolve()
    return load_cached(path, path.stat().st_mtime)

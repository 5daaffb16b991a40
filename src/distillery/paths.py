"""Where the shipped resources (``conf/``, ``filters/``) live, installed or in a checkout."""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def shipped(name: str) -> Path:
    """Path of a top-level resource folder shipped with the package.

    A wheel carries ``conf/`` and ``filters/`` inside the package (see ``pyproject.toml``,
    ``force-include``); an editable install reads them from the repository root.
    """
    inside = _PKG / "_resources" / name
    return inside if inside.is_dir() else _PKG.parents[1] / name


def conf_dir() -> Path:
    return shipped("conf")


def filters_dir() -> Path:
    return shipped("filters")


def repo_root() -> Path | None:
    """The source checkout this package runs from, if any (for git SHA and default outputs)."""
    root = _PKG.parents[1]
    return root if (root / "pyproject.toml").is_file() else None


def cache_dir() -> Path:
    """Shared cache for rebuilt tokenizers, the synthetic corpus and tokenized datasets.

    ``$DISTILLERY_CACHE`` if set, else ``$XDG_CACHE_HOME/distillery`` or ``~/.cache/distillery``.
    """
    import os

    if env := os.environ.get("DISTILLERY_CACHE"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "distillery"

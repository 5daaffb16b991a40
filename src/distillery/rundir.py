"""What every run dir records: ``run.json`` (seed, git SHA, versions, command) and ``config.yaml``."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from distillery.paths import repo_root

PACKAGES = ("distillery", "torch", "transformers", "peft", "lightning", "torchmetrics", "hydra-core",
            "omegaconf", "datasets", "tokenizers", "wandb", "onnxruntime", "openai", "numpy")


def git_info() -> dict[str, Any]:
    root = repo_root()
    if root is None:
        return {"sha": None, "dirty": None}
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                    capture_output=True, text=True, timeout=10).stdout.strip())
        return {"sha": sha or None, "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"sha": None, "dirty": None}


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = None
    return out


def write_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str, allow_nan=True) + "\n")
    tmp.replace(path)
    return path


def write_run_json(run_dir: Path, task: str, seed: int, **extra: Any) -> Path:
    return write_json(run_dir / "run.json", {
        "task": task, "seed": seed, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join(["distillery", task, *sys.argv[1:]]),
        "git": git_info(), "versions": versions(), "host": platform.node(), **extra,
    })

"""Run dirs: what every run records (``run.json``: seed, git SHA, versions, command; ``config.yaml``)
and :class:`RunDir`, the one place the files of a training run dir are named and read."""

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
from distillery.runtime import atomic

PACKAGES = (
    "distillery",
    "torch",
    "transformers",
    "peft",
    "lightning",
    "torchmetrics",
    "hydra-core",
    "omegaconf",
    "datasets",
    "tokenizers",
    "wandb",
    "onnxruntime",
    "openvino",
    "nncf",
    "openai",
    "numpy",
)


def git_info() -> dict[str, Any]:
    root = repo_root()
    if root is None:
        return {"sha": None, "dirty": None}
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=root,
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout.strip()
        )
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
    """Strict JSON (non-finite numbers -> null + reason), written atomically."""
    return atomic.write_json(path, data)


def write_run_json(run_dir: Path, task: str, seed: int, **extra: Any) -> Path:
    return write_json(
        run_dir / RunDir.RUN,
        {
            "task": task,
            "seed": seed,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "command": " ".join(["distillery", task, *sys.argv[1:]]),
            "git": git_info(),
            "versions": versions(),
            "host": platform.node(),
            **extra,
        },
    )


class RunDir:
    """A training run dir (``outputs/train/runs/<time>_<id>/``, or a multi-head run's
    ``heads/<filter>/``): file names and readers. Nothing else spells these names."""

    CONFIG = "config.yaml"
    RUN = "run.json"
    METRICS = "metrics.json"
    ERROR = "error.log"
    CHECKPOINT = "checkpoint"  # the best model: adapter + head (safetensors), tokenizer, filter.yaml
    CHECKPOINTS = "checkpoints"  # Lightning checkpoints to resume from
    PLOTS = "plots"
    HEADS = "heads"
    CALIBRATION = "calibration.json"
    CONFIDENCE = "confidence.json"
    PREDICTIONS = "predictions.jsonl"
    CHECKPOINT_META = "distillery.json"  # inside checkpoint/: model, pooling, context strategy
    FILTER = "filter.yaml"  # inside checkpoint/: the filter spec the model was trained for

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def __fspath__(self) -> str:
        return str(self.path)

    @property
    def config_file(self) -> Path:
        return self.path / self.CONFIG

    @property
    def metrics_file(self) -> Path:
        return self.path / self.METRICS

    @property
    def checkpoint(self) -> Path:
        return self.path / self.CHECKPOINT

    def is_run(self) -> bool:
        return self.config_file.is_file()

    def read_json(self, name: str) -> dict[str, Any]:
        """A JSON file of the run dir ({} when it is not there)."""
        p = self.path / name
        return json.loads(p.read_text()) if p.is_file() else {}

    def metrics(self) -> dict[str, Any]:
        return self.read_json(self.METRICS)

    def run_info(self) -> dict[str, Any]:
        return self.read_json(self.RUN)

    def config(self) -> Any:
        """The resolved config (an OmegaConf DictConfig)."""
        from omegaconf import OmegaConf

        return OmegaConf.load(self.config_file)

    def write_metrics(self, metrics: dict[str, Any]) -> Path:
        return write_json(self.metrics_file, metrics)

    @property
    def error_file(self) -> Path:
        return self.path / self.ERROR

    @property
    def hydra_dir(self) -> Path:
        """Hydra's own copy of the run's config and overrides (``.hydra/``; sweep jobs have one)."""
        return self.path / ".hydra"

    @property
    def wandb_dir(self) -> Path:
        """W&B's run folders (``wandb/offline-run-<time>-<id>`` or ``wandb/run-<time>-<id>``)."""
        return self.path / "wandb"

    def split_predictions_file(self, split: str) -> Path:
        """``predictions_<split>.jsonl``: a training run's predictions on one split, when it saves them."""
        p = Path(self.PREDICTIONS)
        return self.path / f"{p.stem}_{split}{p.suffix}"

    def exists(self, *names: str) -> bool:
        """Whether any of the named files or folders is in the run dir."""
        return any((self.path / n).exists() for n in names)

    def read_yaml(self, name: str) -> Any:
        """A YAML file of the run dir as plain data (None when it is not there)."""
        p = self.path / name
        if not p.is_file():
            return None
        import yaml

        return yaml.safe_load(p.read_text(encoding="utf-8"))

    def config_dict(self) -> dict[str, Any]:
        """The resolved config as plain data: ``config.yaml``, else Hydra's ``.hydra/config.yaml``
        (a run still starting, or a sweep job), else {}."""
        return self.read_yaml(self.CONFIG) or self.read_yaml(f"{self.hydra_dir.name}/{self.CONFIG}") or {}


class CheckpointFiles:
    """The files and folders inside a checkpoint dir (see the module docstring)."""

    META = RunDir.CHECKPOINT_META
    FILTER = RunDir.FILTER
    HEAD = "head.safetensors"
    ADAPTER = "adapter"
    BACKBONE = "backbone"
    TOKENIZER = "tokenizer"
    HEADS = RunDir.HEADS

"""The Python API: the functions the CLI verbs call, for notebooks and scripts.

    from distillery import api

    spec = api.load_filter("uplifting/v6")
    result = api.train(["experiment=smoke", "logger=none"])      # Hydra overrides, as on the CLI
    result.metrics["val"]["mae"], result.run_dir
    api.evaluate(result.run_dir)                                  # metrics.json-style dict
    api.export(result.run_dir, "exports/uplifting_v6")            # INT8 ONNX behind the parity gate
    scorer = api.load_scorer("exports/uplifting_v6")              # plain or hybrid export, no torch
    scorer.score({"title": "...", "content": "..."})

Heavy libraries (torch, lightning, transformers) are imported only when a function needs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distillery.config import register_resolvers, validate_train_config
from distillery.filters.registry import load_filter
from distillery.paths import conf_dir
from distillery.runtime.hybrid import load_scorer

__all__ = ["TrainResult", "evaluate", "export", "load_filter", "load_scorer", "train"]


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    metrics: dict[str, Any]


def compose_train_config(overrides: Sequence[str] = ()) -> tuple[Any, Path]:
    """The composed, validated training config (as ``distillery train OVERRIDES`` composes it) and
    the run dir Hydra would give it."""
    from hydra import compose, initialize_config_dir
    from omegaconf import open_dict

    register_resolvers()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose("train", overrides=list(overrides), return_hydra_config=True)
    run_dir = Path(str(cfg.hydra.run.dir))
    with open_dict(cfg):
        del cfg["hydra"]
    validate_train_config(cfg)
    return cfg, run_dir


def train(overrides: Sequence[str] = (), run_dir: str | Path | None = None) -> TrainResult:
    """Train as ``distillery train OVERRIDES`` does (same config tree, same recipes, same run dir)."""
    from distillery.train.task import run_training

    cfg, default_dir = compose_train_config(overrides)
    out = Path(run_dir) if run_dir is not None else default_dir
    return TrainResult(out, run_training(cfg, out))


def evaluate(target: str | Path, **options: Any) -> dict[str, Any]:
    """``distillery evaluate TARGET``: a run dir, checkpoint or export dir on its test split (see
    :func:`distillery.evaluate.targets.evaluate_target` for the options)."""
    from distillery.evaluate.targets import evaluate_target

    return evaluate_target(Path(target), **options)


def export(target: str | Path, out: str | Path, **options: Any) -> dict[str, Any]:
    """``distillery export TARGET --out OUT``: FP32 + INT8 ONNX behind the parity gate; the manifest."""
    from distillery.export.pipeline import export_run

    return export_run(Path(target), Path(out), **options)

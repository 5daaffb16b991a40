"""Training methods (``train.method``), one recipe module each, all behind one interface::

    run(cfg: DictConfig, run_dir: Path) -> dict      # the run's metrics.json ({} on a DDP worker)

A recipe builds its data, model and Lightning module (or, for probes, its head fit) and uses
:mod:`distillery.train.scaffold` for everything around them (seed, config.yaml/run.json, logger,
callbacks, Trainer, fit -> best -> test, the run dir, finishing W&B). The dispatcher
(:func:`distillery.train.task.run_training`) picks the recipe; the config it hands over is
already checked and normalised (``train.method`` set, a one-filter ``model.heads`` list turned
into a plain finetune run).

The registry names modules, not functions: a recipe (torch, lightning, transformers) is imported
only when it runs, so ``distillery --help`` and config checks stay fast. To add a method, add a
module with ``run`` here and a :class:`Recipe` line to :data:`RECIPES`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from omegaconf import OmegaConf

from distillery.errors import DistilleryError


@dataclass(frozen=True)
class Recipe:
    module: str  # a module with run(cfg, run_dir) -> metrics dict
    summary: str  # one line for `distillery train --help`
    example: str  # the overrides that select it


RECIPES: dict[str, Recipe] = {
    "finetune": Recipe(
        "distillery.train.recipes.finetune",
        "backbone (model.finetune: lora | full | frozen) + one regression head, on one filter",
        "model=qwen2.5-0.5b",
    ),
    "multihead": Recipe(
        "distillery.train.recipes.multihead",
        "ONE shared backbone, a head per filter of model.heads, each filter on its own data",
        "model.heads=[uplifting/v6,belonging/v1]",
    ),
    "probe": Recipe(
        "distillery.train.recipes.probe",
        "frozen sentence-transformers encoder + ridge/MLP head fitted on cached embeddings",
        "model=embedding_probe",
    ),
}


def derived_method(cfg: Any) -> str:
    """The method the config implies when ``train.method`` is not set: ``model.heads`` set ->
    multihead, ``model.probe`` set -> probe, else finetune."""
    if OmegaConf.select(cfg, "model.heads", default=None):
        return "multihead"
    if OmegaConf.select(cfg, "model.probe", default=None):
        return "probe"
    return "finetune"


def resolve_method(cfg: Any) -> str:
    """``train.method`` (checked against the registry and the model config), or :func:`derived_method`."""
    method = OmegaConf.select(cfg, "train.method", default=None)
    if method is None:
        return derived_method(cfg)
    if method not in RECIPES:
        raise DistilleryError(f"train.method must be one of {', '.join(RECIPES)}, got {method!r}")
    heads = OmegaConf.select(cfg, "model.heads", default=None)
    probe = OmegaConf.select(cfg, "model.probe", default=None)
    if method == "multihead" and not heads:
        raise DistilleryError("train.method=multihead needs model.heads, e.g. model.heads=[uplifting/v6,belonging/v1]")
    if method == "probe" and not probe:
        raise DistilleryError("train.method=probe needs a probe model (model.probe), e.g. model=embedding_probe")
    if method != "multihead" and heads:
        raise DistilleryError(
            f"train.method={method} trains one filter (filter=...), but model.heads is set: "
            "drop model.heads or use train.method=multihead"
        )
    return str(method)


def load_recipe(method: str) -> ModuleType:
    """The recipe module of ``method`` (imported now)."""
    if method not in RECIPES:
        raise DistilleryError(f"train.method must be one of {', '.join(RECIPES)}, got {method!r}")
    return importlib.import_module(RECIPES[method].module)


def methods_help() -> str:
    """The methods block of ``distillery train --help``."""
    lines = [
        "== Training methods == (train.method=..., default: derived from the model config:",
        "   model.heads set -> multihead, model.probe set -> probe, else finetune)",
    ]
    lines += [f"{name:10s} {r.summary}\n{'':10s} e.g. distillery train {r.example}" for name, r in RECIPES.items()]
    return "\n".join(lines)

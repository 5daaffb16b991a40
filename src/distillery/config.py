"""Hydra/OmegaConf plumbing shared by every Hydra verb: resolvers, composition checks."""

from __future__ import annotations

import uuid
from typing import Any

from omegaconf import DictConfig, OmegaConf

from distillery.errors import DistilleryError
from distillery.paths import cache_dir


def register_resolvers() -> None:
    """``${uid:}``: a short random id, fixed for one composed config (cached per config object);
    ``${distillery_cache:}``: the shared cache folder."""
    if not OmegaConf.has_resolver("uid"):
        OmegaConf.register_new_resolver("uid", lambda: uuid.uuid4().hex[:6], use_cache=True)
    if not OmegaConf.has_resolver("distillery_cache"):
        OmegaConf.register_new_resolver("distillery_cache", lambda: str(cache_dir()))


def check_required(cfg: DictConfig) -> None:
    """Fail at composition, naming every required key (``???``) still unset."""
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise DistilleryError(
            f"required config key(s) not set: {', '.join(missing)} (set them as overrides, e.g. {missing[0]}=...)"
        )


def to_container(cfg: Any) -> dict:
    return OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)  # type: ignore[return-value]


def _data_file_problems(data: Any) -> list[str]:
    """Cheap checks of data.path / data.paths (exists, readable) before any model loads."""
    if not isinstance(data, dict) or data.get("source") != "jsonl":
        return []
    import os
    from pathlib import Path

    targets: list[tuple[str, Any]] = []
    if isinstance(data.get("paths"), dict):
        targets += [(f"data.paths.{k}", v) for k, v in data["paths"].items()]
    elif data.get("path") not in (None, "???"):
        targets.append(("data.path", data["path"]))
    lines = []
    for key, value in targets:
        if not isinstance(value, str) or value == "???":
            continue
        p = Path(value).expanduser()
        if p.is_dir():
            if not (p / "train.jsonl").is_file():
                lines.append(
                    f"{key}: {p} is a folder without train.jsonl (it needs train.jsonl [val.jsonl] [test.jsonl])"
                )
            files = [p / f"{s}.jsonl" for s in ("train", "val", "test") if (p / f"{s}.jsonl").is_file()]
        elif p.is_file():
            files = [p]
        else:
            lines.append(f"{key}: no such file or folder ({p})")
            continue
        lines += [f"{key}: {f} is not readable" for f in files if not os.access(f, os.R_OK)]
    return lines


def validate_train_config(cfg: Any) -> None:
    """Validate a composed training config before anything heavy is imported (no torch/lightning).

    Checks required keys (``???``), the modelled groups (:mod:`distillery.schema`: context_strategy,
    trainer, optim, loss, data, logger, seed; unknown keys are errors) and that jsonl data files
    exist and are readable. Raises one :class:`DistilleryError` listing every problem, one per
    line, each starting with its dotted key, e.g. ``context_strategy.max_tokens: must be > 0 (got -5)``.
    """
    from distillery.schema import validate_groups

    if isinstance(cfg, DictConfig):
        keys = [k for k in cfg if k != "hydra"]  # the hydra node (when present) is Hydra's own business
        if "hydra" in cfg:
            cfg = OmegaConf.masked_copy(cfg, keys)
        missing = sorted(OmegaConf.missing_keys(cfg))
        container: dict = {}
        problems = [f"{k}: required key not set (set it as an override, e.g. {k}=...)" for k in missing]
        for k in keys:
            try:
                container[k] = (
                    OmegaConf.to_container(cfg[k], resolve=True, throw_on_missing=False)
                    if OmegaConf.is_config(cfg[k])
                    else cfg[k]
                )
            except Exception as e:  # an interpolation that does not resolve
                problems.append(f"{k}: cannot resolve ({type(e).__name__}: {str(e).splitlines()[0]})")
    else:
        container, problems, missing = dict(cfg), [], []
    # "???" placeholders are reported once above, not again as wrong values
    for line in validate_groups(container):
        if not any(line.startswith(m + ":") for m in missing):
            problems.append(line)
    problems += _data_file_problems(container.get("data"))
    if problems:
        n = len(problems)
        raise DistilleryError(f"invalid config ({n} problem{'s' if n > 1 else ''}):\n" + "\n".join(problems))

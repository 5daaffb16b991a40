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
        raise DistilleryError(f"required config key(s) not set: {', '.join(missing)} (set them as overrides, e.g. {missing[0]}=...)")


def to_container(cfg: Any) -> dict:
    return OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)  # type: ignore[return-value]

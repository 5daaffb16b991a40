"""``model.heads``: the filters of a multi-head run, read from the config (no torch here).

Shared by the dispatcher (:func:`distillery.train.task.plan_training`, which turns a one-filter
list into a plain single-filter run) and the multihead recipe (:mod:`distillery.train.recipes.multihead`).
"""

from __future__ import annotations

import copy
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from distillery.config import to_container
from distillery.errors import DistilleryError
from distillery.filters.registry import load_filter
from distillery.filters.spec import FilterSpec


def head_key(ref: str) -> str:
    """``uplifting/v6`` -> ``uplifting_v6`` (the head's folder and module name)."""
    return ref.replace("/", "_")


def head_specs(cfg: DictConfig) -> dict[str, FilterSpec]:
    """``model.heads`` resolved to specs (ref -> spec), in the given order; one-line errors."""
    heads = cfg.model.get("heads")
    if isinstance(heads, str) or not OmegaConf.is_list(heads) and not isinstance(heads, (list, tuple)):
        raise DistilleryError(
            f"model.heads must be a list of filters, e.g. model.heads=[uplifting/v6,belonging/v1]; got {heads!r}"
        )
    refs = [str(h) for h in heads]
    if not refs:
        raise DistilleryError(
            "model.heads is empty: give at least one filter, e.g. model.heads=[uplifting/v6,belonging/v1]"
        )
    specs: dict[str, FilterSpec] = {}
    for ref in refs:
        try:
            spec = load_filter(ref, list(cfg.filters_dirs or []))
        except DistilleryError as e:
            raise DistilleryError(f"model.heads: {e}") from None
        if spec.ref in specs:
            raise DistilleryError(f"model.heads: {spec.ref} is listed twice")
        specs[spec.ref] = spec
    return specs


def data_cfg_for(data: Any, ref: str, multi: bool = True) -> DictConfig:
    """One filter's data config: ``data`` with ``path`` = ``data.paths[ref]`` when ``paths`` is
    set (keys ``uplifting/v6``, ``uplifting_v6`` or ``uplifting``); ``paths`` itself dropped."""
    d = to_container(data)
    paths = d.pop("paths", None)
    if paths:
        name = ref.split("/")[0]
        hit = next((paths[k] for k in (ref, head_key(ref), name) if k in paths), None)
        if hit is None:
            raise DistilleryError(
                f"data.paths has no entry for {ref} (keys: {', '.join(map(str, paths))}); "
                f"give one labelled set per filter: data.paths={{{ref}:DIR,...}}"
            )
        d["path"] = str(hit)
    elif multi and d.get("source") == "jsonl":
        raise DistilleryError(
            "data.paths is required for a multi-head run on JSONL data (each filter trains on its "
            "own labelled set): data=jsonl_heads data.paths={uplifting/v6:DIR,belonging/v1:DIR}"
        )
    return OmegaConf.create(d)


def single_filter_cfg(cfg: DictConfig, ref: str, data: DictConfig) -> DictConfig:
    """The training config of a single-filter run for ``ref`` on ``data``: ``model.heads`` null,
    ``train.method`` finetune."""
    out = copy.deepcopy(cfg)
    with open_dict(out):
        out.filter.name = ref
        out.model.heads = None
        out.data = data
    OmegaConf.update(out, "train.method", "finetune", force_add=True)
    return out

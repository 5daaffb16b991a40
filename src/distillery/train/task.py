"""The training job: a composed Hydra config in, a run dir with a trained scorer out.

``task(cfg)`` is the Hydra task wrapper (one error line, traceback in error.log, never a dead
sweep); :func:`run_training` is the dispatcher: it picks the training method (``train.method``:
finetune | multihead | probe, see :mod:`distillery.train.recipes`) and runs that recipe.

    run dir/
      config.yaml       resolved config (train.method included)    run.json   seed, git SHA, versions
      metrics.json      val/test metrics + mean baseline
      checkpoint/       best model (safetensors), tokenizer, filter spec copy
      checkpoints/      Lightning checkpoints (trainable weights only) for resuming
      plots/            pred_vs_true_{val,test}.png, loss_curve.png
      heads/            multihead runs: one single-filter run dir per filter (no checkpoint/ above)
      error.log         the traceback, if the job failed
"""

from __future__ import annotations

import copy
import sys
import traceback
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from distillery.config import check_required, validate_train_config
from distillery.errors import DistilleryError
from distillery.rundir import RunDir
from distillery.train.heads import data_cfg_for, head_specs, single_filter_cfg
from distillery.train.recipes import load_recipe, resolve_method


def plan_training(cfg: DictConfig) -> tuple[str, DictConfig]:
    """(method, the config the recipe gets), from the config alone (nothing heavy is imported).

    ``train.method`` when set (checked), else derived from the model config (``model.heads`` ->
    multihead, ``model.probe`` -> probe, else finetune). A one-filter ``model.heads`` list is a
    plain single-filter run: finetune on that filter, ``model.heads`` null. The returned config
    records the method in ``train.method`` (so config.yaml says which recipe made the run); a
    planned config plans to itself.
    """
    method = resolve_method(cfg)
    if method == "multihead":
        specs = head_specs(cfg)
        if len(specs) == 1:
            ref = next(iter(specs))
            return "finetune", single_filter_cfg(cfg, ref, data_cfg_for(cfg.data, ref, multi=False))
        for ref in specs:  # every filter has its labelled set (cheap, before any model loads)
            data_cfg_for(cfg.data, ref, multi=True)
    if OmegaConf.select(cfg, "train.method", default=None) != method:
        cfg = copy.deepcopy(cfg)
        OmegaConf.update(cfg, "train.method", method, force_add=True)
    return method, cfg


def run_training(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Dispatch: plan (:func:`plan_training`) and run the method's recipe; its metrics ({} on a DDP worker)."""
    check_required(cfg)
    method, cfg = plan_training(cfg)
    return load_recipe(method).run(cfg, run_dir)


def check_train_data(cfg) -> None:
    """Read ``data=jsonl`` files line by line before torch, lightning and the model are loaded
    (a bad line used to surface after 11-14 s of imports). Only a bad line is raised here: a
    config this cannot resolve, or ``data.skip_invalid=true`` (the data module skips and reports
    then), is left to the task's own validation."""
    from distillery.data.records import check_jsonl_data
    from distillery.filters.registry import load_filter

    try:
        data = cfg.data
        if data.source != "jsonl" or data.get("skip_invalid") or not data.get("path"):
            return
        if OmegaConf.select(cfg, "model.heads", default=None):  # multihead: per-filter data.paths, checked later
            return
        spec = load_filter(cfg.filter.name, list(cfg.filters_dirs or []))
    except Exception:  # noqa: BLE001 - validate_train_config reports config problems, all at once
        return
    check_jsonl_data(data.path, spec)


def task(cfg: DictConfig) -> float:
    """Hydra task wrapper: one line on error (traceback in <run dir>/error.log), never a dead sweep.

    The method is planned and the config validated before anything heavy (torch, lightning) is imported."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hc = HydraConfig.get()
    run_dir = RunDir(hc.runtime.output_dir)
    multirun = hc.mode == RunMode.MULTIRUN
    try:
        _, planned = plan_training(cfg)  # method-level errors first (e.g. a filter without its data.paths entry)
        validate_train_config(planned)  # every config problem at once (distillery.config, distillery.schema)
        check_train_data(planned)  # a bad line of a data=jsonl file, before torch and the model load
        m = run_training(planned, run_dir.path)
    except Exception as e:  # noqa: BLE001 - reported, recorded, and (single run) re-raised as exit code
        run_dir.path.mkdir(parents=True, exist_ok=True)
        run_dir.error_file.write_text(traceback.format_exc())
        msg = (
            str(e) if isinstance(e, DistilleryError) else f"{type(e).__name__}: {e} (traceback in {run_dir.error_file})"
        )
        print(f"error: {msg}", file=sys.stderr)
        if multirun:
            return float("nan")
        raise SystemExit(2 if isinstance(e, DistilleryError) else 1) from None
    if not m:  # a DDP worker: rank 0 reports
        return float("nan")
    v = m["val"]
    print(
        f"val MAE {v['mae']:.4f} | mean-baseline MAE {v['mean_baseline_mae']:.4f} | ratio {v['mae_vs_baseline']:.3f}"
        + (f" | test MAE {m['test']['mae']:.4f}" if "test" in m else "")
        + f" | {m['train_seconds']:.0f}s"
    )
    print(f"run dir: {run_dir.path}")
    return float(v["mae"])

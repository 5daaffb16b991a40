"""The training job: a composed Hydra config in, a run dir with a trained scorer out.

    run dir/
      config.yaml       resolved config          run.json      seed, git SHA, versions
      metrics.json      val/test metrics + mean baseline
      checkpoint/       best model (safetensors), tokenizer, filter spec copy
      checkpoints/      Lightning checkpoints (trainable weights only) for resuming
      plots/            pred_vs_true_{val,test}.png, loss_curve.png
      error.log         the traceback, if the job failed
"""

from __future__ import annotations

import logging
import os
import random
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from distillery.config import check_required, to_container
from distillery.errors import DistilleryError
from distillery.rundir import write_json, write_run_json

log = logging.getLogger("distillery.train")


def _logger(cfg: DictConfig, run_dir: Path, resolved: dict) -> Any:
    kind = cfg.logger.kind
    if kind == "none":
        return False
    if kind == "csv":
        from lightning.pytorch.loggers import CSVLogger

        return CSVLogger(save_dir=str(run_dir), name="csv", version="")
    if kind == "wandb":
        os.environ.setdefault("WANDB_SILENT", "true")
        from lightning.pytorch.loggers import WandbLogger

        lg = cfg.logger
        return WandbLogger(project=lg.project, entity=lg.entity, group=lg.group, job_type=lg.job_type,
                           tags=list(lg.tags or []), mode=lg.mode, save_dir=str(run_dir), config=resolved,
                           name=run_dir.name)
    raise DistilleryError(f"logger.kind must be wandb, csv or none, got {kind!r}")


def _callbacks(cfg: DictConfig, run_dir: Path) -> tuple[list, bool]:
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    cb = cfg.callbacks
    out: list = [ModelCheckpoint(dirpath=str(run_dir / "checkpoints"), monitor=cb.monitor, mode=cb.mode,
                                 save_top_k=1, save_last=cb.save_last, filename="best")]
    if cb.early_stopping_patience:
        out.append(EarlyStopping(monitor=cb.monitor, mode=cb.mode, patience=int(cb.early_stopping_patience)))
    bar = cb.progress_bar
    if bar == "auto":
        bar = sys.stderr.isatty() and not os.environ.get("CI")
    if bar:
        from lightning.pytorch.callbacks import RichProgressBar

        out.append(RichProgressBar())
    return out, bool(bar)


def quiet_libraries() -> None:
    """Keep the console for our own lines: library chatter goes to the run's log file only."""
    import warnings

    for category in (FutureWarning, DeprecationWarning):
        warnings.filterwarnings("ignore", category=category)
    warnings.filterwarnings("ignore", message=r".*(treespec|num_workers|does not have many workers|litlogger).*")
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).propagate = True
        logging.getLogger(name).handlers.clear()
    logging.getLogger("lightning.pytorch.utilities.rank_zero").setLevel(logging.WARNING)


def run_training(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Train, pick the best checkpoint by val MAE, evaluate, and write the run dir."""
    import lightning as L

    from distillery.runtime.context import ContextStrategy
    from distillery.data.datamodule import ArticleDataModule
    from distillery.filters.registry import load_filter
    from distillery.models.backbone import load_backbone
    from distillery.models.regressor import Regressor, apply_finetune, hidden_size_of
    from distillery.train.losses import build_loss
    from distillery.train.module import DistillModule
    from distillery.train.multitask import run_multitask

    check_required(cfg)
    if cfg.model.get("heads"):  # one shared backbone, a head per filter (train/multitask.py)
        return run_multitask(cfg, run_dir)
    if cfg.model.get("probe"):  # frozen encoder + head fitted on cached embeddings (train/probe.py)
        from distillery.train.probe import run_probe

        return run_probe(cfg, run_dir)
    t0 = time.time()
    seed, resolved, _ = start_run(cfg, run_dir)

    spec = load_filter(cfg.filter.name, list(cfg.filters_dirs or []))
    strategy = ContextStrategy.from_config(cfg.context_strategy)
    loaded = load_backbone(cfg.model)
    dm = ArticleDataModule(cfg.data, spec, loaded.tokenizer, strategy, cfg.paths.cache_dir, seed=seed)
    dm.setup()
    for line in dm.skipped:
        log.warning("skipped %s", line)
    mean, std = dm.label_stats()
    model = Regressor(apply_finetune(loaded.backbone, cfg.model), len(spec.dimensions), cfg.model.pooling,
                      hidden_size_of(loaded.backbone), mean.tolist(), std.tolist())
    module = DistillModule(model, spec, build_loss(cfg.loss), cfg.optim, aggregate=strategy.aggregate)

    logger = _logger(cfg, run_dir, resolved)
    callbacks, show_bar = _callbacks(cfg, run_dir)
    trainer = L.Trainer(**to_container(cfg.trainer), logger=logger, callbacks=callbacks,
                        default_root_dir=str(run_dir), enable_progress_bar=show_bar)
    try:
        has_test = bool(cfg.test) and len(dm.records["test"]) > 0
        best, train_s, inference_ms = fit_best_and_evaluate(trainer, module, dm, cfg.ckpt_path, t0,
                                                            len(dm.records["val"]), has_test)
        if not trainer.is_global_zero:
            return {}
        info = {"best_checkpoint": best, "epochs": module.current_epoch, "global_step": module.global_step,
                "train_seconds": round(train_s, 1), "inference_ms_per_article": round(inference_ms, 2),
                "history": module.history}
        evals = {st: module.last_eval[st] for st in (("val", "test") if has_test else ("val",))}
        metrics = finish_run(run_dir, cfg, spec, model, loaded, strategy, dm, seed, evals, info, logger)
        return metrics
    finally:
        if logger and cfg.logger.kind == "wandb":
            import wandb

            wandb.finish()


def fit_best_and_evaluate(trainer: Any, module: Any, datamodule: Any, ckpt_path: Any, t0: float, n_val: int,
                          has_test: bool) -> tuple[str, float, float]:
    """Fit, reload the best checkpoint, validate (timed) and test: (best checkpoint path, seconds
    since ``t0`` when fitting ended, PyTorch inference ms per val article). ``n_val``: val articles."""
    import torch

    # from_pretrained returns modules in eval mode and Lightning keeps each module's mode:
    # without this, dropout (the backbone's and model.lora.dropout) would silently stay off
    module.train()
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
    train_s = time.time() - t0
    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    if best:
        state = torch.load(best, map_location="cpu", weights_only=False)
        module.load_state_dict(state["state_dict"], strict=False)
    t_val = time.perf_counter()
    trainer.validate(module, datamodule=datamodule, verbose=False)
    # batched (eval_batch_size), length-sorted PyTorch inference on this machine, all views included
    inference_ms = 1000 * (time.perf_counter() - t_val) / max(1, n_val)
    if has_test:
        trainer.test(module, datamodule=datamodule, verbose=False)
    return best, train_s, inference_ms


def start_run(cfg: DictConfig, run_dir: Path) -> tuple[int, dict, bool]:
    """Seed (given, or drawn and recorded), resolved config.yaml and run.json: (seed, resolved, is DDP child)."""
    import lightning as L

    quiet_libraries()
    child = _ddp_child()
    if cfg.seed is not None:
        seed = int(cfg.seed)
    elif child:  # a DDP worker re-executed by Lightning: use the seed rank 0 drew
        seed = int(os.environ[SEED_ENV])
    else:
        seed = random.SystemRandom().randrange(2**31)
        os.environ[SEED_ENV] = str(seed)  # inherited by DDP workers that Lightning starts
    resolved = to_container(cfg)
    resolved["seed"] = seed
    run_dir.mkdir(parents=True, exist_ok=True)
    if not child:
        OmegaConf.save(OmegaConf.create(resolved), run_dir / "config.yaml")
        write_run_json(run_dir, "train", seed, seed_generated=cfg.seed is None)
    L.seed_everything(seed, workers=True, verbose=False)
    return seed, resolved, child


def finish_run(run_dir: Path, cfg: DictConfig, spec: Any, model: Any, loaded: Any, strategy: Any, dm: Any, seed: int,
               evals: dict[str, dict], info: dict[str, Any], logger: Any) -> dict[str, Any]:
    """metrics.json (per stage: metrics + mean baseline), plots, the checkpoint, final W&B numbers.
    ``evals``: stage -> {"pred", "true"} per article on the 0-10 scale."""
    from distillery.data.split import label_matrix
    from distillery.evaluate import plots
    from distillery.evaluate.metrics import mean_baseline_mae
    from distillery.models.checkpoint import save_checkpoint

    y_train = label_matrix(dm.records["train"], spec)
    metrics: dict[str, Any] = {"filter": spec.ref, "seed": seed, **info,
                               "n": {s: len(r) for s, r in dm.records.items()}, "skipped": len(dm.skipped)}
    for stage, ev in evals.items():
        m = dict(ev["metrics"])
        m["mean_baseline_mae"] = mean_baseline_mae(y_train, ev["true"])
        m["mae_vs_baseline"] = m["mae"] / m["mean_baseline_mae"]
        metrics[stage] = m
        plots.pred_vs_true(ev["pred"], ev["true"], spec.dimension_names, _mk(run_dir / "plots") / f"pred_vs_true_{stage}.png",
                           title=f"{spec.ref} {stage}: MAE {m['mae']:.3f} (mean baseline {m['mean_baseline_mae']:.3f})")
    if info.get("history"):
        plots.loss_curve(info["history"], _mk(run_dir / "plots") / "loss_curve.png")
    write_json(run_dir / "metrics.json", metrics)
    save_checkpoint(run_dir / "checkpoint", model, loaded.tokenizer, spec, to_container(cfg.model), strategy,
                    extra={"seed": seed, "source": loaded.source, "val_mae": metrics["val"]["mae"]})
    if logger:
        logger.log_metrics({"final/val_mae": metrics["val"]["mae"],
                            "final/val_mean_baseline_mae": metrics["val"]["mean_baseline_mae"],
                            **({"final/test_mae": metrics["test"]["mae"]} if "test" in metrics else {})})
    return metrics


SEED_ENV = "DISTILLERY_GENERATED_SEED"


def _ddp_child() -> bool:
    """True in the extra processes Lightning's DDP launcher starts (they share rank 0's run dir)."""
    return int(os.environ.get("LOCAL_RANK", "0")) > 0 or int(os.environ.get("NODE_RANK", "0")) > 0


def _mk(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p


def task(cfg: DictConfig) -> float:
    """Hydra task wrapper: one line on error (traceback in <run dir>/error.log), never a dead sweep."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hc = HydraConfig.get()
    run_dir = Path(hc.runtime.output_dir)
    multirun = hc.mode == RunMode.MULTIRUN
    try:
        m = run_training(cfg, run_dir)
    except Exception as e:  # noqa: BLE001 - reported, recorded, and (single run) re-raised as exit code
        (run_dir / "error.log").write_text(traceback.format_exc())
        msg = str(e) if isinstance(e, DistilleryError) else f"{type(e).__name__}: {e} (traceback in {run_dir / 'error.log'})"
        print(f"error: {msg}", file=sys.stderr)
        if multirun:
            return float("nan")
        raise SystemExit(2 if isinstance(e, DistilleryError) else 1) from None
    if not m:  # a DDP worker: rank 0 reports
        return float("nan")
    v = m["val"]
    print(f"val MAE {v['mae']:.4f} | mean-baseline MAE {v['mean_baseline_mae']:.4f} | ratio {v['mae_vs_baseline']:.3f}"
          + (f" | test MAE {m['test']['mae']:.4f}" if "test" in m else "") + f" | {m['train_seconds']:.0f}s")
    print(f"run dir: {run_dir}")
    return float(v["mae"])

"""What every training recipe (:mod:`distillery.train.recipes`) does around its own model code,
written once: start the run, build the logger / callbacks / Trainer, fit -> reload the best
checkpoint -> validate -> test, write the run dir, and always finish W&B.

A recipe reads::

    seed, resolved, _ = start_run(cfg, run_dir)            # seed, config.yaml, run.json
    ... data, model, Lightning module ...
    with logged_run(cfg, run_dir, resolved) as logger:    # W&B finished however the block ends
        trainer = build_trainer(cfg, run_dir, logger)
        info = fit_best_and_evaluate(trainer, module, dm, cfg.ckpt_path, t0, n_val, has_test)
        return finish_run(run_dir, cfg, spec, model, loaded, strategy, dm, seed, evals, info, logger)

Imported by the recipes only, which the dispatcher loads after the config is checked (it pulls in
torch through the evaluate and models modules; Lightning and wandb are imported where used).
"""

from __future__ import annotations

import logging
import os
import random
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from distillery.config import to_container
from distillery.data.split import label_matrix
from distillery.errors import DistilleryError
from distillery.evaluate import plots
from distillery.evaluate.metrics import mean_baseline_mae
from distillery.models.checkpoint import save_checkpoint
from distillery.rundir import RunDir, write_run_json

log = logging.getLogger("distillery.train")

SEED_ENV = "DISTILLERY_GENERATED_SEED"  # the seed rank 0 drew, inherited by DDP workers


def ensure_dir(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p


def is_ddp_child() -> bool:
    """True in the extra processes Lightning's DDP launcher starts (they share rank 0's run dir)."""
    return int(os.environ.get("LOCAL_RANK", "0")) > 0 or int(os.environ.get("NODE_RANK", "0")) > 0


#: Framework warnings known to be harmless in distillery's use of Lightning (message regexes), filtered
#: around the calls that raise them (:func:`harmless_framework_warnings`), never process-wide.
HARMLESS_FRAMEWORK_WARNINGS = (
    r".*does not have many workers.*",  # the datasets are tokenized, in memory: workers would only copy
    r".*treespec.*",  # torch.utils._pytree's deprecation, raised inside Lightning
    r".*litlogger.*",  # Lightning's advert for its hosted logger
    r"The number of training batches \(\d+\) is smaller than the logging interval",  # we log per epoch
    # DDP: per-article metrics are all-gathered (DistillModule._article_eval), so every rank logs the same;
    # the losses are rank-local shard means, logged for information only (checkpoints follow val/mae)
    r"It is recommended to use `self\.log\('(train|val|test)/.*sync_dist=True",
    # DDP: the sampler's padding duplicates are averaged away per article id (aggregate_views)
    r"Using `DistributedSampler` with the dataloaders\. During `trainer\.(validate|test)\(\)`",
    # DDP: Lightning's all_gather calls torch's deprecated functional all_gather (torch 2.13)
    r"torch\.distributed\.nn\.functional\.all_gather is deprecated",
)


@contextmanager
def harmless_framework_warnings() -> Iterator[None]:
    """``with harmless_framework_warnings():`` around Trainer calls: :data:`HARMLESS_FRAMEWORK_WARNINGS` hidden."""
    import warnings

    with warnings.catch_warnings():
        for pattern in HARMLESS_FRAMEWORK_WARNINGS:
            warnings.filterwarnings("ignore", message=pattern)
        yield


def quiet_libraries() -> None:
    """Keep the console for our own lines: Lightning's info chatter goes to the run's log file only."""
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).propagate = True
        logging.getLogger(name).handlers.clear()
    logging.getLogger("lightning.pytorch.utilities.rank_zero").setLevel(logging.WARNING)


# ---- precision / accelerator ------------------------------------------------------------------
FULL_PRECISIONS = ("32-true", "32", "64-true", "64", 32, 64)


def command_line_keys() -> set[str]:
    """Config keys the user set on the command line (Hydra's task overrides), e.g. ``{"trainer.precision"}``."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return set()
    return {o.split("=", 1)[0].lstrip("+~") for o in HydraConfig.get().overrides.task}


def resolve_precision(trainer: Any, gpu: bool, explicit: bool) -> tuple[Any, str | None]:
    """(precision to train in, the line saying why when it is not the config's).

    Reduced precision (``trainer=gpu|ddp|fsdp``'s bf16-mixed) on the CPU runs slower and trains worse
    (bf16 autocast on CPU), so a run on the CPU -- ``accelerator=cpu``, or ``auto`` without a GPU --
    uses 32-true unless the user set ``trainer.precision`` explicitly (``explicit``)."""
    precision = trainer.get("precision", "32-true")
    accelerator = str(trainer.get("accelerator", "cpu"))
    on_cpu = accelerator == "cpu" or (accelerator == "auto" and not gpu)
    if explicit or not on_cpu or precision in FULL_PRECISIONS:
        return precision, None
    return "32-true", (
        f"trainer.precision {precision} -> 32-true: training on the CPU, where reduced precision is slower and "
        f"less accurate (set trainer.precision={precision} to keep it)"
    )


def gpu_available() -> bool:
    import torch

    return torch.cuda.is_available() or (hasattr(torch.backends, "mps") and torch.backends.mps.is_available())


def settle_precision(cfg: DictConfig, announce: bool = True) -> None:
    """:func:`resolve_precision` for this machine, written into ``cfg.trainer`` (so config.yaml records
    what ran); ``announce``: log the one line when the precision changes."""
    precision, why = resolve_precision(cfg.trainer, gpu_available(), "trainer.precision" in command_line_keys())
    if why:
        cfg.trainer.precision = precision
        if announce:
            log.info(why)


def check_accelerator(trainer: Any) -> None:
    """A GPU accelerator on a machine without one: one clear line, not Lightning's MisconfigurationException."""
    accelerator = str(trainer.get("accelerator", "cpu"))
    if accelerator in ("gpu", "cuda", "mps") and not gpu_available():
        raise DistilleryError(
            f"trainer.accelerator={accelerator}: no GPU is visible to torch on this machine; train on "
            "the CPU with trainer=cpu, or DDP on CPU with trainer=ddp trainer.accelerator=cpu trainer.devices=2"
        )


# ---- start ------------------------------------------------------------------------------------
def start_run(cfg: DictConfig, run_dir: Path) -> tuple[int, dict, bool]:
    """Seed (given, or drawn and recorded), resolved config.yaml and run.json: (seed, resolved, is DDP child)."""
    import lightning as L

    quiet_libraries()
    child = is_ddp_child()
    settle_precision(cfg, announce=not child)
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
        OmegaConf.save(OmegaConf.create(resolved), run_dir / RunDir.CONFIG)
        write_run_json(run_dir, "train", seed, seed_generated=cfg.seed is None)
    L.seed_everything(seed, workers=True, verbose=False)
    return seed, resolved, child


# ---- logger, callbacks, Trainer ---------------------------------------------------------------
def build_logger(cfg: DictConfig, run_dir: Path, resolved: dict) -> Any:
    """The Lightning logger of ``logger.kind`` (wandb | csv | none; none -> False)."""
    kind = cfg.logger.kind
    if kind == "none":
        return False
    if kind == "csv":
        from lightning.pytorch.loggers import CSVLogger

        return CSVLogger(save_dir=str(run_dir), name="csv", version="")
    if kind == "wandb":
        os.environ.setdefault("WANDB_SILENT", "true")
        from lightning.pytorch.loggers import WandbLogger

        from distillery.train.tracking import identity_for

        lg = cfg.logger
        who = identity_for(cfg, run_dir, int(resolved["seed"]))
        return WandbLogger(
            project=lg.project,
            entity=lg.entity,
            group=who.group,
            job_type=who.job_type,
            tags=who.tags,
            mode=lg.mode,
            save_dir=str(run_dir),
            config=resolved,
            name=who.name,
        )
    raise DistilleryError(f"logger.kind must be wandb, csv or none, got {kind!r}")


@contextmanager
def logged_run(cfg: DictConfig, run_dir: Path, resolved: dict) -> Iterator[Any]:
    """``with logged_run(...) as logger:`` the run's logger (:func:`build_logger`); W&B is
    finished when the block ends, whether it returns or raises (the one place that does it)."""
    logger = build_logger(cfg, run_dir, resolved)
    try:
        yield logger
    finally:
        if logger and cfg.logger.kind == "wandb":
            import wandb

            wandb.finish()


def build_callbacks(cfg: DictConfig, run_dir: Path, monitor: str | None = None) -> tuple[list, bool]:
    """(callbacks, progress bar shown): best + last checkpoint by ``monitor`` (default
    ``callbacks.monitor``), early stopping, the progress bar when ``callbacks.progress_bar`` says so."""
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    cb = cfg.callbacks
    monitor = monitor or cb.monitor
    out: list = [
        ModelCheckpoint(
            dirpath=str(run_dir / RunDir.CHECKPOINTS),
            monitor=monitor,
            mode=cb.mode,
            save_top_k=1,
            save_last=cb.save_last,
            filename="best",
        )
    ]
    if cb.early_stopping_patience:
        out.append(EarlyStopping(monitor=monitor, mode=cb.mode, patience=int(cb.early_stopping_patience)))
    bar = cb.progress_bar
    if bar == "auto":
        bar = sys.stderr.isatty() and not os.environ.get("CI")
    if bar:
        from lightning.pytorch.callbacks import RichProgressBar

        out.append(RichProgressBar())
    return out, bool(bar)


def build_trainer(cfg: DictConfig, run_dir: Path, logger: Any, monitor: str | None = None) -> Any:
    """``L.Trainer(**cfg.trainer)`` with the run's logger, :func:`build_callbacks` and the run dir."""
    import lightning as L

    check_accelerator(cfg.trainer)
    callbacks, show_bar = build_callbacks(cfg, run_dir, monitor)
    with harmless_framework_warnings():
        return L.Trainer(
            **to_container(cfg.trainer),
            logger=logger,
            callbacks=callbacks,
            default_root_dir=str(run_dir),
            enable_progress_bar=show_bar,
        )


# ---- fit -> best -> validate -> test ----------------------------------------------------------
def fit_best_and_evaluate(
    trainer: Any, module: Any, datamodule: Any, ckpt_path: Any, t0: float, n_val: int, has_test: bool
) -> dict[str, Any]:
    """Fit, reload the best checkpoint, validate (timed) and test (when ``has_test``). Returns the
    run facts for metrics.json: best_checkpoint, epochs, global_step, train_seconds (since ``t0``,
    when fitting ended) and inference_ms_per_article (PyTorch, per val article; ``n_val`` of them)."""
    import torch

    # from_pretrained returns modules in eval mode and Lightning keeps each module's mode:
    # without this, dropout (the backbone's and model.lora.dropout) would silently stay off
    module.train()
    with harmless_framework_warnings():
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
    return {
        "best_checkpoint": best,
        "epochs": module.current_epoch,
        "global_step": module.global_step,
        "train_seconds": round(train_s, 1),
        "inference_ms_per_article": round(inference_ms, 2),
    }


# ---- finish -----------------------------------------------------------------------------------
def write_split_predictions(path: Path, records: list[dict], ev: dict, spec: Any) -> Path:
    """``predictions_<split>.jsonl``: per article its id, oracle labels and the model's scores (0-10),
    what ``distillery compare`` pairs by article and seed for its bootstrap intervals."""
    from distillery.data.records import write_jsonl

    order = ev.get("article")
    order = range(len(ev["pred"])) if order is None else [int(i) for i in order]
    names = spec.dimension_names
    rows = (
        {
            "id": records[i].get("id", str(i)),
            "labels": {d: float(v) for d, v in zip(names, ev["true"][j])},
            "scores": {d: float(v) for d, v in zip(names, ev["pred"][j])},
        }
        for j, i in enumerate(order)
    )
    return write_jsonl(path, rows)


def finish_run(
    run_dir: Path,
    cfg: DictConfig,
    spec: Any,
    model: Any,
    loaded: Any,
    strategy: Any,
    dm: Any,
    seed: int,
    evals: dict[str, dict],
    info: dict[str, Any],
    logger: Any,
) -> dict[str, Any]:
    """metrics.json (per stage: metrics + mean baseline), plots, the checkpoint, final W&B numbers.
    ``evals``: stage -> {"pred", "true", "metrics"} per article on the 0-10 scale."""
    rd = RunDir(run_dir)
    y_train = label_matrix(dm.records["train"], spec)
    metrics: dict[str, Any] = {
        "filter": spec.ref,
        "seed": seed,
        **info,
        "n": {s: len(r) for s, r in dm.records.items()},
        "skipped": len(dm.skipped),
        "split": getattr(dm, "split_report", {}) or {},  # fingerprints, cross-split duplicates (0)
    }
    for stage, ev in evals.items():
        write_split_predictions(rd.split_predictions_file(stage), dm.records[stage], ev, spec)
        m = dict(ev["metrics"])
        m["mean_baseline_mae"] = mean_baseline_mae(y_train, ev["true"])
        m["mae_vs_baseline"] = m["mae"] / m["mean_baseline_mae"]
        metrics[stage] = m
        plots.pred_vs_true(
            ev["pred"],
            ev["true"],
            spec.dimension_names,
            ensure_dir(rd / RunDir.PLOTS) / f"pred_vs_true_{stage}.png",
            title=f"{spec.ref} {stage}: MAE {m['mae']:.3f} (mean baseline {m['mean_baseline_mae']:.3f})",
        )
    if info.get("history"):
        plots.loss_curve(info["history"], ensure_dir(rd / RunDir.PLOTS) / "loss_curve.png")
    rd.write_metrics(metrics)
    save_checkpoint(
        rd.checkpoint,
        model,
        loaded.tokenizer,
        spec,
        to_container(cfg.model),
        strategy,
        extra={"seed": seed, "source": loaded.source, "val_mae": metrics["val"]["mae"]},
    )
    if logger:
        logger.log_metrics(
            {
                "final/val_mae": metrics["val"]["mae"],
                "final/val_mean_baseline_mae": metrics["val"]["mean_baseline_mae"],
                **({"final/test_mae": metrics["test"]["mae"]} if "test" in metrics else {}),
            }
        )
    return metrics

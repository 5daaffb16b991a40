"""Adapters for run dirs read through :class:`~distillery.rundir.RunDir`: training runs (and
sweep jobs), evaluations / ensembles, and run dirs of a kind nobody has an adapter for yet.

train     <outputs>/train/runs/<time>_<id>/ and sweep jobs: config.yaml, run.json, metrics.json,
          error.log, wandb/{offline-,}run-*; predictions_{val,test}.jsonl when the run saves them.
          A multi-head run (train/recipes/multihead.py: ``model.heads=[a/v1,b/v1]``) has no filter of
          its own: its metrics.json says ``filter: "a/v1+b/v1"``, ``heads: {ref: "heads/<key>"}`` and
          each ``heads/<key>/`` is a normal single-filter run dir. Its row lists it under each of
          its filters (``per_filter``: that head's own row: metrics, dims, predictions, link).
evaluate  <outputs>/{evaluate,ensemble}/runs/<time>_<id>/: metrics.json (final/raw), run.json,
          predictions.jsonl
other     run.json / metrics.json / error.log of a run dir of an unknown kind
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from distillery.dashboard.common import (
    MULTIRUN,
    REPORT,
    Adapter,
    dig,
    dims_of,
    last_line,
    number,
    numeric,
    prediction_histograms,
    started_of,
    task_of,
    under_task,
    wandb_info,
    wandb_run,
)
from distillery.rundir import RunDir
from distillery.train.heads import head_key

SPLITS = ("val", "test")


# ---- train ---------------------------------------------------------------------------------------
def train_claims(d: Path) -> bool:
    rd = RunDir(d)
    if rd.exists(REPORT, RunDir.PREDICTIONS) and not rd.exists(RunDir.CONFIG):
        return False  # an eval dir
    return rd.is_run() or rd.hydra_dir.is_dir() or under_task(d, "train")


def train_watched(d: Path, prev: dict | None) -> list[Path]:
    rd = RunDir(d)
    out = [
        rd / RunDir.CONFIG,
        rd / RunDir.RUN,
        rd.metrics_file,
        rd.error_file,
        *(rd.split_predictions_file(s) for s in SPLITS),
    ]
    if rd.wandb_dir.is_dir():
        out.append(rd.wandb_dir)  # a new W&B run folder changes the dir's mtime
    heads = rd / RunDir.HEADS
    if heads.is_dir():  # a multi-head run: each head is a run dir of its own (written before metrics.json)
        out.append(heads)
        for h in sorted(p for p in heads.iterdir() if p.is_dir()):
            out += train_watched(h, None)
    return out


def in_sweep(d: Path) -> bool:
    """A sweep job: ``<sweep dir>/<num>_<overrides>/`` (the sweep dir has ``multirun.yaml``)."""
    return (d.parent / MULTIRUN).is_file() or d.parent.name == "multiruns" or d.parent.parent.name == "multiruns"


def head_dirs(d: Path, cfg: dict, m: dict) -> dict[str, Path]:
    """``{filter ref: head dir}`` of a multi-head run, else {}: metrics.json's ``heads`` (multihead.py
    ``metrics["heads"]``), or before it is written (running, failed) the config's ``model.heads``
    (two or more filters; one filter is a plain run, train/task.py ``plan_training``)."""
    if isinstance(m.get("heads"), dict) and len(m["heads"]) > 1:
        return {ref: d / str(rel) for ref, rel in m["heads"].items()}
    refs = dig(cfg, "model", "heads")
    if isinstance(refs, list) and len(refs) > 1:
        return {str(ref): d / RunDir.HEADS / head_key(str(ref)) for ref in refs}
    return {}


def head_row(run: dict[str, Any], ref: str, head: Path) -> dict[str, Any]:
    """One head of a multi-head run as a run of its own filter: the head dir's row (its metrics,
    dims, predictions), with the run's status / error while the head has no metrics yet."""
    row = train_read(head, None) if RunDir(head).is_run() else {"metrics": {}, "dims": [], "status": "incomplete"}
    if row["status"] != "ok":
        row["status"], row["error"] = run["status"], run["error"]
    row.update(
        name=f"{run['name']}/{RunDir.HEADS}/{head.name}",
        started=run["started"],  # the run's start (a head's run.json is written when training ended)
        path=str(head),
        filter=ref,
        wandb=run["wandb"],  # heads log to the run's W&B run (multihead.py: finish_run(logger=None))
        sweep=run["sweep"],
        multi_head={"run": run["path"], "name": run["name"], "filters": run["filters"]},
    )
    return row


def train_read(d: Path, prev: dict | None) -> dict[str, Any]:
    rd = RunDir(d)
    cfg = rd.config_dict()
    run = rd.run_info() or {}
    m = rd.metrics() or {}
    err = rd.error_file
    if isinstance(m.get("val"), dict):
        status = "ok"
    elif err.is_file():
        status = "failed"
    else:
        status = "incomplete"  # running, or killed before writing metrics
    metrics = {s: numeric(m[s]) for s in SPLITS if isinstance(m.get(s), dict)}
    preds = {}
    for split in SPLITS:
        h = prediction_histograms(rd.split_predictions_file(split))
        if h:
            preds[split] = h
    row = {
        "kind": "train",
        "name": d.name,
        "started": started_of(d, run),
        "status": status,
        "error": last_line(err) if status == "failed" else None,
        "filter": m.get("filter") or dig(cfg, "filter", "name"),
        "model": dig(cfg, "model", "name"),
        "context_strategy": dig(cfg, "context_strategy", "name"),
        "max_tokens": dig(cfg, "context_strategy", "max_tokens"),
        "loss": dig(cfg, "loss", "name"),
        "seed": m.get("seed", run.get("seed", cfg.get("seed"))),
        "tags": cfg.get("tags") or [],
        "data": {"source": dig(cfg, "data", "source"), "path": dig(cfg, "data", "path"), "n": m.get("n")},
        "git": {"sha": dig(run, "git", "sha"), "dirty": dig(run, "git", "dirty")},
        "command": run.get("command"),
        "epochs": m.get("epochs"),
        "train_seconds": number(m.get("train_seconds")),
        "inference_ms_per_article": number(m.get("inference_ms_per_article")),
        "metrics": metrics,
        "dims": dims_of(metrics.get("val", {})),
        "wandb": wandb_info(d, cfg.get("logger")) if dig(cfg, "logger", "kind", default="wandb") == "wandb" else None,
        "logger": dig(cfg, "logger", "kind"),
        "sweep": str(d.parent) if in_sweep(d) else None,
        "predictions": preds or None,
    }
    heads = head_dirs(d, cfg, m)
    if heads:  # listed under each of its filters, never under the made-up "a/v1+b/v1"
        row.update(filter=None, filters=list(heads), path=str(d))
        row["per_filter"] = {ref: head_row(row, ref, h) for ref, h in heads.items()}
    return row


# ---- evaluate / ensemble -------------------------------------------------------------------------
def evaluate_claims(d: Path) -> bool:
    rd = RunDir(d)
    if rd.is_run():
        return False
    return under_task(d, "evaluate", "ensemble") or (
        rd.metrics_file.is_file() and rd.exists(REPORT, RunDir.PREDICTIONS)
    )


def evaluate_watched(d: Path, prev: dict | None) -> list[Path]:
    rd = RunDir(d)
    return [rd.metrics_file, rd / RunDir.RUN, rd / RunDir.PREDICTIONS, rd.error_file]


def evaluate_read(d: Path, prev: dict | None) -> dict[str, Any]:
    rd = RunDir(d)
    m = rd.metrics() or {}
    run = rd.run_info() or {}
    task = run.get("task") or task_of(d, "evaluate")
    final, raw = numeric(m.get("final")), numeric(m.get("raw"))
    status = "ok" if final else ("failed" if rd.error_file.is_file() else "incomplete")
    target = m.get("target") or run.get("target")
    wandb = None
    if m.get("wandb_dir"):  # <eval dir>/wandb/offline-run-<time>-<id> (evaluate/report.py)
        wandb = wandb_run(Path(m["wandb_dir"]), {"project": "distillery"})
    elif rd.wandb_dir.is_dir():
        wandb = wandb_info(d, {"project": "distillery"})
    return {
        "kind": task if task in ("evaluate", "ensemble") else "evaluate",
        "name": d.name,
        "started": started_of(d, run),
        "status": status,
        "error": last_line(rd.error_file) if status == "failed" else None,
        "filter": m.get("filter"),
        "target": target,
        "members": [x.get("target") for x in m.get("members") or []] or run.get("members"),
        "model": m.get("kind"),
        "data": m.get("data"),
        "calibrated": m.get("calibrated"),
        "ms_per_article": number(m.get("ms_per_article")),
        "metrics": {"final": final, "raw": raw},
        "ranking": numeric(m.get("ranking")),
        "dims": dims_of(final),
        "wandb": wandb,
        "predictions": prediction_histograms(rd / RunDir.PREDICTIONS),
    }


# ---- anything else that looks like a run -----------------------------------------------------------
def other_claims(d: Path) -> bool:
    return d.parent.name == "runs" or (RunDir(d) / RunDir.RUN).is_file()


def other_watched(d: Path, prev: dict | None) -> list[Path]:
    rd = RunDir(d)
    return [rd / RunDir.RUN, rd.metrics_file, rd.error_file]


def other_read(d: Path, prev: dict | None) -> dict[str, Any]:
    rd = RunDir(d)
    run = rd.run_info() or {}
    try:
        m = rd.metrics() or {}
    except ValueError:
        m = {}
    err = rd.error_file
    return {
        "kind": run.get("task") or task_of(d, "other"),
        "name": d.name,
        "started": started_of(d, run),
        "status": "failed" if err.is_file() else ("ok" if m else "incomplete"),
        "error": last_line(err) if err.is_file() else None,
        "filter": m.get("filter") if isinstance(m, dict) else None,
        "unknown_kind": True,
    }


# version 2: a multi-head run is listed under each of its filters (per_filter), not under "a+b"
TRAIN = Adapter("train", 2, True, train_claims, train_watched, train_read)
EVALUATE = Adapter("evaluate", 1, True, evaluate_claims, evaluate_watched, evaluate_read)
OTHER = Adapter("other", 1, True, other_claims, other_watched, other_read)

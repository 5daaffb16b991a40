"""Labelled records to evaluate a scorer on: a ``--data`` file, or a split of the data the
target's run trained on (read from the run's ``config.yaml`` or an export's manifest)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from distillery.data.records import read_records
from distillery.errors import DistilleryError
from distillery.evaluate.predict import is_export_dir, run_dir_of
from distillery.rundir import RunDir
from distillery.runtime.manifest import ExportDir


def run_data_config(run: Path | None) -> tuple[dict | None, str | None]:
    """(data config, cache dir) from a training run dir's ``config.yaml`` (unresolved)."""
    if run is None:
        return None, None
    from omegaconf import OmegaConf

    cfg = OmegaConf.to_container(RunDir(run).config(), resolve=False)
    return cfg.get("data"), (cfg.get("paths") or {}).get("cache_dir")


def target_config(target: Path) -> tuple[dict | None, str | None]:
    """(data config, cache dir) recorded for a run dir / checkpoint / export dir, if any."""
    if is_export_dir(target):
        src = ExportDir(target).manifest_dict().get("source", {})
        return src.get("data"), src.get("cache_dir")
    return run_data_config(run_dir_of(target))


def load_eval_records(
    target: Path, spec: Any, data: str | None, split: str | None, limit: int | None = None
) -> tuple[list[dict], str]:
    """Labelled records to evaluate on: ``--data FILE`` or a split of the data the run trained on."""
    if data:
        records = read_records([Path(data)], spec).records
        desc = str(data)
    else:
        split = split or "test"
        cfg, cache = target_config(Path(target))
        if cfg is None:
            raise DistilleryError(
                f"{target}: no training config recorded, so --split {split} is unknown; give --data FILE"
            )
        from omegaconf import OmegaConf

        from distillery.data.datamodule import load_split_records  # torch + lightning
        from distillery.paths import cache_dir

        cache_str = str(cache) if cache and "${" not in str(cache) else str(cache_dir())
        splits, _ = load_split_records(OmegaConf.create(cfg), spec, Path(cache_str))
        records = splits.get(split) or []
        desc = f"split {split} of {cfg.get('source')} data" + (f" ({cfg.get('path')})" if cfg.get("path") else "")
    if limit:
        records = records[: int(limit)]
    if not records:
        raise DistilleryError(f"no labelled records to evaluate on ({desc})")
    return records, desc


def parity_records(run: Path, spec: Any, data: str | None, n: int) -> tuple[list[dict], str]:
    """The held-out articles the export's parity gate (and the benchmark) use: ``data``, else
    the test split, else the val split (first ``n``)."""
    if data:
        return load_eval_records(run, spec, data, None, n)
    try:
        return load_eval_records(run, spec, None, "test", n)
    except DistilleryError:
        return load_eval_records(run, spec, None, "val", n)

"""How a training run is named and grouped in W&B: one group per sweep invocation, the variant as
the job type, and the seed in the run name and tags, so a dashboard can average a variant over its
seeds (group by ``job_type``) without mixing in other sweeps of the same filter.

A run outside a multirun keeps ``logger.group`` (the filter, by default) and gets the seed in its
name and tags. In a multirun (``-m`` or ``distillery sweep``) the group is
``<logger.group>:<multirun dir name>`` and the variant is the job's overrides without ``seed``.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

from distillery.evaluate.compare import variant_of

_TAG_MAX = 64  # W&B's limit on a tag's length


@dataclass(frozen=True)
class RunIdentity:
    group: str
    job_type: str
    name: str
    tags: list[str] = field(default_factory=list)


def run_identity(
    group: str,
    job_type: str,
    tags: list[str],
    run_name: str,
    seed: int,
    overrides: list[str] | None = None,
    sweep_dir: str | None = None,
) -> RunIdentity:
    """The W&B identity of a run; ``overrides``/``sweep_dir`` are given for a multirun job."""
    extra = [f"seed={seed}"]
    if sweep_dir is None:
        return RunIdentity(group, job_type, f"{run_name} seed={seed}", _tags(tags, extra))
    variant = variant_of(overrides or []) or "default"
    sweep = Path(sweep_dir).name
    extra += [f"variant={variant}", f"sweep={sweep}"]
    return RunIdentity(f"{group}:{sweep}", variant, f"{variant} seed={seed}", _tags(tags, extra))


def hydra_job() -> tuple[list[str] | None, str | None]:
    """(the job's task overrides, the multirun dir) when running inside a Hydra multirun, else (None, None)."""
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        hc = HydraConfig.get()
    except (ImportError, ValueError):  # not under Hydra (the Python API, tests)
        return None, None
    if hc.mode != RunMode.MULTIRUN:
        return None, None
    return [str(o) for o in hc.overrides.task], str(hc.sweep.dir)


def identity_for(cfg: Any, run_dir: Path, seed: int) -> RunIdentity:
    lg = cfg.logger
    overrides, sweep_dir = hydra_job()
    return run_identity(str(lg.group), str(lg.job_type), list(lg.tags or []), run_dir.name, seed, overrides, sweep_dir)


def _tags(tags: list[str], extra: list[str]) -> list[str]:
    return list(dict.fromkeys(str(t)[:_TAG_MAX] for t in [*tags, *extra]))


class SlurmCheck(Callback):
    """Hydra callback that ``hydra/launcher=slurm`` adds (conf/hydra/launcher/slurm.yaml): off a SLURM
    cluster a multirun stops with one error line before any job is submitted, not submitit's traceback."""

    def on_multirun_start(self, config: Any, **kwargs: Any) -> None:
        missing = [c for c in ("sbatch", "srun") if shutil.which(c) is None]
        if missing:
            print(
                f"error: hydra/launcher=slurm submits each job to SLURM, but {' and '.join(missing)} "
                f"{'is' if len(missing) == 1 else 'are'} not on PATH: this is not a SLURM cluster node; run the "
                "sweep on the cluster's login node, or without hydra/launcher=slurm to run its jobs here",
                file=sys.stderr,
            )
            raise SystemExit(2)

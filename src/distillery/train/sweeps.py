"""``distillery sweep NAME [overrides]``: run a sweep file from ``sweeps/`` as a Hydra multirun.

A sweep file (``sweeps/<name>.yaml``) is a *primary* Hydra config: ``defaults: [train, _self_]``
(the whole training config) plus ``hydra.sweeper.params`` (what to sweep), ``logger.group``
(one W&B group per sweep) and ``hydra.callbacks`` (``compare`` at the end). So

    distillery sweep context_length experiment=smoke
    distillery train -m --config-dir sweeps --config-name context_length experiment=smoke

are the same job: the sweeps folder is added to Hydra's search path and the sweep file is
loaded instead of ``train.yaml``. Jobs land in ``outputs/train/multiruns/<time>_<id>/``.
``NAME`` may also be a path to a sweep file of your own (``./my_sweeps/lr.yaml``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

from distillery.errors import DistilleryError
from distillery.paths import shipped


def sweeps_dir() -> Path:
    """The shipped sweep files (top-level ``sweeps/`` in a checkout)."""
    return shipped("sweeps")


def list_sweeps() -> dict[str, str]:
    """name -> first comment line of each shipped sweep file."""
    out: dict[str, str] = {}
    d = sweeps_dir()
    for f in sorted(d.glob("*.yaml")) if d.is_dir() else []:
        first = next(
            (ln.lstrip("# ").strip() for ln in f.read_text(encoding="utf-8").splitlines() if ln.startswith("#")), ""
        )
        out[f.stem] = first
    return out


def resolve_sweep(name: str) -> tuple[Path, str]:
    """(config dir, config name) of a sweep given by name or by path to a .yaml file."""
    p = Path(name).expanduser()
    if p.suffix in (".yaml", ".yml") and p.is_file():
        return p.resolve().parent, p.stem
    f = sweeps_dir() / f"{name}.yaml"
    if f.is_file():
        return f.parent, f.stem
    known = ", ".join(list_sweeps()) or "none found"
    raise DistilleryError(f"no sweep {name!r} (shipped sweeps: {known}; or give a path to a sweep .yaml)")


class MakeDirs(Callback):
    """Hydra callback: create folders before a multirun starts (e.g. the Optuna SQLite study's)."""

    def __init__(self, dirs: list[str]):
        self.dirs = [str(d) for d in dirs]

    def on_multirun_start(self, config: Any, **kwargs: Any) -> None:
        for d in self.dirs:
            Path(d).mkdir(parents=True, exist_ok=True)


class sweep_cmd:
    @staticmethod
    def add_arguments(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "name",
            nargs="?",
            help="a sweep in sweeps/ (context_length, loss, base_model, hparams) or a path "
            "to a sweep .yaml; omit to list the sweeps",
        )
        p.add_argument("--filter", help="filter to train for, NAME/vN (same as the filter= override)")
        p.add_argument("--filters-dir", action="append", default=[], metavar="DIR", help="extra folder of filters")

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        if not args.name or args.name in ("-h", "--help"):
            print("sweeps (run: distillery sweep NAME [overrides]; docs/sweeps.md):")
            for name, line in list_sweeps().items():
                print(f"  {name:16s} {line}")
            return 0
        from distillery.train.commands import hydra_overrides, run_hydra
        from distillery.train.task import task

        config_dir, config_name = resolve_sweep(args.name)
        overrides = [o for o in hydra_overrides(args) if o not in ("-m", "--multirun")]
        inspect = ("--cfg", "-c", "--info", "-i", "--help", "-h", "--hydra-help", "--resolve", "--package", "-p")
        mode = [] if any(o.split("=")[0] in inspect for o in overrides) else ["--multirun"]  # --cfg etc. exclude -m
        run_hydra(task, config_name, [*mode, f"--config-dir={config_dir}", *overrides])
        return 0

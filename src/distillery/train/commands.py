"""``distillery train``: argparse front, Hydra behind (overrides, --cfg, --help, -m all work).

``distillery train --help`` is Hydra's help (conf/hydra/default.yaml) followed by the training
methods (``train.method``), listed from :data:`distillery.train.recipes.RECIPES`.
"""

from __future__ import annotations

import argparse
import sys

from distillery.errors import DistilleryError
from distillery.paths import conf_dir
from distillery.train.recipes import methods_help

HELP_FLAGS = ("--help", "-h")


def hydra_overrides(args: argparse.Namespace, group: str = "filter") -> list[str]:
    """Turn ``--filter X`` (and ``filter=X``) into Hydra overrides.

    A filter with a pointer file ``conf/filter/X.yaml`` is a group option (``filter=X``); any
    other filter (e.g. in a user's filters folder) is selected by name (``filter.name=X``).
    """
    out: list[str] = []
    for o in args.overrides:
        if o.startswith(f"{group}="):
            out.append(_filter_override(o.split("=", 1)[1]))
        elif o.startswith("seeds="):
            out.append(seeds_override(o, args.overrides))
        else:
            out.append(o)
    if getattr(args, "filter", None):
        out.append(_filter_override(args.filter))
    if getattr(args, "filters_dir", None):
        out.append("filters_dirs=[" + ",".join(f"'{d}'" for d in args.filters_dir) + "]")
    return out


def seeds_override(o: str, overrides: list[str]) -> str:
    """``seeds=K`` -> ``seed=range(0,K)``: every variant of a multirun trained on seeds 0..K-1 (the
    split stays fixed by ``data.split_seed``, so the variants see the same articles)."""
    k = o.partition("=")[2]
    if not k.isdigit() or int(k) < 1:
        raise DistilleryError(f"seeds={k}: give the number of seeds per variant, an integer >= 1 (e.g. seeds=3)")
    if any(x.partition("=")[0].lstrip("+") == "seed" for x in overrides):
        raise DistilleryError("give either seeds=K or seed=..., not both")
    return f"seed=range(0,{int(k)})"


def _filter_override(ref: str) -> str:
    return f"filter={ref}" if (conf_dir() / "filter" / f"{ref}.yaml").is_file() else f"filter.name={ref}"


def run_hydra(task_fn, config_name: str, argv: list[str]) -> None:
    """Run ``task_fn`` as a Hydra app over the shipped config tree with ``argv`` as its arguments.

    ``sys.argv[0]`` becomes ``distillery/train/__main__.py`` so that launchers which re-execute
    the script (Lightning DDP) start the same job.
    """
    from pathlib import Path

    from hydra import main as hydra_main

    from distillery.config import register_resolvers

    register_resolvers()
    saved = sys.argv
    sys.argv = [str(Path(__file__).with_name("__main__.py")), *argv]
    try:
        hydra_main(version_base="1.3", config_path=str(conf_dir()), config_name=config_name)(task_fn)()
    finally:
        sys.argv = saved


class train_cmd:
    @staticmethod
    def add_arguments(p: argparse.ArgumentParser) -> None:
        p.add_argument("--filter", help="filter to train for, NAME/vN (same as the filter= override)")
        p.add_argument("--filters-dir", action="append", default=[], metavar="DIR", help="extra folder of filters")

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        from distillery.train.task import task

        overrides = hydra_overrides(args)
        if not any(o in HELP_FLAGS for o in overrides):
            run_hydra(task, "train", overrides)
            return 0
        try:  # Hydra prints its help and exits 0; the methods follow it
            run_hydra(task, "train", overrides)
        except SystemExit as e:
            if e.code not in (0, None):
                raise
        print(f"\n{methods_help()}")
        return 0

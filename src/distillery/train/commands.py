"""``distillery train``: argparse front, Hydra behind (overrides, --cfg, --help, -m all work).

``distillery train --help`` is Hydra's help (conf/hydra/default.yaml) followed by the training
methods (``train.method``), listed from :data:`distillery.train.recipes.RECIPES`.
"""

from __future__ import annotations

import argparse
import importlib.util
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


# options of other verbs that users carry over to train, and what train takes instead
OPTION_HINTS = {
    "--skip-invalid": "data.skip_invalid=true",
    "--data": "data=jsonl data.path=FILE",
    "--out": "paths.output_dir=DIR",
    "--seed": "seed=N",
}


def check_hydra_args(argv: list[str], prog: str) -> None:
    """Check ``argv`` the way Hydra will, before Hydra does: its usage and errors then name
    ``prog`` (``distillery train``), not ``__main__.py``, an unknown ``--option`` is one error line
    saying what works instead, and an override that does not parse is named."""
    from hydra._internal.utils import get_args_parser
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    parser = get_args_parser()
    parser.prog = prog  # argparse errors (e.g. --cfg nonsense) print "usage: distillery train ..." and exit 2
    args, unknown = parser.parse_known_args(argv)
    options = [u for u in unknown if u.startswith("-")]
    if options:
        hints = [
            f"{o.split('=')[0]} -> {OPTION_HINTS[o.split('=')[0]]}" for o in options if o.split("=")[0] in OPTION_HINTS
        ]
        raise DistilleryError(
            f"{prog}: unrecognized option(s) {' '.join(options)}: it takes Hydra overrides key=value"
            + (f" ({'; '.join(hints)})" if hints else "")
            + f"; see `{prog} --help`"
        )
    if unknown:  # overrides on both sides of an option: Hydra takes one unbroken run of them
        raise DistilleryError(
            f"{prog}: override(s) {' '.join(unknown)} come after an option that follows other overrides: give "
            f"the options first, then all overrides (e.g. `{prog} -m experiment=smoke seed=0,1`)"
        )
    launchers = {o.partition("=")[2] for o in args.overrides if o.startswith("hydra/launcher=")}
    if "slurm" in launchers and importlib.util.find_spec("hydra_plugins.hydra_submitit_launcher") is None:
        raise DistilleryError(
            'hydra/launcher=slurm needs the hydra-submitit-launcher plugin: pip install "distillery[sweeps]"'
        )
    parse = OverridesParser.create()
    for o in args.overrides:
        try:
            parse.parse_overrides([o])
        except OverrideParseException as e:
            why = str(e).strip().splitlines()
            raise DistilleryError(
                f"{prog}: cannot parse override {o!r}"
                + (f" ({why[1].strip()})" if len(why) > 1 else "")
                + ": overrides are key=value, e.g. data.path=labelled/"
            ) from None


def run_hydra(task_fn, config_name: str, argv: list[str], prog: str | None = None) -> None:
    """Run ``task_fn`` as a Hydra app over the shipped config tree with ``argv`` as its arguments.

    ``argv`` is checked first (:func:`check_hydra_args`; ``prog`` defaults to ``distillery train``
    for the train config, ``distillery sweep`` for a sweep's). ``sys.argv[0]`` becomes
    ``distillery/train/__main__.py`` so that launchers which re-execute the script (Lightning DDP)
    start the same job.
    """
    from pathlib import Path

    from hydra import main as hydra_main

    from distillery.config import register_resolvers

    check_hydra_args(argv, prog or ("distillery train" if config_name == "train" else "distillery sweep"))
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

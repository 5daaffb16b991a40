"""The ``distillery`` command. Every verb is listed in ``VERBS`` below, in pipeline order.

Imports are lazy: ``distillery --help`` must not pay for torch, lightning or transformers.
Each verb's module exposes ``add_arguments(parser)`` and ``run(args) -> int | None``; ``train``
(and other Hydra verbs) receive their remaining arguments as Hydra overrides.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Verb:
    module: str  # module with add_arguments(parser) and run(args)
    help: str
    examples: str
    hydra: bool = False  # passes unknown args through as Hydra overrides


VERBS: dict[str, Verb] = {
    "filters": Verb(
        "distillery.filters.commands:list_cmd",
        "list the filters distillery can find",
        "distillery filters\n  distillery filters --filters-dir ~/my-filters",
    ),
    "validate-filter": Verb(
        "distillery.filters.commands:validate_cmd",
        "validate a filter spec and report every problem at once",
        "distillery validate-filter uplifting/v6\n  distillery validate-filter ./filters/belonging/v1",
    ),
    # ---- oracle labelling (src/distillery/oracle/) ----
    "new-filter": Verb(
        "distillery.filters.commands:new_filter_cmd",
        "scaffold a new, valid, editable filter (spec, prompt, prefilter, README)",
        "distillery new-filter --name belonging --dimensions 6",
    ),
    "score": Verb(
        "distillery.oracle.commands:score_cmd",
        "label articles with the oracle LLM (any OpenAI-compatible API), cached in a ledger",
        "distillery score --filter belonging/v1 --articles 1000",
    ),
    "prepare": Verb(
        "distillery.oracle.commands:prepare_cmd",
        "merge, dedupe and split labelled data into train/val/test",
        "distillery prepare --filter belonging/v1 labelled/*.jsonl --out data/belonging_v1",
    ),
    # ---- training ----
    "synth-corpus": Verb(
        "distillery.data.commands:synth_cmd",
        "write the seeded synthetic corpus (known scores) as JSONL",
        "distillery synth-corpus --filter uplifting/v6 --n 2400 --seed 0 --out corpus.jsonl",
    ),
    "train": Verb(
        "distillery.train.commands:train_cmd",
        "fine-tune a scorer (LoRA regressor) with Hydra overrides",
        "distillery train                                  # embedded default: tiny-qwen2, synthetic uplifting/v6\n"
        "  distillery train --filter uplifting/v6 model=qwen2.5-1.5b trainer=gpu\n"
        "  distillery train data=jsonl data.path=labelled/ model=minilm-l6\n"
        "  distillery train -m context_strategy=trunc512,head_tail\n"
        "  distillery train --cfg job                        # print the composed config\n"
        "  distillery train experiment=smoke logger=csv",
        hydra=True,
    ),
}


def _load(verb: Verb):
    mod, _, obj = verb.module.partition(":")
    return getattr(importlib.import_module(mod), obj)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="distillery",
        description="Distil an expensive LLM oracle into small, fast scoring models.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  "
        + "\n  ".join(v.examples.splitlines()[0] for v in VERBS.values())
        + "\n\nRun `distillery <verb> --help` for a verb's options and worked examples.",
    )
    from distillery import __version__

    parser.add_argument("--version", action="version", version=f"distillery {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="<verb>")
    for name, verb in VERBS.items():
        sub.add_parser(name, help=verb.help, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or argv[0] not in VERBS:
        parser.parse_args(argv or ["--help"])  # prints help / version / the unknown-verb error
        return 2
    name, rest = argv[0], argv[1:]
    verb = VERBS[name]
    from distillery.errors import DistilleryError

    try:
        cmd = _load(verb)
        sub = argparse.ArgumentParser(
            prog=f"distillery {name}",
            description=verb.help,
            epilog=f"examples:\n  {verb.examples}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
            add_help=not verb.hydra,
        )
        cmd.add_arguments(sub)
        if verb.hydra:
            args, overrides = sub.parse_known_args(rest)
            args.overrides = overrides
        else:
            args = sub.parse_args(rest)
        code = cmd.run(args)
    except DistilleryError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""``distillery active-learn``: one active-learning round (see :mod:`distillery.active.loop`)."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from distillery.active.context import ActiveOptions
from distillery.active.loop import run_round
from distillery.errors import DistilleryError
from distillery.filters.commands import add_filters_dir
from distillery.oracle.commands import add_oracle_arguments, oracle_options


class active_learn_cmd:
    @staticmethod
    def add_arguments(p: argparse.ArgumentParser) -> None:
        p.epilog = (
            (p.epilog or "")
            + """

Steps, each resumable (OUT/state.json; a re-run skips what finished and continues where a killed
or failed run stopped): predict the pool -> select candidates -> oracle-label them (ledger, cost
estimate, --max-cost, confirmation) -> merge into the run's splits -> retrain -> report.md."""
        )
        p.add_argument(
            "run_dir", type=Path, metavar="RUN_DIR", help="the training run dir to improve (config.yaml, checkpoint/)"
        )
        p.add_argument("--pool", type=Path, required=True, metavar="JSONL", help="unlabelled articles to choose from")
        p.add_argument("--out", type=Path, required=True, metavar="DIR", help="the round's folder (resumable)")
        s = p.add_argument_group("selection")
        s.add_argument(
            "--select",
            choices=["threshold", "uncertainty", "both"],
            help="threshold: predicted weighted average >= --threshold; uncertainty: widest conformal "
            "intervals (needs the run's confidence.json: `distillery calibrate RUN_DIR`); "
            "default threshold, or both when --uncertain-top is given",
        )
        s.add_argument(
            "--threshold", type=float, default=5.0, help="predicted weighted average to pick at (default 5.0)"
        )
        s.add_argument(
            "--uncertain-top",
            type=int,
            metavar="K",
            help="the K most uncertain articles (default: every article flagged needs_review)",
        )
        s.add_argument("--budget", type=int, metavar="N", help="label at most N candidates (the highest priority)")
        add_filters_dir(p)
        add_oracle_arguments(p)
        r = p.add_argument_group("run control")
        r.add_argument(
            "--max-cost",
            type=float,
            metavar="USD",
            help="abort before sending if the estimate exceeds this; stop cleanly before spending more",
        )
        r.add_argument("--yes", "-y", action="store_true", help="send to the oracle without asking")
        r.add_argument(
            "--ledger",
            metavar="FILE",
            help="oracle ledger to use (default OUT/oracle/ledger.jsonl), "
            "e.g. your project's, so answers already paid for are reused",
        )
        r.add_argument("--dry-run", action="store_true", help="predict, select and estimate the cost; send nothing")
        r.add_argument(
            "--redo",
            choices=["predict", "select", "label", "merge", "retrain", "report"],
            help="redo this step and the ones after it (paid oracle answers stay in the ledger)",
        )
        r.add_argument(
            "--allow-missing",
            action="store_true",
            help="go on when some candidates still have no oracle answer (request errors)",
        )
        r.add_argument(
            "--train-overrides",
            default="",
            metavar="'K=V ...'",
            help="extra Hydra overrides for the retrain, e.g. 'trainer.max_epochs=2 logger=none'",
        )
        r.add_argument("--batch-size", type=int, help="articles per forward pass when predicting")
        r.add_argument("--threads", type=int, help="torch CPU threads when predicting")
        r.add_argument("--quiet", action="store_true", help="no progress lines or tables")

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        try:
            train_overrides = shlex.split(args.train_overrides)
        except ValueError as e:
            raise DistilleryError(f"--train-overrides: {e}") from None
        run_round(
            ActiveOptions(
                run_dir=args.run_dir,
                pool=args.pool,
                out=args.out,
                threshold=args.threshold,
                uncertain_top=args.uncertain_top,
                select=args.select,
                budget=args.budget,
                yes=args.yes,
                dry_run=args.dry_run,
                redo=args.redo,
                allow_missing=args.allow_missing,
                oracle=oracle_options(args),
                filters_dir=args.filters_dir,
                train_overrides=train_overrides,
                batch_size=args.batch_size,
                threads=args.threads,
                quiet=args.quiet,
            )
        )
        return 0

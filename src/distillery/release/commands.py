"""``distillery gate CANDIDATE --baseline DEPLOYED --data HOLDOUT``."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path


def add_gate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--baseline", required=True, metavar="DEPLOYED", help="the deployed scorer (same kinds as CANDIDATE)"
    )
    p.add_argument("--data", required=True, metavar="HOLDOUT", help="held-out labelled JSONL (prepare --holdout)")
    p.add_argument("--gate-out", dest="gate_out", type=Path, help="folder for gate.json + report.md")
    p.add_argument(
        "--skip-overlap-check",
        action="store_true",
        help="gate even when the candidate's training data is unknown (recorded in gate.json)",
    )
    from distillery.evaluate.floor import add_agreement_argument

    add_agreement_argument(p)


def gate(
    candidate: str,
    baseline: str,
    data: str,
    out: Path | None,
    skip_overlap_check: bool = False,
    agreement: str | None = None,
) -> int:
    from distillery.release.gate import run_gate
    from distillery.release.report import print_table, write_outputs

    res = run_gate(candidate, baseline, data, skip_overlap_check, agreement)
    if out is None:
        outputs = Path(os.environ.get("DISTILLERY_OUTPUTS") or "outputs")
        out = outputs / "gate" / "runs" / time.strftime("%Y-%m-%d_%H-%M-%S")
    print_table(res)
    if res.get("floor"):
        print(res["floor"])
    files = write_outputs(res, out)
    print(("PASS" if res["passed"] else f"FAIL: {', '.join(res['failing'])}") + f" ({files['report']})")
    return 0 if res["passed"] else 1


class gate_cmd:
    @staticmethod
    def add_arguments(p: argparse.ArgumentParser) -> None:
        p.add_argument("candidate", help="run dir, checkpoint, export/hybrid dir, or pkg:<import name>")
        add_gate_arguments(p)
        p.set_defaults(out=None)
        p.add_argument("--out", dest="gate_out", type=Path, help="folder for gate.json + report.md")

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        return gate(args.candidate, args.baseline, args.data, args.gate_out, args.skip_overlap_check, args.agreement)

"""The floor under a student's error: the oracles' own disagreement (``distillery agree`` writes
``agreement.json``; :mod:`distillery.oracle.agree`). ``evaluate``, ``compare`` and ``gate`` print
the student's MAE next to it ("student MAE 0.41 vs inter-oracle 0.62"): a student already closer
to one oracle than a second oracle is gains little from fitting the first one better."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from distillery.errors import DistilleryError

AGREEMENT = "agreement.json"


def load_agreement(given: str | Path | None, near: Any = (), filter_ref: str | None = None) -> dict[str, Any] | None:
    """The ``agree`` report a student's error is shown against: ``given`` (an agreement.json or the
    ``agree --out`` dir holding one), else the first ``agreement.json`` found in (or one level
    under) the ``near`` folders (the data's folder). A report of another filter is an error when
    given and ignored when found."""
    if given:
        p = Path(given)
        p = p / AGREEMENT if p.is_dir() else p
        if not p.is_file():
            raise DistilleryError(f"--agreement {given}: no {AGREEMENT} there (write one with `distillery agree`)")
        try:
            rep = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise DistilleryError(f"{p}: not an agreement report ({e})") from None
        if filter_ref and rep.get("filter") != filter_ref:
            raise DistilleryError(f"{p}: an agreement of {rep.get('filter')}, not {filter_ref}")
        return {**rep, "file": str(p)}
    for d in near:
        if not d:
            continue
        d = Path(d)
        d = d if d.is_dir() else d.parent
        for p in [d / AGREEMENT, *sorted(d.glob(f"*/{AGREEMENT}"))]:
            try:
                rep = json.loads(p.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError):
                continue
            if isinstance(rep, dict) and "inter_oracle_mae" in rep and rep.get("filter") in (None, filter_ref):
                return {**rep, "file": str(p)}
    return None


def floor_line(student_mae: float, agreement: dict[str, Any] | None, what: str = "student MAE") -> str | None:
    """``student MAE 0.41 vs inter-oracle 0.62 (200 articles, <file>)``, with what it means."""
    if not agreement or student_mae is None or not np.isfinite(student_mae):
        return None
    floor = float(agreement["inter_oracle_mae"])
    line = f"{what} {student_mae:.2f} vs inter-oracle {floor:.2f} ({agreement.get('n', '?')} articles, {agreement['file']})"
    if student_mae < floor:
        return line + ": below the oracles' own disagreement, so smaller gains against one oracle mean little"
    return line + f": {student_mae - floor:.2f} above the floor"


def add_agreement_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--agreement",
        metavar="FILE",
        help="`distillery agree`'s agreement.json (or its dir): print the error next to the inter-oracle floor "
        "(default: an agreement.json in the data's folder)",
    )

"""The embedded default (`distillery train`, as `make demo` runs it) learns: val MAE <= 0.7 x the
MAE of predicting the training mean. Slow (a few minutes on 2 cores): `pytest -m slow`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from distillery.cli import main


@pytest.mark.slow
def test_default_run_beats_mean_baseline(capsys):
    assert main(["train", "seed=0", "logger=none"]) == 0
    run = Path(capsys.readouterr().out.strip().splitlines()[-1].removeprefix("run dir: "))
    m = json.loads((run / "metrics.json").read_text())
    assert m["val"]["mae"] <= 0.7 * m["val"]["mean_baseline_mae"], m["val"]
    assert m["test"]["mae"] <= 0.7 * m["test"]["mean_baseline_mae"], m["test"]

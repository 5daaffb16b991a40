"""compare: a fabricated multirun dir -> variants, delta vs baseline, failed rows, md/csv/png."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

from distillery.evaluate.compare import compare, read_sweep

DIMS = ["alpha", "beta"]


def _job(
    sweep: Path,
    num: int,
    overrides: list[str],
    mae: float | None,
    *,
    error: str | None = None,
    hydra_dir: bool = True,
    extra: dict | None = None,
) -> Path:
    d = sweep / f"{num}_{','.join(overrides)}"
    d.mkdir(parents=True)
    if hydra_dir:
        (d / ".hydra").mkdir()
        (d / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    (d / "config.yaml").write_text(yaml.safe_dump({"seed": 0, "loss": {"name": "mse"}}))
    if mae is not None:
        val = {
            "mae": mae,
            "rmse": mae * 1.3,
            "alpha/mae": mae - 0.1,
            "alpha/rmse": 1.0,
            "beta/mae": mae + 0.1,
            "beta/spearman": 0.5,
            "mean_baseline_mae": 1.0,
        }
        (d / "metrics.json").write_text(json.dumps({"train_seconds": 100.0 + num, "val": val, **(extra or {})}))
    if error is not None:
        (d / "error.log").write_text(error)
    return d


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    s = tmp_path / "multiruns" / "2025-01-01_12-00-00_abc123"
    _job(s, 0, ["context_strategy=trunc512", "experiment=smoke"], 0.680)
    _job(s, 1, ["context_strategy=trunc1024", "experiment=smoke"], 0.652, extra={"inference_ms_per_article": 3.25})
    _job(s, 2, ["context_strategy=trunc2048", "experiment=smoke"], 0.627)
    _job(
        s,
        3,
        ["context_strategy=head_tail", "experiment=smoke"],
        None,
        error='Traceback (most recent call last):\n  File "x.py", line 1\nRuntimeError: CUDA out of memory\n',
    )
    _job(s, 10, ["context_strategy=chunked", "experiment=smoke"], 0.700, hydra_dir=False)  # variant from the dir name
    (s / "multirun.yaml").write_text("hydra: {}\n")
    return s


def test_rows_deltas_and_failed_row(sweep: Path):
    rows = compare(sweep, write=False, quiet=True)
    assert [r["variant"] for r in rows] == [
        "context_strategy=trunc512 (baseline)",
        "context_strategy=trunc1024",
        "context_strategy=trunc2048",
        "context_strategy=head_tail",
        "context_strategy=chunked",
    ]  # job order 0,1,2,3,10; experiment=smoke is common
    delta = [r["delta_vs_baseline_pct"] for r in rows]
    assert delta[0] == pytest.approx(0.0)
    assert delta[1] == pytest.approx(100 * (0.652 - 0.680) / 0.680)  # -4.12 %
    assert delta[2] == pytest.approx(100 * (0.627 - 0.680) / 0.680)  # -7.79 %
    assert delta[3] is None
    assert delta[4] == pytest.approx(100 * (0.700 - 0.680) / 0.680)
    failed = rows[3]
    assert failed["status"] == "failed" and failed["val_mae"] is None
    assert failed["error"] == "RuntimeError: CUDA out of memory"
    assert rows[1]["alpha/mae"] == pytest.approx(0.552) and rows[1]["beta/mae"] == pytest.approx(0.752)
    assert rows[1]["inference_ms_per_article"] == 3.25 and rows[0]["inference_ms_per_article"] is None
    assert rows[2]["train_seconds"] == 102.0


def test_baseline_by_substring_and_files(sweep: Path, capsys):
    from distillery.cli import main

    assert main(["compare", str(sweep), "--baseline", "trunc1024"]) == 0
    printed = capsys.readouterr().out
    assert "| context_strategy=trunc1024 (baseline) | ok | 0.652 | +0.0% |" in printed
    assert "| context_strategy=trunc512 | ok | 0.680 | +4.3% |" in printed  # 100 * (0.680 - 0.652) / 0.652
    assert "| context_strategy=trunc2048 | ok | **0.627** | -3.8% |" in printed  # the best is bold
    assert "| context_strategy=head_tail | failed |" in printed
    md = (sweep / "compare.md").read_text()
    assert md.splitlines()[0] == "# 2025-01-01_12-00-00_abc123: 4/5 jobs ok, baseline context_strategy=trunc1024"
    with open(sweep / "compare.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["status"] for r in rows] == ["ok", "ok", "ok", "failed", "ok"]
    assert float(rows[2]["delta_vs_baseline_pct"]) == pytest.approx(100 * (0.627 - 0.652) / 0.652)
    assert rows[3]["val_mae"] == "" and rows[3]["error"] == "RuntimeError: CUDA out of memory"
    assert list(rows[0])[:5] == ["job", "variant", "status", "val_mae", "delta_vs_baseline_pct"]
    assert (sweep / "compare.png").stat().st_size > 1000


def test_bad_inputs(tmp_path: Path, sweep: Path, capsys):
    from distillery.cli import main

    (tmp_path / "empty").mkdir()
    assert main(["compare", str(tmp_path / "empty")]) == 2
    assert "no job dirs" in capsys.readouterr().err
    assert main(["compare", str(sweep), "--baseline", "nope", "--no-write"]) == 2
    assert "matches no successful job" in capsys.readouterr().err
    assert not (sweep / "compare.md").exists()


def test_variant_from_dir_name_keeps_list_values(tmp_path: Path):
    s = tmp_path / "sweep"
    _job(s, 0, ["model.lora.target_modules=[q_proj,v_proj]", "optim.lr=0.0002288113668475521"], 0.5, hydra_dir=False)
    _job(s, 1, ["model.lora.target_modules=[q_proj,v_proj]", "optim.lr=0.001"], 0.4, hydra_dir=False)
    jobs = read_sweep(s)
    assert jobs[0].overrides == ["model.lora.target_modules=[q_proj,v_proj]", "optim.lr=0.0002288113668475521"]
    assert [j.variant for j in jobs] == ["optim.lr=0.0002288", "optim.lr=0.001"]  # long floats shortened

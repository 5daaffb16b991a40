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


# ---- seeds: mean ± CI per variant, paired bootstrap Δ ------------------------------------------
def _seeded_sweep(tmp_path: Path, shift: dict[str, float], seeds=(0, 1, 2), n=40) -> tuple[Path, dict]:
    """Jobs ``context_strategy=<v>,seed=<s>`` with per-article predictions: article i has error
    base_err[s, i] + shift[v] (+ a per-seed wobble), so the true Δ is known."""
    import numpy as np

    rng = np.random.default_rng(7)
    base_err = rng.uniform(0.2, 2.0, size=(len(seeds), n))
    wobble = rng.normal(0, 0.02, size=(len(shift), len(seeds), n))
    s = tmp_path / "multiruns" / "seeded"
    errs = {}
    num = 0
    for vi, (v, dv) in enumerate(shift.items()):
        errs[v] = np.clip(base_err + dv + wobble[vi], 0, None)
        for si, seed in enumerate(seeds):
            d = _job(s, num, [f"context_strategy={v}", f"seed={seed}"], float(errs[v][si].mean()))
            m = json.loads((d / "metrics.json").read_text())
            (d / "metrics.json").write_text(json.dumps({**m, "seed": seed}))
            with open(d / "predictions_val.jsonl", "w") as fh:
                for i in range(n):  # alpha off by +e, beta by -e: mean absolute error e
                    e = float(errs[v][si, i])
                    fh.write(
                        json.dumps(
                            {
                                "id": f"a{i}",
                                "labels": {"alpha": 5.0, "beta": 5.0},
                                "scores": {"alpha": 5 + e, "beta": 5 - e},
                            }
                        )
                        + "\n"
                    )
            num += 1
    return s, errs


def test_seeds_are_grouped_and_the_bootstrap_matches_numpy(tmp_path: Path):
    import numpy as np
    from scipy.stats import t

    s, errs = _seeded_sweep(tmp_path, {"trunc512": 0.0, "head_tail": -0.3, "trunc1024": 0.005})
    rows = compare(s, write=True, quiet=True)
    assert [r["variant"] for r in rows] == [
        "context_strategy=trunc512 (baseline)",
        "context_strategy=head_tail",
        "context_strategy=trunc1024",
    ]
    assert [r["seeds"] for r in rows] == [3, 3, 3]
    for r, v in zip(rows, errs):
        per_seed = errs[v].mean(axis=1)
        assert r["val_mae"] == pytest.approx(per_seed.mean())
        half = t.ppf(0.975, 2) * per_seed.std(ddof=1) / np.sqrt(3)
        assert r["val_mae_ci"] == pytest.approx(half)

    # the paired bootstrap, recomputed directly: resample seeds and articles, relative Δ in %
    def direct(v: str) -> tuple[float, float]:
        d, b = errs[v] - errs["trunc512"], errs["trunc512"]
        rng = np.random.default_rng(0)
        stats = []
        for _ in range(2000):
            si = rng.integers(0, 3, size=3)
            ai = rng.integers(0, 40, size=40)
            stats.append(100 * d[np.ix_(si, ai)].mean() / b[np.ix_(si, ai)].mean())
        return tuple(np.percentile(stats, [2.5, 97.5]))

    for r, v in zip(rows[1:], ["head_tail", "trunc1024"]):
        lo, hi = direct(v)
        assert (r["delta_ci_low_pct"], r["delta_ci_high_pct"]) == (
            pytest.approx(lo, abs=1e-6),
            pytest.approx(hi, abs=1e-6),
        )
        assert r["delta_noise"] == "seeds and articles"
    assert rows[1]["distinguishable"] == "yes" and rows[1]["delta_ci_high_pct"] < 0  # -0.3 per article: real
    assert rows[2]["distinguishable"] == "no"  # +0.005 is inside the noise
    md = (s / "compare.md").read_text()
    assert "9/9 jobs ok (3 variants x seeds)" in md.splitlines()[0]
    assert f"| context_strategy=trunc1024 | ok | {rows[2]['val_mae']:.3f} ± {rows[2]['val_mae_ci']:.3f} |" in md
    assert "no: within noise" in md and "Δ 95% CI" in md
    with open(s / "compare_jobs.csv") as fh:
        assert len(list(csv.DictReader(fh))) == 9  # every job is still listed


def test_seed_pairing_without_predictions_and_with_one_seed(tmp_path: Path):
    s, _ = _seeded_sweep(tmp_path, {"a": 0.0, "b": 0.5})
    for f in s.glob("*/predictions_val.jsonl"):
        f.unlink()
    rows = compare(s, write=False, quiet=True)
    assert rows[1]["delta_noise"] == "seeds only" and rows[1]["delta_ci_low_pct"] is not None
    one, _ = _seeded_sweep(tmp_path / "one", {"a": 0.0, "b": 0.5}, seeds=(0,))
    rows = compare(one, write=False, quiet=True)
    assert rows[1]["delta_noise"] == "articles (1 seed)" and rows[1]["distinguishable"] == "yes"
    for f in one.glob("*/predictions_val.jsonl"):
        f.unlink()
    rows = compare(one, write=False, quiet=True)  # one seed, no per-article errors: no interval at all
    assert rows[1]["delta_ci_low_pct"] is None and rows[1]["distinguishable"] is None
    assert rows[1]["delta_vs_baseline_pct"] == pytest.approx(
        100 * (rows[1]["val_mae"] - rows[0]["val_mae"]) / rows[0]["val_mae"]
    )


def test_run_identity_groups_by_sweep_and_variant():
    from distillery.train.tracking import run_identity

    single = run_identity("uplifting/v6", "train", ["smoke"], "2026-01-01_00-00-00", 3)
    assert (single.group, single.name, single.tags) == (
        "uplifting/v6",
        "2026-01-01_00-00-00 seed=3",
        ["smoke", "seed=3"],
    )
    job = run_identity(
        "sweep_context_length", "train", [], "0", 2, ["context_strategy=head_tail", "seed=2"], "/o/multiruns/2026_x"
    )
    assert job.group == "sweep_context_length:2026_x" and job.job_type == "context_strategy=head_tail"
    assert job.name == "context_strategy=head_tail seed=2"
    assert job.tags == ["seed=2", "variant=context_strategy=head_tail", "sweep=2026_x"]

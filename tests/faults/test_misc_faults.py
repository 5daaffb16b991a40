"""Issue 16, the LIBRARY-NOISE / TRAINER / LAUNCHER / ENSEMBLE / STRICT-JSON rows, through the real CLI.

One module-scoped world (see :func:`world`): the suite's ``tiny_run`` copied, calibrated with nothing flagged,
evaluated by a real ``distillery evaluate`` subprocess on a labelled file with one 85k-token article (the
console as a user sees it), exported, ensembled with its INT8 export; plus a one-step
``trainer=ddp trainer.accelerator=cpu trainer.devices=1`` run. The verbs other than evaluate run in-process
through ``distillery.cli.main`` (:func:`_main_recorded` keeps their console, Python warnings and
transformers' log records): a subprocess each would cost ~10 s of imports on this 2-core box.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import warnings
from pathlib import Path

import pytest

from distillery.cli import main
from distillery.data.records import write_jsonl
from distillery.data.synthetic import generate_corpus
from distillery.filters import load_filter
from faults.conftest import _cli_prefix, assert_one_line, run_cli

pytestmark = pytest.mark.usefixtures("single_threaded")

NOISE = ("FutureWarning", "DeprecationWarning", "Token indices sequence length", "indexing errors", "Traceback")
ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "CI": "1"}


def strict_json(path: Path):
    """``path`` parsed as strict JSON: a bare NaN / Infinity fails the test."""
    return json.loads(path.read_text(encoding="utf-8"), parse_constant=lambda c: pytest.fail(f"{path}: bare {c}"))


def all_strict(folder: Path) -> list[Path]:
    files = sorted(folder.rglob("*.json"))
    for f in files:
        strict_json(f)
    return files


def assert_quiet(text: str) -> None:
    for needle in NOISE:
        assert needle not in text, f"{needle!r} on the console:\n{text}"


def _popen(args: list[str], cwd: Path, env: dict) -> subprocess.Popen:
    import os

    full = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "offline", "PYTHONUNBUFFERED": "1", **ENV, **env}
    full.pop("PYTEST_CURRENT_TEST", None)
    return subprocess.Popen(
        [*_cli_prefix(), *args], cwd=cwd, env=full, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _main_recorded(args: list) -> tuple[str, list[str]]:
    """``distillery *args`` in-process: (its console, the warnings and transformers log records it raised).

    Python warnings are recorded with every filter "always"; transformers logs through its own stderr
    handler, so its records are caught by a handler on the ``transformers`` logger."""
    import contextlib
    import io
    import logging

    console, records = io.StringIO(), []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: records.append(f"[transformers] {record.getMessage()}")
    lib = logging.getLogger("transformers")
    lib.addHandler(handler)
    try:
        with (
            warnings.catch_warnings(record=True) as caught,
            contextlib.redirect_stdout(console),
            contextlib.redirect_stderr(console),
        ):
            warnings.simplefilter("always")
            assert main([str(a) for a in args]) == 0, console.getvalue()
    finally:
        lib.removeHandler(handler)
    return console.getvalue(), [f"{w.category.__name__}: {w.message}" for w in caught] + records


def _train_ddp_in_process(out: Path) -> tuple[str, Path]:
    """``distillery train trainer=ddp trainer.accelerator=cpu trainer.devices=1`` in this process (one gloo
    rank); the process group and the env vars Lightning sets are undone after, for the tests that follow."""
    import os

    import torch.distributed as dist

    env = dict(os.environ)
    os.environ["DISTILLERY_OUTPUTS"] = str(out)
    try:
        console, raised = _main_recorded(
            ["train", "trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=1", "experiment=smoke"]
            + ["data.n=80", "logger=none", "seed=1", "trainer.limit_train_batches=1", "trainer.limit_val_batches=1"]
        )
    finally:
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
        os.environ.clear()
        os.environ.update(env)
    (run,) = (out / "train" / "runs").iterdir()
    return console + "".join(f"\n{r}" for r in raised), run


@pytest.fixture(scope="module")
def world(request, tmp_path_factory) -> dict:
    """Run a: the suite's tiny_run, copied, calibrated with nothing flagged; ``distillery evaluate a`` as a
    subprocess on the long-article data (it reads that confidence.json), while in-process a one-step run b
    trains (DDP on CPU), a is exported and a + its INT8 export are ensembled on the same data."""
    root = tmp_path_factory.mktemp("misc")
    a = root / "a"
    shutil.copytree(request.getfixturevalue("tiny_run"), a)  # calibrate writes into it: tiny_run stays as it is
    fresh = generate_corpus(load_filter("uplifting/v6"), n=12, seed=7)  # no article in the top tier
    fresh[0]["content"] = (fresh[0]["content"] + " ") * 200  # ~85k tokens: past any model_max_length
    long = write_jsonl(root / "long.jsonl", fresh)
    ran = {"calibrate": _main_recorded(["calibrate", a, "--review-threshold", "10"])}  # nothing flagged
    evaluate = _popen(
        ["evaluate", a, "--data", long, "--no-wandb", "--out", root / "eval_a"], root, {"DISTILLERY_OUTPUTS": str(root)}
    )
    ddp_out, b = _train_ddp_in_process(root / "outputs_b")
    ran["export"] = _main_recorded(["export", a, "--out", root / "export_a", "--threads", "1", "--parity-n", "8"])
    ens = ["ensemble", a, root / "export_a", "--data", long, "--no-wandb", "--out", root / "ens"]  # PyTorch + INT8
    ran["ensemble"] = _main_recorded(ens)
    eval_out, _ = evaluate.communicate(timeout=400)
    assert evaluate.returncode == 0, eval_out
    return {"root": root, "a": a, "b": b, "long": long, "ddp_out": ddp_out, "eval_out": eval_out, "ran": ran}


# ---- LIBRARY-NOISE ------------------------------------------------------------------------------
SCIPY_CONSTANT = "ConstantInputWarning"  # scipy, from evaluate/evaluation.py:_spearman


def test_evaluate_console_has_no_library_noise_and_starts_with_distillery(world):
    lines = [
        ln for ln in world["eval_out"].splitlines() if SCIPY_CONSTANT not in ln and "return float(spearmanr" not in ln
    ]
    assert_quiet("\n".join(lines))
    assert lines[0].startswith(f"pytorch on {world['long']} (n=12): MAE"), lines


def test_evaluate_of_an_embedding_probe_shows_no_loading_bar(probe_run, tmp_path):
    """A sentence-transformers backbone: no "Loading weights" bar, no loader INFO line before distillery's."""
    console, raised = _main_recorded(["evaluate", probe_run, "--no-wandb", "--out", tmp_path / "ev"])
    assert_quiet(console + "\n".join(raised))
    assert "Loading weights" not in console and "Loading SentenceTransformer" not in console, console
    assert console.startswith("pytorch on split test"), console


def test_evaluate_of_a_calibrated_small_run_has_no_scipy_warning(world):
    assert SCIPY_CONSTANT not in world["eval_out"], world["eval_out"]


def test_calibrate_ensemble_export_raise_no_library_warnings(world):
    ran = world["ran"]
    for console, raised in ran.values():
        assert_quiet(console + "\n".join(raised))
    assert ran["calibrate"][0].startswith("out of sample"), ran["calibrate"][0]
    assert ran["ensemble"][0].startswith("member "), ran["ensemble"][0]


# ---- TRAINER ------------------------------------------------------------------------------------
def test_ddp_on_cpu_trains_in_fp32_and_says_so_once(world):
    import yaml

    out = world["ddp_out"]
    lines = [ln for ln in out.splitlines() if "-> 32-true" in ln]
    assert len(lines) == 1 and "trainer.precision bf16-mixed -> 32-true" in lines[0], out
    assert yaml.safe_load((world["b"] / "config.yaml").read_text())["trainer"]["precision"] == "32-true"
    assert_quiet(out)
    assert "sync_dist" not in out and "warn" not in out.lower(), out
    assert json.loads((world["b"] / "metrics.json").read_text())["val"]["mae"] > 0


def test_precision_resolution():
    from distillery.train.scaffold import resolve_precision

    ddp_cpu = {"accelerator": "cpu", "precision": "bf16-mixed", "strategy": "ddp"}
    assert resolve_precision(ddp_cpu, gpu=False, explicit=False)[0] == "32-true"
    assert resolve_precision(ddp_cpu, gpu=True, explicit=False)[0] == "32-true"  # accelerator=cpu on a GPU box
    assert resolve_precision(ddp_cpu, gpu=False, explicit=True) == ("bf16-mixed", None)  # the user's choice
    auto = {"accelerator": "auto", "precision": "16-mixed"}
    assert resolve_precision(auto, gpu=False, explicit=False)[0] == "32-true"
    assert resolve_precision(auto, gpu=True, explicit=False) == ("16-mixed", None)
    gpu = {"accelerator": "gpu", "precision": "bf16-mixed"}
    assert resolve_precision(gpu, gpu=True, explicit=False) == ("bf16-mixed", None)
    assert resolve_precision({"accelerator": "cpu", "precision": "32-true"}, gpu=False, explicit=False) == (
        "32-true",
        None,
    )


def test_gpu_accelerator_without_a_gpu_is_one_clear_error(monkeypatch):
    from distillery.errors import DistilleryError
    from distillery.train import scaffold

    monkeypatch.setattr(scaffold, "gpu_available", lambda: False)
    with pytest.raises(DistilleryError, match=r"trainer.accelerator=gpu: no GPU .* trainer.accelerator=cpu"):
        scaffold.check_accelerator({"accelerator": "gpu"})
    scaffold.check_accelerator({"accelerator": "cpu"})


# ---- LAUNCHER -----------------------------------------------------------------------------------
def test_slurm_launcher_off_a_cluster_is_one_line(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    if shutil.which("sbatch") and shutil.which("srun"):
        pytest.skip("this machine is a SLURM node")
    out = tmp_path / "out"
    r = run_cli(
        ["train", "-m", "hydra/launcher=slurm", "experiment=smoke", "logger=none"],
        tmp_path,
        env={"DISTILLERY_OUTPUTS": str(out)},
        timeout=60,
    )
    assert_one_line(r, "hydra/launcher=slurm", "sbatch", "not a SLURM cluster", rc=2)
    assert not out.exists()  # no sweep dir, no job started


# ---- ENSEMBLE -----------------------------------------------------------------------------------
def test_ensemble_predictions_carry_needs_review_and_spread(world):
    """The ensemble of run a and its INT8 export (on the long-article data, the top 20% of spread flagged)."""
    out = world["root"] / "ens"
    rows = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    m = strict_json(out / "metrics.json")
    assert len(rows) == m["n"] == 12
    assert all(set(r["spread"]) == set(r["scores"]) for r in rows)
    flagged = m["spread"]["flags_weighted_average_error"]["n_flagged"]
    assert 0 < flagged < len(rows) and f"{flagged} of {len(rows)}" in (out / "report.md").read_text()
    assert all(isinstance(r.get("needs_review"), bool) for r in rows), sorted(rows[0])
    assert sum(r["needs_review"] for r in rows) == flagged


# ---- STRICT-JSON --------------------------------------------------------------------------------
def test_verbs_write_strict_json_with_null_reasons(world):
    """Nothing flagged (calibrate --review-threshold 10) and no top-tier article in the data (recall@k
    undefined): every JSON that calibrate / evaluate / ensemble / export wrote is strict, the undefined
    numbers null with a reason."""
    a, root = world["a"], world["root"]
    for folder in (a, root / "eval_a", root / "ens", root / "export_a"):
        assert all_strict(folder), folder
    flags = strict_json(a / "confidence.json")["report"]["val"]["flags"]
    assert flags["n_flagged"] == 0 and flags["mae_flagged"] is None and flags["mae_flagged_null_reason"]
    manifest = strict_json(root / "export_a" / "manifest.json")
    assert manifest["confidence"]["report"]["val"]["flags"] == flags  # the export carries the run's confidence
    for m in (strict_json(root / "eval_a" / "metrics.json"), strict_json(root / "ens" / "metrics.json")):
        assert m["ranking"]["n_relevant"] == 0
        assert m["ranking"]["recall@10"] is None and m["ranking"]["recall@10_null_reason"]


def test_readers_take_null_values(world, capfd):
    """What reads those files works when a number in them is null: evaluate (the subprocess read run a's
    confidence.json with null flag stats; here an export whose manifest.json has them), compare (a sweep
    whose job metrics have null Spearman / per-dimension MAE), the dashboard (indexing all of it)."""
    a, b, root = world["a"], world["b"], world["root"]
    c = strict_json(root / "eval_a" / "metrics.json")["confidence"]["flags_weighted_average_error"]
    assert c["n_flagged"] == 0 and c["mae_flagged"] is None and c["mae_flagged_null_reason"]
    ev = root / "eval_export"
    assert main(["evaluate", str(root / "export_a"), "--no-wandb", "--out", str(ev), "--limit", "8"]) == 0
    assert strict_json(ev / "metrics.json")["confidence"]["flags_weighted_average_error"]["n"] == 8
    sweep = root / "outputs" / "train" / "multiruns" / "2026-12-02_10-00-00_abcdef"
    for i, run in enumerate((a, b)):
        shutil.copytree(run, sweep / f"{i}_seed={i}", ignore=shutil.ignore_patterns("checkpoint*"))
    job = sweep / "1_seed=1" / "metrics.json"
    m = strict_json(job)
    for key in ("spearman", "evidence_level/mae", "evidence_level/spearman"):
        m["val"][key], m["val"][f"{key}_null_reason"] = None, "not a number: a constant column"
    job.write_text(json.dumps(m, allow_nan=False))
    capfd.readouterr()
    assert main(["compare", str(sweep)]) == 0
    assert "2/2 jobs ok" in capfd.readouterr().out
    for d in ("eval_a", "ens", "eval_export"):
        shutil.copytree(root / d, root / "outputs" / "evaluate" / "runs" / f"2026-12-02_11-00-00_{d}")
    site = root / "site"
    args = ["dashboard", "--outputs", root / "outputs", "--scan", root / "export_a", "--out", site]
    assert main([str(x) for x in args]) == 0
    assert strict_json(site / "registry.json") and (site / "index.html").is_file()

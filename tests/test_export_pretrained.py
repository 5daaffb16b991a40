"""Slow: the real packaged pretrained models (MiniLM encoder, SmolLM2 decoder) through the gate.

Run with ``pytest -m slow tests/test_export_pretrained.py`` (~15-25 min on 2 CPU cores, mostly
SmolLM2). Each model is trained very briefly: the gate is about export fidelity, not quality.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from distillery.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("single_threaded")]


def _train(out: Path, *overrides: str) -> Path:
    from conftest import one_torch_thread

    with one_torch_thread():
        assert main(["train", "logger=none", "seed=0", f"paths.output_dir={out}", *overrides]) == 0
    return next((out / "train" / "runs").iterdir())


def _parity_file(tmp: Path, n: int) -> Path:
    from distillery.data.records import write_jsonl
    from distillery.data.synthetic import generate_corpus
    from distillery.filters import load_filter

    return write_jsonl(tmp / "parity.jsonl", generate_corpus(load_filter("uplifting/v6"), n=n, seed=1))


def test_minilm_naive_int8_fails_and_per_channel_passes(tmp_path, capsys):
    run = _train(
        tmp_path / "runs",
        "model=minilm-l6",
        "experiment=smoke",
        "data.n=400",
        "trainer.max_epochs=2",
        "context_strategy.max_tokens=256",
    )
    out = tmp_path / "export"
    assert main(["export", str(run), "--out", str(out), "--threads", "1"]) == 0
    m = json.loads((out / "manifest.json").read_text())
    tried = {t["config"]: t for t in m["parity"]["int8_tried"]}
    opt = m["models"]["fp32"]["graph_optimization"]
    assert opt["fused"]["Attention"] == 6 and opt["attention"] == "fused" and opt["maskless_branch"] is True
    assert "SkipLayerNormalization" not in opt["fused"] and m["models"]["int8"]["opset"] == 23
    assert m["parity"]["fp32"]["max_abs_diff"] < 1e-4
    assert m["parity"]["int8"]["passed"] and m["parity"]["int8"]["mae_rel_change"] <= 0.01
    assert m["parity"]["int8"]["spearman_weighted_average_vs_fp32"] >= 0.99
    assert m["parity"]["int8_config"] != "dynamic" and not tried["dynamic"]["passed"]
    assert main(["benchmark", str(out), "--lengths", "128", "256", "--n", "8", "--threads", "1"]) == 0
    rows = json.loads((out / "benchmark.json").read_text())["rows"]
    assert all(r["speedup_vs_pytorch"] > 1 for r in rows if r["backend"] == "onnx-int8")


def test_smollm2_decoder_naive_int8_fails_and_smoothing_passes(tmp_path):
    run = _train(
        tmp_path / "runs",
        "model=smollm2-135m",
        "data.n=120",
        "context_strategy.max_tokens=128",
        "trainer.max_epochs=1",
        "data.batch_size=8",
    )
    out = tmp_path / "export"
    configs = ["dynamic", "smooth-pc", "smooth-pc-keep-down", "blockwise-int8"]
    assert (
        main(
            [
                "export",
                str(run),
                "--out",
                str(out),
                "--threads",
                "1",
                "--parity-data",
                str(_parity_file(tmp_path, 48)),
                *[a for c in configs for a in ("--int8-config", c)],
            ]
        )
        == 0
    )
    m = json.loads((out / "manifest.json").read_text())
    tried = {t["config"]: t for t in m["parity"]["int8_tried"]}
    assert m["parity"]["fp32"]["max_abs_diff"] < 1e-3
    assert not tried["dynamic"]["passed"]  # naive INT8 breaks the decoder's ranking
    assert m["parity"]["int8_config"] in configs[1:] and m["parity"]["int8"]["passed"]
    assert m["parity"]["int8"]["spearman_weighted_average_vs_fp32"] >= 0.99
    if m["parity"]["int8_config"].startswith("smooth"):
        assert m["models"]["int8"]["quantization"]["smoothing"]["blocks"] == 30
    assert not list(out.glob(".smoothed_*"))  # the smoothed FP32 graph is not shipped

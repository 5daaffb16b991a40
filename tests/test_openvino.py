"""OpenVINO as a second runtime backend: the same parity gate, ``--backend auto`` ships the fastest
and records every backend, the wheel depends on its backend's runtime only, a corrupted model is
refused."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from distillery.cli import main

pytest.importorskip("openvino")
pytest.importorskip("nncf")
pytestmark = pytest.mark.usefixtures("single_threaded")


@pytest.fixture(scope="module")
def ov_export(tiny_run, tmp_path_factory) -> Path:
    """tiny-qwen2 (a decoder) exported for OpenVINO only."""
    out = tmp_path_factory.mktemp("ov") / "tiny_ov"
    args = ["export", str(tiny_run), "--out", str(out), "--threads", "1", "--backend", "openvino"]
    assert main([*args, "--parity-n", "32"]) == 0
    return out


@pytest.fixture(scope="module")
def auto_export(probe_run, tmp_path_factory) -> Path:
    """The MiniLM probe (an encoder) with --backend auto: both backends pass the gate, the fastest ships."""
    out = tmp_path_factory.mktemp("ov") / "probe_auto"
    args = ["export", str(probe_run), "--out", str(out), "--threads", "1", "--backend", "auto"]
    # ONNX Runtime: only its weight-only config (the probe's dynamic INT8 fails the gate; see docs/export.md)
    assert main([*args, "--int8-config", "blockwise-int8", *[f"--int8-config={c}" for c in OV_LADDER()]]) == 0
    return out


def OV_LADDER() -> list[str]:
    from distillery.export.quantize_openvino import OV_CONFIGS

    return list(OV_CONFIGS)


def _records(export: Path, split: str = "test") -> list[dict]:
    from distillery.evaluate.commands import load_eval_records
    from distillery.filters.spec import parse_spec

    return load_eval_records(export, parse_spec(export / "filter.yaml"), None, split)[0]


def test_openvino_export_passes_the_same_gate(ov_export):
    from distillery.runtime.onnx_scorer import OnnxScorer

    m = json.loads((ov_export / "manifest.json").read_text())
    int8, fp32ov = m["models"]["int8"], m["models"]["fp32-openvino"]
    assert int8["backend"] == "openvino" and int8["file"] == "model.int8.xml" and int8["precision"] == "f32"
    assert int8["quantization"]["name"] in OV_LADDER() and int8["batch_invariant"] is True
    assert fp32ov["file"] == "model.fp32.xml" and m["models"]["fp32"]["backend"] == "onnxruntime"
    assert {"model.int8.xml", "model.int8.bin", "model.fp32.xml", "model.fp32.bin"} <= set(m["files"])
    assert not (ov_export / "model.int8.onnx").exists()  # only the backends asked for
    p = m["parity"]
    assert p["backend"] == "openvino" and p["backends"]["openvino"]["fp32"]["max_abs_diff"] <= 1e-3
    assert p["int8"]["passed"] and p["int8"]["mae_rel_change"] <= 0.01
    assert p["int8"]["spearman_weighted_average_vs_fp32"] >= 0.99
    assert m["backends"]["openvino"]["shipped"] and m["backends"]["openvino"]["int8_articles_per_s"] > 0
    # static activation scales: an article's score does not depend on its batch-mates
    assert p["int8"]["batch_invariance_max_diff"] < 1e-3
    recs = _records(ov_export)
    raw8 = OnnxScorer(ov_export, "int8", threads=1, calibrated=False).predict_raw(recs)[0]
    raw32 = OnnxScorer(ov_export, "fp32-openvino", threads=1, calibrated=False).predict_raw(recs)[0]
    raw_ort = OnnxScorer(ov_export, "fp32", threads=1, calibrated=False).predict_raw(recs)[0]
    assert np.abs(raw32 - raw_ort).max() <= 1e-3  # the same FP32 model in both runtimes
    assert 0 < np.abs(raw8 - raw32).max() < 1.0  # really quantized, still close
    assert OnnxScorer(ov_export, "int8-openvino").backend == "openvino"  # the shipped backend's name works too
    assert main(["export", "--verify", str(ov_export), "--threads", "1"]) == 0


def test_auto_ships_the_fastest_and_records_every_backend(auto_export, capsys):
    from distillery.export.benchmark import run_benchmark

    m = json.loads((auto_export / "manifest.json").read_text())
    b = m["backends"]
    assert set(b) == {"onnxruntime", "openvino"} and all(v["int8_passed"] for v in b.values())
    shipped = max(b, key=lambda k: b[k]["int8_articles_per_s"])
    other = ({"onnxruntime", "openvino"} - {shipped}).pop()
    assert b[shipped]["shipped"] and b[shipped]["variant"] == "int8" and m["models"]["int8"]["backend"] == shipped
    assert b[other]["variant"] == f"int8-{other}" and m["models"][f"int8-{other}"]["backend"] == other
    assert m["parity"]["backends"][other]["int8"]["passed"]  # the other backend's gate numbers are kept
    res = run_benchmark(
        auto_export, lengths=[32], n=4, threads=1, natural=False, backends=["pytorch", "onnx-int8", "openvino-int8"]
    )
    rows = {r["backend"]: r for r in res["rows"]}
    assert set(rows) == {"pytorch", "onnx-int8", "openvino-int8"} and all(
        r["articles_per_s"] > 0 for r in rows.values()
    )
    assert res["shipped_backend"] == shipped and "cpu_flags" in res


def test_a_corrupted_openvino_model_is_refused(ov_export, tmp_path, capsys):
    from distillery.runtime.manifest import load_manifest, write_manifest

    bad = tmp_path / "bad"
    shutil.copytree(ov_export, bad)
    weights = bad / "model.int8.bin"
    data = bytearray(weights.read_bytes())
    rng = np.random.default_rng(0)
    lo, hi = len(data) // 4, len(data) // 2
    data[lo:hi] = rng.integers(0, 256, hi - lo, dtype=np.uint8).tobytes()
    weights.write_bytes(bytes(data))
    assert main(["export", "--verify", str(bad), "--threads", "1"]) == 3
    assert "model.int8.bin: SHA-256 differs" in capsys.readouterr().out
    write_manifest(bad, load_manifest(bad))  # re-hashed: only the gate can tell now
    assert main(["export", "--verify", str(bad), "--threads", "1"]) == 3
    out = capsys.readouterr().out
    assert "hashes: OK" in out and "INT8 (openvino)" in out and "FAIL" in out


def test_openvino_gate_failure_ships_nothing(tiny_run, tmp_path, capsys):
    out = tmp_path / "strict"
    args = ["export", str(tiny_run), "--out", str(out), "--threads", "1", "--backend", "openvino", "--parity-n", "16"]
    rc = main([*args, "--int8-config", "nncf-ptq", "--int8-mae-tol", "-1"])
    text = capsys.readouterr().out
    assert rc == 3 and "PARITY GATE FAILED" in text and "no INT8 configuration passed" in text
    assert not (out / "model.int8.xml").exists() and not (out / "model.int8.bin").exists()
    assert "int8" not in json.loads((out / "manifest.json").read_text())["models"]


def test_openvino_wheel_depends_on_openvino_only(ov_export, tmp_path):
    assert main(["package", str(ov_export), "--out", str(tmp_path)]) == 0
    z = zipfile.ZipFile(next(tmp_path.glob("*.whl")))
    names = set(z.namelist())
    pkg = "distillery_filter_uplifting_v6"
    assert {f"{pkg}/model/model.int8.xml", f"{pkg}/model/model.int8.bin"} <= names
    assert not any(n.endswith((".onnx", "model.fp32.bin", "model.fp32.xml")) for n in names)
    meta = z.read(f"{pkg}-6.0.0.dist-info/METADATA").decode()
    requires = [line.split(": ", 1)[1].split(">")[0] for line in meta.splitlines() if line.startswith("Requires-Dist")]
    assert "openvino" in requires and "onnxruntime" not in requires and "torch" not in requires


@pytest.mark.slow
def test_openvino_wheel_scores_identically_in_a_fresh_venv(ov_export, tmp_path):
    """A clean venv (no torch, no onnxruntime): the OpenVINO wheel scores as distillery's OpenVINO scorer (<= 1e-4)."""
    from test_package import SCORE_SCRIPT, _compare, _reference, _wheelhouse

    dist = tmp_path / "dist"
    assert main(["package", str(ov_export), "--out", str(dist)]) == 0
    arts = tmp_path / "articles.jsonl"
    recs = _records(ov_export)
    arts.write_text("".join(json.dumps({k: r[k] for k in ("id", "title", "content", "url")}) + "\n" for r in recs))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    house = _wheelhouse("openvino")
    cmd = [sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-index", "--find-links", str(house)]
    subprocess.run([*cmd, str(next(dist.glob("*.whl")))], check=True, timeout=600)
    pkg = "distillery_filter_uplifting_v6"
    res = subprocess.run(
        [str(py), "-c", SCORE_SCRIPT.format(pkg=pkg, heavy={"torch"}), "-", str(arts), "free"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout)
    assert not {"torch", "onnxruntime"} & set(got["modules"]) and "openvino" in got["modules"]
    ref, ref_one = _reference(ov_export, arts)
    _compare(got["batch"], ref)
    _compare([got["one"]], [ref_one])

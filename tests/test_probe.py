"""model=embedding_probe: the frozen encoder's embedding, cached embeddings, ridge / MLP heads,
and a probe run dir that evaluate and export treat like any other run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import compose, one_torch_thread
from distillery.cli import main

pytestmark = pytest.mark.usefixtures("single_threaded")

PROBE = ["experiment=smoke", "logger=none", "seed=0", "context_strategy.max_tokens=128"]


def _train(out: Path, *overrides: str) -> tuple[Path, dict]:
    assert main(["train", "model=embedding_probe", *PROBE, f"paths.output_dir={out}", *overrides]) == 0
    run = max((out / "train" / "runs").iterdir(), key=lambda p: p.stat().st_mtime)
    return run, json.loads((run / "metrics.json").read_text())


def test_regressor_embedding_is_sentence_transformers_encode():
    """The probe's features are exactly SentenceTransformer.encode (pooling + normalisation)."""
    import torch
    from sentence_transformers import SentenceTransformer

    from distillery.models.backbone import load_backbone
    from distillery.models.regressor import Regressor, hidden_size_of

    cfg = compose(["model=embedding_probe"]).model
    loaded = load_backbone(cfg)
    assert loaded.pooling == "mean" and loaded.normalize is True
    model = Regressor(
        loaded.backbone,
        6,
        loaded.pooling,
        hidden_size_of(loaded.backbone),
        [0.0] * 6,
        [1.0] * 6,
        normalize=loaded.normalize,
    ).eval()
    texts = [
        "Volunteers rebuilt the library.",
        "A new clinic opened in the valley after years of campaigning.",
        "Short.",
    ]
    enc = loaded.tokenizer(texts, padding=True, return_tensors="pt")
    with torch.inference_mode():
        ours = model.encode(enc["input_ids"], enc["attention_mask"]).numpy()
    ref = SentenceTransformer(str(Path(loaded.source.split(":", 1)[1])), device="cpu").encode(texts)
    assert np.abs(ours - ref).max() < 1e-5


def test_ridge_probe_learns_caches_and_reloads(probe_run, tmp_path):
    run = probe_run
    m = json.loads((run / "metrics.json").read_text())
    assert m["probe"]["head"] == "ridge" and m["probe"]["alpha"] in [g["alpha"] for g in m["probe"]["grid"]]
    assert m["val"]["mae"] < 0.9 * m["val"]["mean_baseline_mae"], m["val"]
    assert m["probe"]["embeddings_computed"]["train"] > 0 and (run / "checkpoint").is_dir()
    assert min(g["val_mae"] for g in m["probe"]["grid"]) == pytest.approx(m["val"]["mae"], abs=1e-6)
    # the same run again, same cache: no train/test embedding is recomputed, the same numbers come out
    from omegaconf import OmegaConf

    cache_dir = OmegaConf.load(run / "config.yaml").paths.cache_dir
    run2, m2 = _train(tmp_path / "again", f"paths.cache_dir={cache_dir}")
    assert m2["probe"]["embeddings_computed"]["train"] == 0 and m2["probe"]["embeddings_computed"]["test"] == 0
    assert m2["val"]["mae"] == pytest.approx(m["val"]["mae"], abs=1e-9)
    # evaluate reloads encoder + head from the checkpoint and reproduces the run's val MAE
    assert main(["evaluate", str(run), "--split", "val", "--no-wandb", "--out", str(tmp_path / "ev")]) == 0
    ev = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert ev["n"] == m["n"]["val"] and ev["raw"]["mae"] == pytest.approx(m["val"]["mae"], abs=1e-4)


def test_mlp_probe_beats_the_mean_baseline(tmp_path):
    with one_torch_thread():
        _, m = _train(tmp_path, "model=embedding_probe_mlp", "model.probe.epochs=60", "model.probe.patience=15")
    assert m["probe"]["head"] == "mlp" and 1 <= m["probe"]["epochs_run"] <= 60
    assert m["val"]["mae"] < 0.95 * m["val"]["mean_baseline_mae"], m["val"]
    assert len(m["history"]) == m["probe"]["epochs_run"]


def test_unknown_probe_head_is_one_line_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "model=embedding_probe", *PROBE, f"paths.output_dir={tmp_path}", "model.probe.head=svm"])
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and err == ["error: model.probe.head must be ridge or mlp, got 'svm'"]


def test_probe_export_passes_the_gate(probe_export):
    m = json.loads((probe_export / "manifest.json").read_text())
    assert m["parity"]["fp32"]["passed"] and m["parity"]["int8"]["passed"]
    assert m["base_model"]["source"] == "sentence-transformers" and m["base_model"]["name"] == "embedding_probe"


def test_e5_by_hub_id_fails_offline_with_one_clear_error():
    """Users with hub access give an e5 id; offline it is one line naming the fix, not a traceback."""
    from distillery.errors import DistilleryError
    from distillery.models.backbone import load_backbone

    cfg = compose(["model=embedding_probe", "model.path=intfloat/multilingual-e5-large"]).model
    with pytest.raises(DistilleryError, match=r"'intfloat/multilingual-e5-large': no hub access.*model.path="):
        load_backbone(cfg)

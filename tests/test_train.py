"""End to end through the real CLI: run dir contents, checkpoint reload, resume, seeds, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from distillery.cli import main

SMOKE = ["experiment=smoke", "logger=csv", "data.n=200"]


def train(capsys, *overrides: str) -> tuple[Path, dict]:
    assert main(["train", *SMOKE, *overrides]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith("run dir: ")  # the command's last line names the run dir
    run = Path(out[-1].removeprefix("run dir: "))
    return run, json.loads((run / "metrics.json").read_text())


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """One short run shared by the read-only tests below."""
    import os

    os.environ["DISTILLERY_OUTPUTS"] = str(tmp_path_factory.mktemp("outputs"))
    assert main(["train", *SMOKE, "seed=0", "trainer.max_epochs=2"]) == 0
    runs = sorted(Path(os.environ["DISTILLERY_OUTPUTS"]).glob("train/runs/*"))
    assert len(runs) == 1
    return runs[0]


def test_run_dir_has_everything(smoke_run):
    run = smoke_run
    for f in (
        "config.yaml",
        "run.json",
        "metrics.json",
        "checkpoint/head.safetensors",
        "checkpoint/filter.yaml",
        "checkpoint/adapter/adapter_model.safetensors",
        "checkpoint/tokenizer/tokenizer.json",
        "checkpoint/distillery.json",
        "plots/pred_vs_true_val.png",
        "plots/pred_vs_true_test.png",
        "plots/loss_curve.png",
        "checkpoints/last.ckpt",
        "csv/metrics.csv",
    ):
        assert (run / f).is_file(), f
    info = json.loads((run / "run.json").read_text())
    assert info["seed"] == 0 and info["seed_generated"] is False
    assert info["versions"]["torch"] and "sha" in info["git"]
    m = json.loads((run / "metrics.json").read_text())
    for stage in ("val", "test"):
        for key in (
            "mae",
            "rmse",
            "spearman",
            "mean_baseline_mae",
            "weighted_mae",
            "tier_accuracy",
            "evidence_level/mae",
            "evidence_level/rmse",
            "evidence_level/spearman",
        ):
            assert np.isfinite(m[stage][key]), (stage, key)
    assert m["epochs"] == 2 and len(m["history"]) == 2
    assert "${" not in (run / "config.yaml").read_text()  # resolved
    # the split is recorded (fingerprints, no leak) and val/test predictions are kept per article
    assert m["split"]["cross_split_duplicates"] == 0 and set(m["split"]["fingerprints"]) >= {"train", "val", "test"}
    for stage in ("val", "test"):
        rows = [json.loads(x) for x in (run / f"predictions_{stage}.jsonl").read_text().splitlines()]
        assert len(rows) == m["n"][stage] and len({r["id"] for r in rows}) == len(rows)
        err = np.mean([abs(r["scores"][d] - r["labels"][d]) for r in rows for d in r["labels"]])
        assert err == pytest.approx(m[stage]["mae"], abs=1e-4)


def test_checkpoint_reloads_to_the_same_predictions(smoke_run):
    from omegaconf import OmegaConf

    from distillery.data.datamodule import ArticleDataModule
    from distillery.evaluate.metrics import regression_metrics
    from distillery.models.checkpoint import load_checkpoint

    scorer = load_checkpoint(smoke_run)
    assert scorer.spec.ref == "uplifting/v6" and scorer.strategy.max_tokens == 128
    cfg = OmegaConf.load(smoke_run / "config.yaml")
    dm = ArticleDataModule(cfg.data, scorer.spec, scorer.tokenizer, scorer.strategy, cfg.paths.cache_dir, seed=0)
    dm.setup()
    preds, trues = [], []
    with torch.no_grad():
        for b in dm.val_dataloader():
            preds.append(scorer.model(b["input_ids"], b["attention_mask"]))
            trues.append(b["labels"])
    m = regression_metrics(torch.cat(preds).numpy(), torch.cat(trues).numpy(), scorer.spec)
    saved = json.loads((smoke_run / "metrics.json").read_text())["val"]
    assert m["mae"] == pytest.approx(saved["mae"], abs=1e-5)


def test_resume_continues_from_checkpoint(smoke_run, capsys):
    run, m = train(capsys, "seed=0", f"ckpt_path={smoke_run / 'checkpoints' / 'last.ckpt'}", "trainer.max_epochs=3")
    first = json.loads((smoke_run / "metrics.json").read_text())
    assert run != smoke_run
    assert m["global_step"] == first["global_step"] * 3 // 2  # one more epoch on top of two
    assert [h["epoch"] for h in m["history"]] == [0, 1, 2]  # history carried over, then continued


def test_model_clearly_learns(capsys):
    """A short CPU run beats the mean predictor by a wide margin (the default run: see docs)."""
    _, m = train(capsys, "seed=0", "data.n=800", "trainer.max_epochs=4")
    assert m["val"]["mae_vs_baseline"] < 0.75, m["val"]
    assert m["val"]["spearman"] > 0.6
    assert m["history"][-1]["train_loss"] < 0.6 * m["history"][0]["train_loss"]


def test_generated_seed_is_recorded(capsys):
    run, m = train(capsys, "trainer.max_epochs=1", "trainer.limit_train_batches=2")
    info = json.loads((run / "run.json").read_text())
    assert info["seed_generated"] is True and isinstance(info["seed"], int) and m["seed"] == info["seed"]


def test_wandb_offline_by_default(capsys, monkeypatch):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret-never-logged")
    run, _ = train(capsys, "logger=wandb", "seed=1", "trainer.max_epochs=1", "trainer.limit_train_batches=2")
    offline = list((run / "wandb").glob("offline-run-*"))
    assert len(offline) == 1
    written = b"".join(p.read_bytes() for p in run.rglob("*") if p.is_file())
    assert b"sk-test-secret-never-logged" not in written


def test_bad_data_is_one_line_error(tmp_path, capsys):
    f = tmp_path / "bad.jsonl"
    f.write_text('{"id": "1", "title": "t", "content": "c", "labels": {}}\n')
    with pytest.raises(SystemExit) as e:
        main(["train", *SMOKE, "data=jsonl", f"data.path={f}"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {f}:1: labels for uplifting/v6: missing dimension(s)")


def test_unknown_filter_is_one_line_error(capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", *SMOKE, "--filter", "nope/v9"])
    assert e.value.code == 2
    assert capsys.readouterr().err.strip().startswith("error: unknown filter 'nope/v9'")

"""distillery gate: prepare --holdout, candidate vs deployed on held-out labels, overlap refusal."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from conftest import one_torch_thread
from distillery.cli import main


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("gate")
    assert (
        main(["synth-corpus", "--filter", "uplifting/v6", "--n", "600", "--seed", "0", "--out", str(d / "c.jsonl")])
        == 0
    )
    assert (
        main(["prepare", "--filter", "uplifting/v6", str(d / "c.jsonl"), "--out", str(d / "prep"), "--holdout", "150"])
        == 0
    )
    return d / "prep"


def _train(prepared: Path, epochs: int, out: Path) -> Path:
    with one_torch_thread():
        rc = main(
            [
                "train",
                "logger=none",
                "data=jsonl",
                f"data.path={prepared}",
                f"trainer.max_epochs={epochs}",
                "context_strategy.max_tokens=128",
                "seed=0",
                f"paths.output_dir={out}",
            ]
        )
    assert rc == 0
    return next((out / "train" / "runs").iterdir())


@pytest.fixture(scope="module")
def runs(prepared, tmp_path_factory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("runs")
    return _train(prepared, 1, d / "short"), _train(prepared, 4, d / "long")


def test_prepare_holdout_is_disjoint_and_fingerprinted(prepared):
    from distillery.data.dedupe import content_hash, fingerprint

    hold = [json.loads(x) for x in (prepared / "holdout.jsonl").read_text().splitlines()]
    rest = [json.loads(x) for s in ("train", "val", "test") for x in (prepared / f"{s}.jsonl").read_text().splitlines()]
    assert 140 <= len(hold) <= 160 and len(hold) + len(rest) == 600
    assert not {content_hash(r) for r in hold} & {content_hash(r) for r in rest}
    assert json.loads((prepared / "holdout.json").read_text())["fingerprint"] == fingerprint(hold)


def test_longer_training_passes_and_the_reverse_fails(prepared, runs, tmp_path, capsys):
    short, long = runs
    data = str(prepared / "holdout.jsonl")
    with one_torch_thread():
        # an oracle agreement beside the holdout: the gate sets the candidate's MAE against that floor
        agreement = {"filter": "uplifting/v6", "n": 200, "inter_oracle_mae": 0.62, "pairs": []}
        (prepared / "agreement.json").write_text(json.dumps(agreement))
        try:
            rc = main(["gate", str(long), "--baseline", str(short), "--data", data, "--out", str(tmp_path / "g1")])
        finally:
            (prepared / "agreement.json").unlink()
        assert rc == 0
        g1 = json.loads((tmp_path / "g1" / "gate.json").read_text())
        assert g1["floor"].startswith("candidate MAE ") and " vs inter-oracle 0.62 (200 articles," in g1["floor"]
        assert g1["floor"] in (tmp_path / "g1" / "report.md").read_text() and "above the floor" in g1["floor"]
        (tmp_path / "agreement.json").write_text(json.dumps(agreement))
        assert (
            main(["evaluate", str(long), "--agreement", str(tmp_path), "--no-wandb", "--out", str(tmp_path / "e")]) == 0
        )
        assert "student MAE " in capsys.readouterr().out
        assert g1["passed"] and g1["table"]["mae"]["delta"]["value"] < 0 and g1["overlap"]["count"] == 0
        assert (tmp_path / "g1" / "report.md").read_text().startswith("# Release gate: PASS")
        from distillery.dashboard.adapters import adapter_for

        row = adapter_for(tmp_path / "g1").read(tmp_path / "g1", None)  # the dashboard shows the gate
        assert row["kind"] == "gate" and row["status"] == "ok" and row["primary"] == "mae"
        assert row["primary_delta"] == pytest.approx(g1["table"]["mae"]["delta"]["value"])
        assert main(["gate", str(short), "--baseline", str(long), "--data", data, "--out", str(tmp_path / "g2")]) == 1
    g2 = json.loads((tmp_path / "g2" / "gate.json").read_text())
    assert not g2["passed"] and "mae" in g2["failing"]
    assert g2["table"]["mae"]["delta"]["low"] > 0  # significantly worse, not just noise
    assert "FAIL: mae" in capsys.readouterr().out


def test_a_holdout_overlapping_training_data_is_refused(prepared, runs, tmp_path, capsys):
    short, long = runs
    bad = tmp_path / "leaky.jsonl"
    bad.write_text(
        (prepared / "holdout.jsonl").read_text() + "".join((prepared / "train.jsonl").read_text().splitlines(True)[:7])
    )
    with one_torch_thread():
        assert main(["gate", str(long), "--baseline", str(short), "--data", str(bad)]) == 2
    assert "trained on 7 of the" in capsys.readouterr().err


def test_an_edited_holdout_is_refused(prepared, runs, tmp_path, capsys):
    short, long = runs
    d = tmp_path / "edited"
    d.mkdir()
    lines = (prepared / "holdout.jsonl").read_text().splitlines(True)
    (d / "holdout.jsonl").write_text("".join(lines[:-1]))
    (d / "holdout.json").write_text((prepared / "holdout.json").read_text())
    assert main(["gate", str(long), "--baseline", str(short), "--data", str(d / "holdout.jsonl")]) == 2
    assert "was edited after" in capsys.readouterr().err


def test_release_section_is_validated(tmp_path):
    import yaml

    from distillery.errors import DistilleryError
    from distillery.filters import load_filter
    from distillery.filters.spec import parse_spec

    spec = load_filter("uplifting/v6")
    raw = yaml.safe_load(spec.path.read_text())
    raw["release"] = {"primary": "tier/high/f1", "tolerance": {"mae": 0.1, "recall@10": 0.2}}
    p = tmp_path / "filter.yaml"
    p.write_text(yaml.safe_dump(raw))
    rel = parse_spec(p).release
    assert rel.primary == "tier/high/f1" and rel.tolerance_for("mae/evidence_level", "dimension_mae") == 0.1
    raw["release"] = {"primary": "tier/low/f1"}  # the lowest tier is no decision
    p.write_text(yaml.safe_dump(raw))
    with pytest.raises(DistilleryError, match="release.primary: unknown metric 'tier/low/f1'"):
        parse_spec(p)


@pytest.mark.slow
def test_a_packaged_wheel_works_as_the_baseline(prepared, runs, tmp_path, monkeypatch):
    from distillery.export.package import build_wheel

    short, long = runs
    data = str(prepared / "holdout.jsonl")
    with one_torch_thread():  # export --gate-against: the gate is the export's last step (short vs long fails)
        args = ["export", str(short), "--out", str(tmp_path / "exp"), "--threads", "1"]
        assert main([*args, "--gate-against", str(long), "--holdout", data]) == 1
    failed = json.loads((tmp_path / "exp_gate" / "gate.json").read_text())
    assert not failed["passed"] and failed["candidate"]["kind"] == "onnx" and "mae" in failed["failing"]
    wheel = build_wheel(tmp_path / "exp", tmp_path / "dist")  # the export itself is complete
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    monkeypatch.syspath_prepend(str(site))
    with one_torch_thread():
        rc = main(
            [
                "gate",
                str(long),
                "--baseline",
                "pkg:distillery_filter_uplifting_v6",
                "--data",
                data,
                "--out",
                str(tmp_path / "g"),
            ]
        )
    g = json.loads((tmp_path / "g" / "gate.json").read_text())
    assert g["baseline"]["kind"] == "packaged" and rc == 0 and g["passed"]

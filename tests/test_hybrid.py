"""tune-hybrid and the two-stage hybrid scorer: threshold choice, routing, packaging without torch."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from distillery.cli import main
from distillery.errors import DistilleryError
from test_package import HEAVY, SCORE_SCRIPT

pytestmark = pytest.mark.usefixtures("single_threaded")


def test_threshold_is_the_highest_meeting_the_fn_target():
    from distillery.export.tune_hybrid import choose_threshold

    wa = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 9.5, 0.5, 0.2])
    pos = np.array([True] * 10 + [False, False])
    ok = np.ones(12, bool)
    assert choose_threshold(wa, pos, ok, 0.0) == 1.0  # every positive goes on
    assert choose_threshold(wa, pos, ok, 0.1) == 2.0  # one positive in ten may be missed
    assert choose_threshold(wa, pos, ok, 0.25) == 3.0  # floor(2.5) = 2 misses
    # a prefilter miss uses up the allowance; more misses than allowed cannot be fixed by a threshold
    stopped = ok.copy()
    stopped[5] = False
    assert choose_threshold(wa, pos, stopped, 0.1) == 1.0
    stopped[6] = False
    with pytest.raises(DistilleryError, match="prefilter alone misses 2 of 10"):
        choose_threshold(wa, pos, stopped, 0.1)
    with pytest.raises(DistilleryError, match="no article of the minimum tier"):
        choose_threshold(wa, np.zeros(12, bool), ok, 0.1)


@pytest.fixture(scope="module")
def hybrid_dir(probe_export, tiny_export, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("hybrid") / "uplifting_hybrid"
    assert (
        main(
            [
                "tune-hybrid",
                "--stage1",
                str(probe_export),
                "--stage2",
                str(tiny_export),
                "--out",
                str(out),
                "--threads",
                "1",
                "--allow-slower",  # a MiniLM probe in front of a 2-layer stand-in: slower (see below)
            ]
        )
        == 0
    )
    return out


def test_a_hybrid_slower_than_stage2_is_refused_unless_asked(hybrid_dir, probe_export, tiny_export, tmp_path, capsys):
    """The MiniLM probe costs more than the tiny stage 2 it would save: said loudly, nothing written, exit != 0."""
    c = json.loads((hybrid_dir / "hybrid.json").read_text())
    assert c["timing"]["speedup"] < 1 and c["timing"]["slower_than_stage2"] is True
    assert "Slower than stage 2 alone" in (hybrid_dir / "report.md").read_text()
    out = tmp_path / "slow"
    args = ["tune-hybrid", "--stage1", str(probe_export), "--stage2", str(tiny_export), "--out", str(out)]
    rc = main([*args, "--threads", "1"])
    err = capsys.readouterr().err
    assert rc != 0 and "the hybrid is SLOWER than stage 2 alone" in err and "--allow-slower" in err
    assert "Traceback" not in err and not out.exists()


def _val(export: Path) -> list[dict]:
    from distillery.evaluate.commands import load_eval_records
    from distillery.filters.spec import parse_spec

    return load_eval_records(export, parse_spec(export / "filter.yaml"), None, "val")[0]


def test_tune_hybrid_meets_the_target_with_the_highest_threshold(hybrid_dir, probe_export, tiny_export):
    from distillery.runtime.onnx_scorer import OnnxScorer

    c = json.loads((hybrid_dir / "hybrid.json").read_text())
    assert c["min_tier"] == "medium" and c["fn_target"] == 0.01 and c["tuned_on"]["meets_target"]
    recs = _val(tiny_export)
    spec = OnnxScorer(tiny_export).spec
    true = np.array([spec.labels_vector(r["labels"]) for r in recs])
    positive = spec.tier_index(spec.weighted_average(true)) <= spec.tier_names.index("medium")
    # the same thread count as the tuning (ORT's reductions may round differently with more threads)
    wa1 = np.array([r["weighted_average"] for r in OnnxScorer(probe_export, threads=1).score_batch(recs)])
    n_pos = int(positive.sum())
    assert c["tuned_on"]["positives"] == n_pos > 0 and c["tuned_on"]["n"] == len(recs)
    allowed = int(np.floor(0.01 * n_pos))
    assert (wa1[positive] < c["threshold"]).sum() <= allowed  # the target holds ...
    assert (wa1[positive] <= c["threshold"]).sum() > allowed  # ... and a higher threshold would break it
    sent = wa1 >= c["threshold"]
    assert c["tuned_on"]["skip_rate"] == pytest.approx(1 - sent.mean())
    assert c["tuned_on"]["false_negatives"] == int((positive & ~sent).sum())
    t = c["timing"]
    assert (
        t["articles"] == len(recs)
        and t["hybrid_s"] > 0
        and t["speedup"] == pytest.approx(t["stage2_alone_s"] / t["hybrid_s"], rel=1e-2)
    )
    assert "check" in c and c["check"]["data"].startswith("split test")
    report = (hybrid_dir / "report.md").read_text()
    assert f"{c['threshold']:.4f}" in report and "false negatives" in report
    from distillery.runtime.manifest import verify_hashes

    assert verify_hashes(hybrid_dir) == [] and (hybrid_dir / "stage1" / "model.int8.onnx").is_file()


def test_hybrid_routes_each_article_to_the_right_stage(hybrid_dir, probe_export, tiny_export):
    from distillery.runtime.hybrid import HybridScorer
    from distillery.runtime.onnx_scorer import OnnxScorer

    recs = _val(tiny_export)
    recs[0] = {**recs[0], "content": "Too short."}  # the prefilter stops this one
    h = HybridScorer(hybrid_dir, threads=1)
    got = h.score_batch(recs)
    s1 = OnnxScorer(probe_export, threads=1).score_batch(recs)
    s2 = OnnxScorer(tiny_export, threads=1).score_batch(recs)
    assert got[0]["stage"] == 0 and got[0]["scores"] is None and got[0]["prefilter_reason"] == "too_short"
    stages = [g["stage"] for g in got[1:]]
    assert 1 in stages and 2 in stages, stages  # the tuned threshold splits the val articles
    for g, a, b in zip(got[1:], s1[1:], s2[1:]):
        assert g["stage1_weighted_average"] == pytest.approx(a["weighted_average"], abs=1e-9)
        ref = b if a["weighted_average"] >= h.threshold else a
        assert g["stage"] == (2 if ref is b else 1)
        assert g["scores"] == pytest.approx(ref["scores"], abs=1e-9) and g["tier"] == ref["tier"]


def test_packaged_hybrid_scores_identically_without_torch(hybrid_dir, tiny_export, tmp_path):
    from distillery.runtime.hybrid import HybridScorer

    assert main(["package", str(hybrid_dir), "--out", str(tmp_path / "dist"), "--name", "uplifting-hybrid"]) == 0
    wheel = next((tmp_path / "dist").glob("*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for f in (
        "model/hybrid.json",
        "model/stage1/model.int8.onnx",
        "model/stage2/model.int8.onnx",
        "_distillery/runtime/hybrid.py",
    ):
        assert f"uplifting_hybrid/{f}" in names
    assert not any(n.endswith("fp32.onnx") for n in names)
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    recs = _val(tiny_export)
    arts = tmp_path / "a.jsonl"
    arts.write_text("".join(json.dumps({k: r[k] for k in ("id", "title", "content")}) + "\n" for r in recs))
    res = subprocess.run(
        [
            sys.executable,
            "-c",
            SCORE_SCRIPT.format(pkg="uplifting_hybrid", heavy=set(HEAVY)),
            str(site),
            str(arts),
            "block",
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout)["batch"]
    ref = HybridScorer(hybrid_dir).score_batch([json.loads(x) for x in arts.read_text().splitlines()])
    assert [g["stage"] for g in got] == [r["stage"] for r in ref]
    for g, r in zip(got, ref):
        assert g["tier"] == r["tier"] and abs(g["weighted_average"] - r["weighted_average"]) <= 1e-4
        assert max(abs(g["scores"][d] - r["scores"][d]) for d in r["scores"]) <= 1e-4


def test_tune_hybrid_faults_are_one_line(probe_run, tiny_export, hybrid_dir, tmp_path, capsys):
    rc = main(["tune-hybrid", "--stage1", str(probe_run), "--stage2", str(tiny_export), "--out", str(tmp_path / "h")])
    err = capsys.readouterr().err
    assert rc != 0 and "stage 1 must be an export dir" in err and "Traceback" not in err
    rc = main(["tune-hybrid", "--stage1", str(tiny_export), "--stage2", str(tiny_export), "--out", str(hybrid_dir)])
    assert rc != 0 and "is not empty" in capsys.readouterr().err
    # a hybrid dir whose threshold was edited after tuning is refused by package
    import shutil

    copy = tmp_path / "edited"
    shutil.copytree(hybrid_dir, copy)
    c = json.loads((copy / "hybrid.json").read_text())
    (copy / "hybrid.json").write_text(json.dumps({**c, "threshold": 0.0}))
    rc = main(["package", str(copy), "--out", str(tmp_path / "d")])
    err = capsys.readouterr().err
    assert rc != 0 and "hybrid.json: SHA-256 differs from the manifest" in err

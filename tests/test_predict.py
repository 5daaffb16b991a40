"""distillery predict: a JSONL scored by the shipped scorer, in input order, bad lines named at once."""

from __future__ import annotations

import json

import pytest

from distillery.cli import main

pytestmark = pytest.mark.usefixtures("single_threaded")


def _articles(export, n=40):
    from distillery.evaluate.commands import load_eval_records
    from distillery.filters.spec import parse_spec

    recs = load_eval_records(export, parse_spec(export / "filter.yaml"), None, "train", n)[0]
    return [{k: r[k] for k in ("id", "title", "content", "url")} for r in recs]


def test_predict_scores_in_input_order_as_the_scorer_does(tiny_export, tmp_path, capsys):
    from distillery.runtime.onnx_scorer import OnnxScorer

    arts = _articles(tiny_export)
    src = tmp_path / "articles.jsonl"
    src.write_text("".join(json.dumps(a) + "\n" for a in arts))
    out = tmp_path / "scores.jsonl"
    assert main(["predict", str(tiny_export), str(src), "--out", str(out), "--threads", "1", "--chunk", "7"]) == 0
    line = capsys.readouterr().out
    assert f"scored {len(arts)} articles" in line and "articles/s" in line and "INT8 onnxruntime" in line
    got = [json.loads(x) for x in out.read_text().splitlines()]
    assert [g["id"] for g in got] == [a["id"] for a in arts]  # input order, although scored longest first
    ref = OnnxScorer(tiny_export, threads=1).score_batch(arts)
    for g, r in zip(got, ref):
        assert g["tier"] == r["tier"] and abs(g["weighted_average"] - r["weighted_average"]) <= 1e-4


def test_predict_names_bad_lines_and_can_skip_them(tiny_export, tmp_path, capsys):
    arts = _articles(tiny_export, 5)
    src = tmp_path / "articles.jsonl"
    src.write_text(json.dumps(arts[0]) + "\n" + '{"title": "x", "content": \n' + json.dumps(arts[1]) + "\n")
    out = tmp_path / "scores.jsonl"
    assert main(["predict", str(tiny_export), str(src), "--out", str(out), "--threads", "1"]) != 0
    err = capsys.readouterr().err
    assert f"{src}:2: broken JSON" in err and "--skip-invalid" in err and "Traceback" not in err
    assert not out.exists()
    assert main(["predict", str(tiny_export), str(src), "--out", str(out), "--threads", "1", "--skip-invalid"]) == 0
    assert f"skipped {src}:2" in capsys.readouterr().err
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == [arts[0]["id"], arts[1]["id"]]
    assert main(["predict", str(tmp_path), str(src), "--out", str(out)]) != 0
    assert "neither an export dir" in capsys.readouterr().err

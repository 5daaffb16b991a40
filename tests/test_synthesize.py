"""`distillery synthesize` against the real HTTP test server (tests/oracle_server.py) with the real
openai SDK: targets in the tier, tagged records, ledger resume (kill -9 included), faults,
--max-cost, --rescore consistency, and synthetic records kept out of val/test."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from distillery.cli import main
from distillery.data.records import read_records, write_jsonl
from distillery.data.split import is_synthetic, stratified_split
from distillery.errors import DistilleryError
from distillery.oracle import synthesize as S


def synth(srv, tmp_path: Path, *extra: str, out: str = "synth.jsonl") -> int:
    return main(
        [
            "synthesize",
            "--filter",
            "uplifting/v6",
            "--base-url",
            srv.base_url,
            "--model",
            "test-oracle",
            "--out",
            str(tmp_path / out),
            "--price-in",
            "1",
            "--price-out",
            "2",
            "--timeout",
            "5",
            "--max-retries",
            "3",
            "--quiet",
            *extra,
        ]
    )


def report(tmp_path: Path, stem: str = "synth") -> dict:
    return json.loads((tmp_path / f"{stem}.report.json").read_text())


def records(tmp_path: Path, spec, name: str = "synth.jsonl") -> list[dict]:
    return read_records([tmp_path / name], spec).records  # validates the data contract


def ledger(tmp_path: Path, stem: str = "synth") -> list[dict]:
    return [json.loads(x) for x in (tmp_path / f"{stem}.ledger.jsonl").read_text().splitlines()]


# ---- targets ------------------------------------------------------------------------------------
@pytest.mark.parametrize("tier", ["high", "medium", "low"])
def test_targets_land_in_the_tier_by_the_specs_own_arithmetic(uplifting, tier):
    t = S.draw_targets(uplifting, 300, seed=1, tier=tier, content_type="news_report")
    assert t.shape == (300, 6) and t.min() >= 0 and t.max() <= 10
    assert set(uplifting.tier(uplifting.weighted_average(t, "news_report")).tolist()) == {tier}
    assert np.allclose(t * 2, np.round(t * 2))  # whole or half points
    assert len({tuple(r) for r in t}) > 250  # varied, not one target repeated
    np.testing.assert_array_equal(
        S.draw_targets(uplifting, 120, seed=1, tier=tier, content_type="news_report"), t[:120]
    )  # deterministic and prefix-stable: --n 120 starts like --n 300
    if tier == "low":  # the gatekeeper counts: evidence_level < 3 caps the final score at 3
        capped = t[:, uplifting.dimension_names.index("evidence_level")] < 3
        assert capped.any() and (uplifting.weighted_average(t[capped]) <= 3).all()


def test_fixed_targets_and_unreachable_tiers(uplifting):
    t = S.draw_targets(uplifting, 50, seed=0, tier="high", fixed={"justice_rights_impact": 2.0})
    assert (t[:, 2] == 2.0).all() and set(uplifting.tier(uplifting.weighted_average(t)).tolist()) == {"high"}
    with pytest.raises(
        DistilleryError, match="no targets reach that tier of uplifting/v6 with --target evidence_level=1 "
    ):
        S.draw_targets(uplifting, 5, seed=0, tier="high", fixed={"evidence_level": 1.0})  # the gatekeeper caps at 3
    # a press release is capped at 6 (content_type_caps): it can never be "high"
    with pytest.raises(DistilleryError, match="no targets reach that tier of uplifting/v6 for a press_release"):
        S.draw_targets(uplifting, 5, seed=0, tier="high", content_type="press_release")
    assert S.parse_target("evidence_level=9, human_wellbeing_impact=7.5", uplifting) == {
        "evidence_level": 9.0,
        "human_wellbeing_impact": 7.5,
    }


@pytest.mark.parametrize(
    "args, message",
    [
        (["--tier", "hgh"], "error: --tier: unknown tier 'hgh' for uplifting/v6; tiers: high, medium, low"),
        ([], "error: give --tier (high, medium, low) and/or --target dim=score,..."),
        (
            ["--target", "joy=9"],
            "error: --target: unknown dimension 'joy' for uplifting/v6; dimensions: human_wellbeing",
        ),
        (["--target", "evidence_level=11"], "error: --target: evidence_level=11 is outside 0-10"),
        (["--tier", "high", "--content-type", "poem"], "error: --content-type: 'poem' is not one of uplifting/v6's"),
    ],
)
def test_user_errors_are_one_line(tmp_path, capsys, oracle_env, args, message):
    code = main(
        [
            "synthesize",
            "--filter",
            "uplifting/v6",
            "--base-url",
            "http://127.0.0.1:9/v1",
            "--dry-run",
            "--out",
            str(tmp_path / "s.jsonl"),
            *args,
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith(message), err
    assert not (tmp_path / "s.jsonl").exists()


def test_max_cost_needs_a_price(tmp_path, capsys, oracle_env):
    assert (
        main(
            [
                "synthesize",
                "--filter",
                "uplifting/v6",
                "--tier",
                "high",
                "--model",
                "unpriced-model",
                "--base-url",
                "http://127.0.0.1:9/v1",
                "--max-cost",
                "1",
                "--out",
                str(tmp_path / "s.jsonl"),
            ]
        )
        == 2
    )
    assert "--max-cost needs a price for model 'unpriced-model'" in capsys.readouterr().err


# ---- generation through the client and the ledger -------------------------------------------------
def test_records_are_tagged_with_the_prompt_sha_and_a_rerun_pays_nothing(
    tmp_path, oracle_server, oracle_env, uplifting, capsys
):
    srv = oracle_server(latency=0.01)
    assert synth(srv, tmp_path, "--n", "6", "--tier", "high", "--seed", "3", "--concurrency", "3") == 0
    assert srv.paid == srv.generated == 6 and 1 < srv.max_inflight <= 3
    recs = records(tmp_path, uplifting)
    cfg = S.load_config(None, {"model": "test-oracle", "base_url": srv.base_url})
    jobs = S.build_jobs(uplifting, cfg, S.SynthOptions(filter="uplifting/v6", n=6, tier="high", seed=3), "news_report")
    assert [r["id"] for r in recs] == [j.article["id"] for j in jobs]
    for r, job in zip(recs, jobs):
        tag = r["synthetic"]
        system = job.messages[0]["content"]
        assert system.startswith(S.MARKER) and tag["prompt_sha"] == hashlib.sha256(system.encode()).hexdigest()
        assert r["id"] == f"synth-uplifting-v6-{tag['prompt_sha'][:12]}" and is_synthetic(r)
        assert r["labels"] == tag["target"] == job.article["target"] and tag["generator"] == "test-oracle"
        assert tag["target_tier"] == "high" == uplifting.summarize(uplifting.labels_vector(r["labels"]))["tier"]
        assert (r["oracle"], r["filter"], r["filter_version"]) == ("test-oracle", "uplifting", 6)
        for d in uplifting.dimension_names:  # the prompt names every dimension with its target
            assert f"### {d}: target {tag['target'][d]:g}\n" in system
        assert r["title"].startswith("Synthetic report") and "DIM:evidence_level=" in r["content"]
    sent = [e for e in srv.log if e["kind"] == "synthesize"]
    assert len(sent) == 6 and {e["response_format"] for e in sent} == {"json_schema"}
    lines = ledger(tmp_path)
    assert len(lines) == 6 and {x["kind"] for x in lines} == {"synthesize"} and {x["status"] for x in lines} == {"ok"}
    assert {x["prompt_sha"] for x in lines} == {r["synthetic"]["prompt_sha"] for r in recs}
    rep = report(tmp_path)
    assert rep["generation"]["generated"] == 6 and rep["target_tiers"] == {"high": 6}
    assert rep["cost_usd"] > 0 and rep["cost_usd"] == pytest.approx(sum(x["cost_usd"] for x in lines), abs=1e-6)
    # the same command: everything from the ledger, nothing paid, the same records
    assert synth(srv, tmp_path, "--n", "6", "--tier", "high", "--seed", "3") == 0
    assert srv.paid == 6 and report(tmp_path)["generation"]["cached"] == 6 and report(tmp_path)["cost_usd"] == 0
    assert records(tmp_path, uplifting) == recs
    # more articles with the same seed: the first 6 are the same targets, so only 3 are paid
    assert synth(srv, tmp_path, "--n", "9", "--tier", "high", "--seed", "3") == 0
    assert srv.paid == 9 and records(tmp_path, uplifting)[:6] == recs
    # --dry-run sends nothing
    assert synth(srv, tmp_path, "--n", "12", "--tier", "high", "--seed", "3", "--dry-run") == 0
    assert srv.paid == 9 and srv.requests == 9
    out = capsys.readouterr().out
    assert "to write: 3 (cached 9)" in out and "distillery-synthesize" in out


def test_generation_and_scoring_keys_never_collide(tmp_path, oracle_server, oracle_env, uplifting):
    srv = oracle_server()
    assert synth(srv, tmp_path, "--n", "3", "--tier", "medium", "--rescore", "--set", "system_role=false") == 0
    lines = ledger(tmp_path)
    gen = {x["key"] for x in lines if x.get("kind") == "synthesize"}
    scored = {x["key"] for x in lines if x.get("kind") != "synthesize"}
    assert len(gen) == 3 and len(scored) == 3 and not gen & scored
    assert all(x["filter"] == "uplifting/v6" for x in lines)  # cost is the filter's (dashboard, summary)
    # one user turn (no system role): the marker is still found and the prompt sha covers the template text
    sent = [e["user"] for e in srv.log if e["kind"] == "synthesize"]
    assert len(sent) == 3 and all(u.startswith(S.MARKER) for u in sent)
    assert {S.sha(u[: -len(S.USER_MESSAGE) - 1]) for u in sent} == {
        r["synthetic"]["prompt_sha"] for r in records(tmp_path, uplifting)
    }


def test_faults_are_retried_or_reported_never_dropped(tmp_path, oracle_server, oracle_env, uplifting):
    srv = oracle_server()
    # one request at a time, so the global fault script maps to articles in order
    srv.script(
        "429:0.01",
        "500",
        "ok",  # article 0: two HTTP retries by the SDK, then ok
        "truncated",
        "fences",  # article 1: truncated JSON re-asked; the fenced answer is repaired
        "garbage",
        "garbage",
        "garbage",  # article 2: given up after 1 + invalid_retries(2) answers
        "missing_dim",
        "ok",  # article 3: no "content": re-asked, then ok
        "429:0.01",
        "429:0.01",
        "429:0.01",
        "429:0.01",
    )  # article 4: retries exhausted -> error
    assert synth(srv, tmp_path, "--n", "5", "--tier", "high", "--concurrency", "1") == 0
    rep = report(tmp_path)
    run = rep["generation"]["run"]
    assert srv.paid == 1 + 2 + 3 + 2  # 429s and 500s are not paid
    assert (run["scored"], run["failed"], run["errors"]) == (3, 1, 1)
    assert run["invalid_answers"] == 1 + 3 + 1 and run["repairs"] == 1 and run["http_retries"] == 2 + 3
    assert rep["generation"]["generated"] == 3 and rep["generation"]["failed_records"] == 2
    recs = records(tmp_path, uplifting)
    ids = [
        j.article["id"]
        for j in S.build_jobs(
            uplifting,
            S.load_config(None, {"model": "test-oracle"}),
            S.SynthOptions("uplifting/v6", n=5, tier="high"),
            "news_report",
        )
    ]
    assert [r["id"] for r in recs] == [ids[0], ids[1], ids[3]]
    failed = [json.loads(x) for x in (tmp_path / "synth.failed.jsonl").read_text().splitlines()]
    assert [(f["id"], f["status"], f["error_type"], f["attempts"]) for f in failed] == [
        (ids[2], "invalid", "malformed_json", 3),
        (ids[4], "error", "rate_limited", 0),
    ]
    assert failed[0]["raw"] == "I would rather not write this article." and failed[0]["target"]
    statuses = [(x["article_id"], x["status"], x.get("error_type")) for x in ledger(tmp_path)]
    assert (ids[1], "invalid", "truncated") in statuses and (ids[3], "invalid", "missing_fields") in statuses
    assert statuses.count((ids[2], "invalid", "malformed_json")) == 3
    # next run: the error is asked again (it was never paid), the given-up target is not
    paid = srv.paid
    assert synth(srv, tmp_path, "--n", "5", "--tier", "high") == 0
    rep = report(tmp_path)
    assert srv.paid == paid + 1 and rep["generation"]["generated"] == 4 and rep["generation"]["given_up_before"] == 1
    assert synth(srv, tmp_path, "--n", "5", "--tier", "high", "--retry-failed") == 0
    assert srv.paid == paid + 2 and report(tmp_path)["generation"]["generated"] == 5
    assert (tmp_path / "synth.failed.jsonl").read_text() == ""


def test_max_cost_stops_before_overspending_and_resumes(tmp_path, oracle_server, oracle_env, uplifting):
    srv = oracle_server()
    ceiling = 0.01
    assert synth(srv, tmp_path, "--n", "8", "--tier", "high", "--concurrency", "1", "--max-cost", str(ceiling)) == 0
    rep = report(tmp_path)
    run = rep["generation"]["run"]
    spent = sum(x["cost_usd"] for x in ledger(tmp_path))
    assert run["stopped"] == "max_cost" and 0 < srv.paid < 8 and run["not_scored"] == 8 - srv.paid
    assert spent <= ceiling and rep["cost_usd"] == pytest.approx(spent, abs=1e-6)
    # each request reserved its worst case (prompt + max_tokens): one more would have risked the ceiling
    job_est = S.Prices(S.load_config(None, {"model": "test-oracle", "price": {"input": 1, "output": 2}})).cost(
        S.build_jobs(
            uplifting,
            S.load_config(None, {"model": "test-oracle"}),
            S.SynthOptions("uplifting/v6", n=8, tier="high"),
            "news_report",
        )[srv.paid].est_prompt_tokens,
        1500,
    )
    assert spent + job_est > ceiling
    assert len(records(tmp_path, uplifting)) == srv.paid == rep["generation"]["generated"]
    first = srv.paid
    # the same command with a bigger ceiling continues, paying only for the rest
    assert synth(srv, tmp_path, "--n", "8", "--tier", "high", "--concurrency", "1", "--max-cost", "1") == 0
    assert srv.paid == srv.generated == 8 and report(tmp_path)["generation"]["run"]["scored"] == 8 - first
    # the ceiling covers re-scoring too: generation is cached (free), scoring stops at the ceiling
    assert (
        synth(srv, tmp_path, "--n", "8", "--tier", "high", "--concurrency", "1", "--rescore", "--max-cost", "0.005")
        == 0
    )
    rep = report(tmp_path)
    assert srv.generated == 8 and rep["generation"]["cached"] == 8
    assert 0 < rep["cost_usd"] <= 0.005 and rep["rescore"]["run"]["stopped"] == "max_cost"
    assert 0 < rep["rescore"]["scored"] < 8 and len(rep["rescore"]["not_scored"]) == 8 - rep["rescore"]["scored"]
    assert srv.paid == 8 + rep["rescore"]["scored"]
    assert len(records(tmp_path, uplifting)) == rep["rescore"]["scored"]  # only re-scored records: labels agree


def test_rescore_consistency_mae_is_the_servers_noise(tmp_path, oracle_server, oracle_env, uplifting):
    noise = 0.75
    srv = oracle_server(synth_noise=noise)
    assert synth(srv, tmp_path, "--n", "10", "--tier", "high", "--rescore", "--concurrency", "4") == 0
    assert srv.generated == 10 and srv.paid == 20
    recs = records(tmp_path, uplifting)
    assert len(recs) == 10
    t = np.array([uplifting.labels_vector(r["synthetic"]["target"]) for r in recs])
    signs = np.array([1.0 if j % 2 == 0 else -1.0 for j in range(6)])
    expected = np.clip(t + signs * noise, 0, 10)  # what the server's noise implies (clipped at 10)
    got = np.array([uplifting.labels_vector(r["labels"]) for r in recs])
    np.testing.assert_allclose(got, expected)  # labels are the re-scored ones, the target is kept
    assert all(r["oracle_answer"]["tier"] and r["synthetic"]["prompt_sha"] for r in recs)
    c = report(tmp_path)["consistency"]
    per_dim = np.abs(expected - t).mean(0)
    assert c["n"] == 10
    for j, d in enumerate(uplifting.dimension_names):
        assert c["mae"]["per_dimension"][d] == pytest.approx(per_dim[j], abs=1e-4)
        assert c["bias"][d] == pytest.approx((expected - t)[:, j].mean(), abs=1e-4)
    assert c["mae"]["overall"] == pytest.approx(np.abs(expected - t).mean(), abs=1e-4)
    assert 0.3 < c["mae"]["overall"] <= noise
    wa = np.abs(uplifting.weighted_average(expected, "news_report") - uplifting.weighted_average(t, "news_report"))
    assert c["mae"]["weighted_average"] == pytest.approx(wa.mean(), abs=1e-4)
    # re-running costs nothing, for generation and re-scoring alike
    assert synth(srv, tmp_path, "--n", "10", "--tier", "high", "--rescore") == 0
    assert srv.paid == 20 and report(tmp_path)["cost_usd"] == 0 and report(tmp_path)["rescore"]["cached"] == 10
    written = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    assert oracle_env.encode() not in written and b"synth.rescore" in written  # the API key is never written
    # noise 0: the re-score returns the target exactly
    srv0 = oracle_server(synth_noise=0.0)
    assert synth(srv0, tmp_path, "--n", "4", "--tier", "medium", "--rescore", out="zero.jsonl") == 0
    z = report(tmp_path, "zero")["consistency"]
    assert z["mae"]["overall"] == 0 and z["mae"]["weighted_average"] == 0 and z["tier_agreement"] == 1


def test_kill_9_mid_generation_then_resume(tmp_path, oracle_server, oracle_env, uplifting):
    n, kill_after = 8, 3
    srv = oracle_server(latency=0.02)
    srv.hold_after(kill_after)
    args = [
        "synthesize",
        "--filter",
        "uplifting/v6",
        "--n",
        str(n),
        "--tier",
        "high",
        "--base-url",
        srv.base_url,
        "--model",
        "test-oracle",
        "--out",
        str(tmp_path / "synth.jsonl"),
        "--concurrency",
        "3",
        "--quiet",
    ]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(Path(__file__).parents[1] / "src"), os.environ.get("PYTHONPATH")])
        ),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "distillery.cli", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    path = tmp_path / "synth.ledger.jsonl"
    deadline = time.monotonic() + 60
    while not path.exists() or len(path.read_text().splitlines()) < kill_after:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the generator never wrote its first answers"
        time.sleep(0.02)
    time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    srv.release()
    assert srv.paid == kill_after and not (tmp_path / "synth.jsonl").exists()
    assert main(args) == 0  # resume: the 3 answers in the ledger are free
    assert srv.paid == n and len(records(tmp_path, uplifting)) == n
    assert report(tmp_path)["generation"]["cached"] == kill_after


# ---- kept out of val/test ---------------------------------------------------------------------------
def _mixed(uplifting, n_real=200, n_syn=60):
    rng = np.random.default_rng(0)
    real = [
        {
            "id": f"r{i}",
            "title": f"Real {i}",
            "content": "x" * 50,
            "labels": dict(zip(uplifting.dimension_names, rng.uniform(0, 10, 6).round(1))),
        }
        for i in range(n_real)
    ]
    t = S.draw_targets(uplifting, n_syn, seed=0, tier="high")
    syn = [
        {
            "id": f"s{i}",
            "title": f"Synthetic {i}",
            "content": "y" * 50,
            "labels": dict(zip(uplifting.dimension_names, t[i])),
            "synthetic": {"prompt_sha": str(i)},
        }
        for i in range(n_syn)
    ]
    mixed = [x for pair in zip(real, syn) for x in pair] + real[n_syn:]  # interleaved
    return real, syn, mixed


def test_split_keeps_synthetic_records_in_train(uplifting):
    real, syn, mixed = _mixed(uplifting)
    parts = stratified_split(mixed, uplifting, [0.8, 0.1, 0.1], seed=2)
    assert not any(map(is_synthetic, parts["val"] + parts["test"]))
    assert sum(map(is_synthetic, parts["train"])) == len(syn)
    alone = stratified_split(real, uplifting, [0.8, 0.1, 0.1], seed=2)  # the real ones split as if alone
    for name in ("val", "test"):
        assert [r["id"] for r in parts[name]] == [r["id"] for r in alone[name]]
    order = {r["id"]: i for i, r in enumerate(mixed)}
    assert [order[r["id"]] for r in parts["train"]] == sorted(order[r["id"]] for r in parts["train"])
    both = stratified_split(mixed, uplifting, [0.8, 0.1, 0.1], seed=2, synthetic_in_eval=True)
    assert any(map(is_synthetic, both["val"] + both["test"]))
    only = stratified_split(syn, uplifting, [0.8, 0.1, 0.1], seed=2)  # nothing real: split like the rest
    assert only == stratified_split(syn, uplifting, [0.8, 0.1, 0.1], seed=2, synthetic_in_eval=True) and only["val"]


def test_prepare_and_the_jsonl_datamodule_keep_synthetic_in_train(tmp_path, uplifting, capsys):
    from distillery.data.datamodule import load_split_records

    real, syn, mixed = _mixed(uplifting)
    write_jsonl(tmp_path / "mixed.jsonl", mixed)
    assert (
        main(["prepare", "--filter", "uplifting/v6", str(tmp_path / "mixed.jsonl"), "--out", str(tmp_path / "p")]) == 0
    )
    assert "60 synthetic record(s): all in train" in capsys.readouterr().out
    stats = json.loads((tmp_path / "p" / "stats.json").read_text())
    assert stats["synthetic"] == 60 and [stats["splits"][s]["synthetic"] for s in ("train", "val", "test")] == [
        60,
        0,
        0,
    ]
    assert (
        main(
            [
                "prepare",
                "--filter",
                "uplifting/v6",
                str(tmp_path / "mixed.jsonl"),
                "--out",
                str(tmp_path / "q"),
                "--synthetic-in-eval",
            ]
        )
        == 0
    )
    stats = json.loads((tmp_path / "q" / "stats.json").read_text())
    assert stats["splits"]["val"]["synthetic"] + stats["splits"]["test"]["synthetic"] > 0

    base = {"split": [0.8, 0.1, 0.1], "split_seed": 0, "source": "jsonl"}
    splits, _ = load_split_records(
        OmegaConf.create({**base, "path": str(tmp_path / "mixed.jsonl")}), uplifting, tmp_path
    )
    assert not any(map(is_synthetic, splits["val"] + splits["test"])) and sum(map(is_synthetic, splits["train"])) == 60
    splits, _ = load_split_records(
        OmegaConf.create({**base, "path": str(tmp_path / "mixed.jsonl"), "synthetic_in_eval": True}),
        uplifting,
        tmp_path,
    )
    assert any(map(is_synthetic, splits["val"] + splits["test"]))
    # a folder without val.jsonl: val is carved out of train, synthetic records stay in train
    (tmp_path / "d").mkdir()
    write_jsonl(tmp_path / "d" / "train.jsonl", mixed)
    splits, _ = load_split_records(OmegaConf.create({**base, "path": str(tmp_path / "d")}), uplifting, tmp_path)
    assert splits["val"] and not any(map(is_synthetic, splits["val"])) and splits["test"] == []
    # synthetic records someone put in val.jsonl: a one-line error naming the file and the key
    # (train.jsonl without them: a record in both files is a cross-split duplicate, tested in test_dedupe.py)
    moved = syn[:2] + real[:5]
    write_jsonl(tmp_path / "d" / "train.jsonl", [r for r in mixed if r not in moved])
    write_jsonl(tmp_path / "d" / "val.jsonl", moved)
    with pytest.raises(
        DistilleryError,
        match=r"d/val.jsonl: 2 synthetic record\(s\) in the val split .*"
        r"data.synthetic_in_eval=true",
    ):
        load_split_records(OmegaConf.create({**base, "path": str(tmp_path / "d")}), uplifting, tmp_path)
    # no real record at all (a synth-corpus file, the embedded corpus): nothing to hold out for, split as usual
    write_jsonl(tmp_path / "syn.jsonl", syn)
    splits, _ = load_split_records(OmegaConf.create({**base, "path": str(tmp_path / "syn.jsonl")}), uplifting, tmp_path)
    assert splits["val"] and all(map(is_synthetic, splits["val"]))
    assert main(["prepare", "--filter", "uplifting/v6", str(tmp_path / "syn.jsonl"), "--out", str(tmp_path / "s")]) == 0
    assert "60 synthetic record(s): split like the rest: no real records" in capsys.readouterr().out
    splits, _ = load_split_records(
        OmegaConf.create({**base, "source": "synthetic", "n": 60, "corpus_seed": 0}), uplifting, tmp_path
    )
    assert splits["val"] and all(map(is_synthetic, splits["val"]))

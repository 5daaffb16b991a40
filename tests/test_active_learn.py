"""`distillery active-learn`: one round on a tiny model against the local oracle server (tests/oracle_server.py)
that knows the synthetic pool's true scores: selection, dedupe, --max-cost, faults, resume, report numbers."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from distillery.cli import main

pytestmark = pytest.mark.usefixtures("single_threaded")


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _tiers(spec, records) -> dict[str, int]:
    """An independent recount: tier of each record's labels."""
    import numpy as np

    c = Counter(
        spec.tier(spec.weighted_average(np.array([[r["labels"][d] for d in spec.dimension_names]]))).tolist()[0]
        for r in records
    )
    return {t: c.get(t, 0) for t in spec.tier_names}


# ---- selection, pure ------------------------------------------------------------------------------
def test_select_candidates_threshold_uncertainty_both_budget(uplifting):
    from distillery.active.selection import select_candidates

    def row(i, wa, hw, review, sha=None):
        return {
            "index": i,
            "id": f"a{i}",
            "content_sha": sha or f"h{i}",
            "weighted_average": wa,
            "wa_halfwidth": hw,
            "needs_review": review,
        }

    rows = [
        row(0, 9.0, 3.0, True),  # already labelled
        row(1, 6.0, 1.0, False),
        row(2, 5.0, 2.0, True),
        row(3, 5.5, 2.0, True, sha="h2"),  # 3 repeats 2
        row(4, 7.5, 2.5, True),
        row(5, 2.0, 2.5, True),
        row(6, 4.1, 2.5, True),
        row(7, 1.0, 0.5, False),
    ]
    picked, counts = select_candidates(rows, {"h0"}, uplifting, "threshold", threshold=5.0)
    assert [r["id"] for r in picked] == ["a4", "a1", "a2"]  # >= 5, highest first; a0 known, a3 a duplicate
    assert counts["already_labelled"] == 1 and counts["pool_duplicates"] == 1 and counts["eligible"] == 6
    # uncertainty, no top-k: every needs_review article, widest first; equal widths: nearest a tier boundary
    # (4.0 / 7.0) first: a6 (0.1 from 4.0), a4 (0.5 from 7.0), a5 (2.0 from 4.0)
    picked, _ = select_candidates(rows, {"h0"}, uplifting, "uncertainty")
    assert [r["id"] for r in picked] == ["a6", "a4", "a5", "a2"]
    picked, _ = select_candidates(rows, {"h0"}, uplifting, "uncertainty", uncertain_top=2)
    assert [r["id"] for r in picked] == ["a6", "a4"]
    # both: interleaved threshold / uncertainty, union, reasons kept; the budget takes the first N
    picked, counts = select_candidates(rows, {"h0"}, uplifting, "both", threshold=5.0, uncertain_top=3, budget=4)
    assert [(r["id"], r["reasons"]) for r in picked] == [
        ("a4", ["threshold", "uncertainty"]),
        ("a6", ["uncertainty"]),
        ("a1", ["threshold"]),
        ("a2", ["threshold"]),
    ]
    assert counts["by_threshold"] == 3 and counts["by_uncertainty"] == 3 and counts["by_both"] == 1
    assert counts["selected"] == 5 and counts["over_budget"] == 1 and counts["candidates"] == 4


# ---- fixtures: a calibrated tiny run, a pool, a selected round ---------------------------------------
@pytest.fixture(scope="module")
def al_run(tiny_run, tmp_path_factory) -> Path:
    """A copy of the shared tiny run with conformal confidence (small groups, so widths differ)."""
    from distillery.evaluate.commands import calibrate_target

    work = tmp_path_factory.mktemp("al") / "run"
    shutil.copytree(tiny_run, work)
    for f in ("calibration.json", "confidence.json"):
        (work / f).unlink(missing_ok=True)
    calibrate_target(work, min_group=4)
    return work


@pytest.fixture(scope="module")
def pool(tmp_path_factory, uplifting) -> dict:
    """Another seed's synthetic corpus without labels (unique titles: the server knows articles by title),
    plus 4 articles of the run's own corpus (re-whitespaced, new ids) and a re-spaced copy of a pool article."""
    from distillery.data.records import write_jsonl
    from distillery.data.synthetic import generate_corpus
    from oracle_server import answers_from

    seen, uniq = set(), []
    for r in generate_corpus(uplifting, 48, seed=1):
        if r["title"] not in seen:
            seen.add(r["title"])
            uniq.append(r)
    labelled = generate_corpus(uplifting, 240, seed=0)  # the smoke run's corpus (experiment=smoke: data.n=240)
    arts = [{k: r[k] for k in ("id", "title", "content")} for r in uniq]
    dups = [
        {"id": f"dup-{i}", "title": r["title"], "content": r["content"] + "  \n"} for i, r in enumerate(labelled[:4])
    ]
    again = {"id": "pool-dup", "title": uniq[0]["title"], "content": "  " + uniq[0]["content"].replace(" ", "   ", 5)}
    path = tmp_path_factory.mktemp("pool") / "pool.jsonl"
    write_jsonl(path, arts[:10] + dups[:2] + arts[10:] + dups[2:] + [again])
    return {
        "path": path,
        "answers": answers_from(uniq),
        "labelled": labelled,
        "skip_ids": {d["id"] for d in dups} | {"pool-dup"},
    }


@pytest.fixture(scope="module")
def selected(al_run, pool, tmp_path_factory) -> dict:
    """predict + select (a dry run) once; each test copies the round dir and goes on from there."""
    out = tmp_path_factory.mktemp("round") / "r"
    base = ["active-learn", str(al_run), "--pool", str(pool["path"]), "--out", str(out), "--threads", "1", "--quiet"]
    assert main([*base, "--threshold", "11", "--dry-run"]) == 2  # nothing reaches 11: no candidates, error
    rows = _jsonl(out / "pool_predictions.jsonl")
    was = sorted(r["weighted_average"] for r in rows)
    threshold = round(was[int(0.75 * len(was))], 4)  # the top quarter
    sel = ["--select", "both", "--threshold", str(threshold), "--uncertain-top", "6"]
    assert main([*base, *sel, "--redo", "select", "--dry-run"]) == 0
    return {"out": out, "threshold": threshold, "args": [*base[:6], *sel, "--threads", "1", "--quiet"]}


def _copy_round(selected: dict, dest: Path) -> list[str]:
    shutil.copytree(selected["out"], dest)
    args = list(selected["args"])
    args[args.index("--out") + 1] = str(dest)
    return args


# ---- selection and dedupe on the real model -----------------------------------------------------------
def test_selection_by_threshold_and_uncertainty_and_dedupe(selected, pool, capsys):
    from distillery.oracle.prepare import content_hash

    out, t = selected["out"], selected["threshold"]
    rows = _jsonl(out / "pool_predictions.jsonl")
    cands = _jsonl(out / "candidates.jsonl")
    eligible = [r for r in rows if r["id"] not in pool["skip_ids"]]
    assert len(rows) == len(eligible) + 5
    # already labelled (4 of the run's own articles, whitespace changed) and the pool's repeat: never picked
    assert not {c["id"] for c in cands} & pool["skip_ids"]
    labelled = {content_hash(r) for r in pool["labelled"]}
    assert not {content_hash(c) for c in cands} & labelled
    state = json.loads((out / "state.json").read_text())
    counts = state["steps"]["select"]["summary"]["counts"]
    assert counts["already_labelled"] == 4 and counts["pool_duplicates"] == 1 and counts["pool"] == len(rows)
    # threshold: exactly the eligible articles predicted >= t
    by_t = {c["id"] for c in cands if "threshold" in c["active"]["reasons"]}
    assert by_t == {r["id"] for r in eligible if r["weighted_average"] >= t} and by_t
    # uncertainty: the 6 widest conformal intervals among the eligible
    by_u = {c["id"] for c in cands if "uncertainty" in c["active"]["reasons"]}
    width = {r["id"]: r["wa_halfwidth"] for r in eligible}
    assert len(by_u) == 6 and min(width[i] for i in by_u) >= max(w for i, w in width.items() if i not in by_u)
    assert len(set(width.values())) > 1  # the groups really differ
    assert {c["id"] for c in cands} == by_t | by_u and counts["candidates"] == len(cands)
    # candidates are the pool's articles (no labels), with what the model predicted
    by_id = {r["id"]: r for r in rows}
    for c in cands:
        assert "labels" not in c and c["active"]["predicted"]["weighted_average"] == by_id[c["id"]]["weighted_average"]
    # the same command with another threshold is refused, not silently ignored
    capsys.readouterr()
    args = list(selected["args"])
    args[args.index("--threshold") + 1] = "9.5"
    assert main([*args, "--dry-run"]) == 2
    assert "--threshold" in capsys.readouterr().err


def test_max_cost_and_missing_confirmation_abort_before_sending(selected, tmp_path, oracle_server, oracle_env, capsys):
    srv = oracle_server()
    args = _copy_round(selected, tmp_path / "r")
    oracle = ["--base-url", srv.base_url, "--model", "test-oracle", "--price-in", "1", "--price-out", "2"]
    capsys.readouterr()
    assert main([*args, *oracle, "--max-cost", "0.0001", "--yes"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: estimated oracle cost $") and "exceeds --max-cost" in err and "\n" not in err
    assert main([*args, *oracle]) == 2  # no --yes, and stdin is not a terminal
    err = capsys.readouterr().err.strip()
    assert "--yes" in err and "\n" not in err
    assert main([*args, "--base-url", srv.base_url, "--model", "test-oracle", "--max-cost", "1", "--yes"]) == 2
    assert "needs a price" in capsys.readouterr().err
    assert srv.requests == 0 and srv.paid == 0
    assert "label" not in json.loads((tmp_path / "r" / "state.json").read_text())["steps"]


# ---- the whole round: faults, a failed retrain, resume, report --------------------------------------------
def test_round_with_oracle_faults_failed_retrain_resume_and_report(
    selected, al_run, pool, tmp_path, oracle_server, oracle_env, capsys, uplifting
):
    out = tmp_path / "round 1, retry"  # a space and a comma: Hydra must get data.path quoted
    args = _copy_round(selected, out)
    cands = _jsonl(out / "candidates.jsonl")
    n = len(cands)
    srv = oracle_server(answers=pool["answers"])
    srv.script("429:0.05", "500", "garbage")  # the next requests: rate limit, server error, an unparseable answer
    stubborn = cands[-1]["title"]
    srv.script_article(stubborn, "500", "500", "500")  # one candidate fails every try of this invocation
    oracle = [
        "--base-url",
        srv.base_url,
        "--model",
        "test-oracle",
        "--price-in",
        "1",
        "--price-out",
        "2",
        "--concurrency",
        "1",
        "--max-retries",
        "2",
        "--timeout",
        "5",
        "--yes",
    ]
    capsys.readouterr()
    # 1. every candidate but one labelled; that one is reported, the step is not finished
    assert main([*args, *oracle]) == 2
    err = capsys.readouterr().err.strip()
    assert f"1 of {n} candidates have no oracle answer yet" in err and "\n" not in err
    assert srv.paid == n  # n - 1 answers + the garbage one (paid, re-asked)
    assert {e.get("status") for e in srv.log} >= {429, 500, 200}
    # 2. resume: only the missing one is sent; then the retrain fails on a bad override: one line, nothing lost
    assert main([*args, *oracle, "--train-overrides", "model=no-such-model"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: retrain failed (exit 1): ") and "no-such-model" in err and "\n" not in err
    assert srv.paid == n + 1
    state = json.loads((out / "state.json").read_text())["steps"]
    assert list(state) == ["predict", "select", "label", "merge"]
    labelled = _jsonl(out / "labelled.jsonl")
    assert sorted(r["id"] for r in labelled) == sorted(c["id"] for c in cands)
    for r in labelled:  # the oracle knew the truth
        assert r["labels"] == pytest.approx(pool["answers"][r["title"]])
    # 3. resume at the retrain: no oracle request at all
    requests = srv.requests
    assert main([*args, *oracle, "--train-overrides", "trainer.max_epochs=1"]) == 0
    assert srv.requests == requests and srv.paid == n + 1
    report = json.loads((out / "report.json").read_text())
    assert "## Tier mix of the labelled data" in (out / "report.md").read_text()

    # report numbers == a recount of the files
    new_ids = {r["id"] for r in labelled}
    data = {s: _jsonl(out / "data" / f"{s}.jsonl") for s in ("train", "val", "test")}
    assert sum(len(v) for v in data.values()) == 240 + n
    assert sum(r["id"] in new_ids for s in data for r in data[s]) == n
    tm = report["tier_mix"]
    assert tm["train"]["after"]["counts"] == _tiers(uplifting, data["train"])
    assert tm["train"]["before"]["counts"] == _tiers(uplifting, [r for r in data["train"] if r["id"] not in new_ids])
    everything = [r for s in data for r in data[s]]
    assert tm["all"]["after"]["counts"] == _tiers(uplifting, everything)
    assert tm["all"]["before"]["n"] == 240 and tm["all"]["after"]["n"] == 240 + n
    assert tm["candidates_oracle"]["counts"] == _tiers(uplifting, labelled)
    preds = {r["id"]: r["tier"] for r in _jsonl(out / "pool_predictions.jsonl")}
    predicted = {t: sum(preds[c["id"]] == t for c in cands) for t in uplifting.tier_names}
    assert tm["candidates_predicted"]["counts"] == predicted
    for t in uplifting.tier_names:
        a = tm["train"]["after"]
        assert a["share"][t] == pytest.approx(a["counts"][t] / a["n"])
    ledger = _jsonl(out / "oracle" / "ledger.jsonl")
    assert report["oracle"]["paid_calls"] == n + 1 == sum(x["status"] in ("ok", "invalid") for x in ledger)
    assert report["oracle"]["cost_usd"] == pytest.approx(sum(x.get("cost_usd") or 0 for x in ledger), abs=1e-6)
    assert report["oracle"]["cost_usd"] > 0 and report["labelling"] == {
        "candidates": n,
        "labelled": n,
        "failed": 0,
        "missing": 0,
        "blocked": 0,
    }
    # val metrics: the new model's == what its own training measured on the same split; the old model's on
    # the run's val part == what the run measured
    val = report["metrics"]["val"]
    n_val = json.loads((al_run / "metrics.json").read_text())["n"]["val"]
    assert val["n"] == {"all": len(data["val"]), "old": n_val, "added": len(data["val"]) - n_val}
    retrained = json.loads((out / "retrain" / "metrics.json").read_text())
    assert val["new_model"]["all"]["mae"] == pytest.approx(retrained["val"]["mae"], abs=2e-3)
    original = json.loads((al_run / "metrics.json").read_text())
    assert val["old_model"]["old"]["mae"] == pytest.approx(original["val"]["mae"], abs=2e-3)

    # 4. a finished round: the same command again re-scores nothing and does not retrain
    mtime = (out / "retrain" / "metrics.json").stat().st_mtime_ns
    capsys.readouterr()
    assert main([*args, *oracle, "--train-overrides", "trainer.max_epochs=1"]) == 0
    assert srv.requests == requests and srv.paid == n + 1
    assert (out / "retrain" / "metrics.json").stat().st_mtime_ns == mtime
    for p in out.rglob("*"):  # the API key is used, never written
        if p.is_file() and p.suffix in (".json", ".jsonl", ".md", ".log", ".yaml"):
            assert oracle_env.encode() not in p.read_bytes(), p

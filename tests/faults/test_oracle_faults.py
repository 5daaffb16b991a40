"""Issue 16, the oracle rows: ``distillery score`` / ``synthesize`` through the real CLI against the real
HTTP test server (tests/oracle_server.py). Each fault gets one ``error:`` line naming the endpoint (or the
flag) and a non-zero exit when the command did not do its job; what was paid for is never lost; the
numbers in the summaries agree with the requests actually sent."""

from __future__ import annotations

import json
import re
from pathlib import Path

from distillery.data.records import write_jsonl
from faults.conftest import assert_one_line, run_cli

FILLER = (
    "The new clinic on Station Road opened its doors in May, and volunteers from the neighbourhood "
    "help run the reception and the weekly advice sessions for families who live nearby. "
) * 3


def make_articles(path: Path, n: int, body=lambda i: "") -> list[dict]:
    arts = [{"id": f"a{i}", "title": f"Article {i}", "content": f"{FILLER}{body(i)}"} for i in range(n)]
    write_jsonl(path, arts)
    return arts


def score(base_url: str, tmp: Path, *extra: str):
    """``distillery score`` on ``tmp/articles.jsonl`` into ``tmp/out`` (prices known, short timeouts)."""
    args = ["score", "--filter", "uplifting/v6", "--input", tmp / "articles.jsonl", "--out", tmp / "out"]
    args += ["--base-url", base_url, "--model", "test-oracle", "--price-in", "1", "--price-out", "2"]
    return run_cli([*args, "--timeout", "2", "--max-retries", "1", "--concurrency", "1", *extra], tmp, timeout=120)


def jsonl(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def summary(tmp: Path) -> dict:
    return json.loads((tmp / "out" / "summary.json").read_text())


def table_value(out: str, label: str) -> str:
    """The value of row ``label`` in a rich summary table printed by the CLI."""
    m = re.search(rf"{re.escape(label)}\s*│\s*(.*?)\s*│", out)
    assert m, f"no row {label!r} in\n{out}"
    return m.group(1)


# ---- row 1: HTTP 200 with an HTML / non-JSON body -----------------------------------------------
def test_http_200_with_a_non_json_body_is_one_line_and_keeps_what_was_paid(tmp_path, oracle_server, oracle_env):
    srv = oracle_server()
    make_articles(tmp_path / "articles.jsonl", 3)
    srv.script_article("Article 2", "html", "non_json")  # a proxy's login page, after two good answers
    r = score(srv.base_url, tmp_path)
    assert_one_line(r, srv.base_url, "answered HTTP 200 with a non-JSON body (text/html, starts '<!DOCTYPE html>", rc=2)
    assert "distillery train" not in r.out
    out = tmp_path / "out"
    assert [x["id"] for x in jsonl(out / "labelled.jsonl")] == ["a0", "a1"]  # paid answers are kept
    assert [x["status"] for x in jsonl(out / "ledger.jsonl")] == ["ok", "ok"]
    s = summary(tmp_path)
    assert s["labelled"] == 2 and s["run"]["scored"] == 2 and "non-JSON" in s["error"] and s["train_with"] is None
    # again, now a JSON content type with a body that is not JSON: the cached two are not paid again
    r = score(srv.base_url, tmp_path)
    assert_one_line(r, "answered HTTP 200 with a non-JSON body (application/json, starts 'OK: request accepted", rc=2)
    assert srv.paid == 2 and srv.requests == 4 and summary(tmp_path)["cached"] == 2
    assert [x["id"] for x in jsonl(out / "labelled.jsonl")] == ["a0", "a1"]


# ---- row 2: endpoint down / every request times out -> a failure; partial success -> exit 0, said so -------
def closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once closed: connection refused


def test_unreachable_endpoint_is_a_failure_naming_the_endpoint_and_the_cause(tmp_path, oracle_env):
    url = f"http://127.0.0.1:{closed_port()}/v1"
    make_articles(tmp_path / "articles.jsonl", 2)
    r = score(url, tmp_path)
    assert_one_line(r, url, "gave no answer to any of the 2 request(s) sent", "connection refused", rc=2)
    assert "distillery train" not in r.out and "next:" not in r.out
    s = summary(tmp_path)
    assert (s["labelled"], s["run"]["errors"], s["failed_records"], s["train_with"]) == (0, 2, 2, None)


def test_every_request_timing_out_is_a_failure(tmp_path, oracle_server, oracle_env):
    srv = oracle_server()
    make_articles(tmp_path / "articles.jsonl", 1)
    srv.script_article("Article 0", "timeout:2", "timeout:2")  # --max-retries 1: two attempts, both time out
    r = score(srv.base_url, tmp_path, "--timeout", "0.3")
    assert_one_line(r, srv.base_url, "gave no answer to any of the 1 request(s) sent", "timed out after 0.3s", rc=2)
    assert "distillery train" not in r.out and srv.paid == 0 and srv.requests == 2


def test_partial_success_exits_0_and_says_it_is_partial(tmp_path, oracle_server, oracle_env):
    srv = oracle_server()
    make_articles(tmp_path / "articles.jsonl", 2)
    srv.script_article("Article 1", "500", "500")  # the SDK's one retry is used up: no answer for a1
    r = score(srv.base_url, tmp_path)
    assert r.rc == 0 and not r.error_lines() and "Traceback" not in r.out, str(r)
    assert "partial result (exit 0): 1 of 2 article(s) labelled" in " ".join(r.out.split())
    s = summary(tmp_path)
    assert (s["labelled"], s["failed_records"], s["run"]["errors"], s["error"]) == (1, 1, 1, None)
    assert "data.path=" in s["train_with"]


# ---- row 3: an off-list content_type in an otherwise valid answer -----------------------------------
def test_off_list_content_type_keeps_the_scores_and_is_asked_once(tmp_path, oracle_server, oracle_env, uplifting):
    srv = oracle_server()
    make_articles(tmp_path / "articles.jsonl", 2, body=lambda i: " SCORE=7 TYPE=podcast_episode" if i == 0 else "")
    r = score(srv.base_url, tmp_path)
    assert r.rc == 0 and not r.error_lines(), str(r)
    assert srv.paid_by_title["Article 0"] == 1 and srv.paid == 2  # not re-asked: the scores were valid
    rec = {x["id"]: x for x in jsonl(tmp_path / "out" / "labelled.jsonl")}["a0"]
    assert rec["labels"] == {d: 7.0 for d in uplifting.dimension_names}
    ans = rec["oracle_answer"]
    assert ans["content_type"] == "unknown" and ans["repairs"] == ["content_type_unknown:podcast_episode"]
    assert ans["content_type_cap"].startswith("not applied")
    no_cap = uplifting.summarize(uplifting.labels_vector(rec["labels"]), None)
    assert ans["weighted_average"] == round(no_cap["weighted_average"], 4) and ans["tier"] == no_cap["tier"]
    assert jsonl(tmp_path / "out" / "failed.jsonl") == [] and summary(tmp_path)["run"]["invalid_answers"] == 0


# ---- row 4: --max-cost below the price of one call ---------------------------------------------------
def test_max_cost_below_one_call_is_one_line_with_both_numbers(tmp_path, oracle_server, oracle_env):
    srv = oracle_server()
    make_articles(tmp_path / "articles.jsonl", 2)
    r = score(srv.base_url, tmp_path, "--max-cost", "0.0001")
    line = assert_one_line(r, "--max-cost $0.0001 is below the price of one call", rc=2)
    price = float(re.search(r"\(\$([0-9.]+) at most", line).group(1))
    assert price > 0.0001 and "Re-run" not in r.out and "re-run" not in line
    assert srv.requests == 0


# ---- row 5: the counts in the summary agree with what happened ----------------------------------------
def test_reask_and_failed_counts_agree_with_what_happened(tmp_path, oracle_server, oracle_env):
    srv = oracle_server()
    make_articles(tmp_path / "articles.jsonl", 2)
    srv.script_article("Article 0", "garbage", "garbage", "garbage")  # asked, re-asked twice, given up
    r = score(srv.base_url, tmp_path)
    assert r.rc == 0, str(r)
    assert srv.paid_by_title["Article 0"] == 3 and srv.paid == 4
    assert table_value(r.out, "retries (HTTP + re-asks)") == "0 + 2"
    assert table_value(r.out, "failed (invalid answers)") == "1"
    run = summary(tmp_path)["run"]
    assert (run["reasks"], run["invalid_answers"], run["failed"], run["scored"]) == (2, 3, 1, 1)
    # the same command again: nothing is sent; the failed count is the one article without a valid answer
    r = score(srv.base_url, tmp_path)
    assert r.rc == 0 and srv.paid == 4, str(r)
    assert table_value(r.out, "failed (invalid answers)") == "1"
    assert table_value(r.out, "retries (HTTP + re-asks)") == "0 + 0"
    assert "1 article(s) without a valid answer" in " ".join(r.out.split())
    s = summary(tmp_path)
    assert (s["failed_records"], s["failed_invalid"], s["given_up_before"], s["cached"]) == (1, 1, 1, 1)


# ---- row 6: synthesize that produced nothing is a failure; its counts match the requests sent ----------
def test_synthesize_with_only_junk_answers_fails_with_counts_that_match(tmp_path, oracle_server, oracle_env):
    srv = oracle_server()
    srv.script("garbage", "garbage")
    args = ["synthesize", "--filter", "uplifting/v6", "--n", "2", "--tier", "high", "--out", tmp_path / "synth.jsonl"]
    args += ["--base-url", srv.base_url, "--model", "test-oracle", "--price-in", "1", "--price-out", "2"]
    r = run_cli([*args, "--timeout", "2", "--max-retries", "1", "--set", "invalid_retries=0"], tmp_path, timeout=120)
    assert_one_line(
        r, "synthesize wrote none of the 2 article(s) asked for", "malformed_json", "synth.failed.jsonl", rc=2
    )
    assert srv.requests == srv.paid == 2  # invalid_retries=0: no re-ask was sent
    assert table_value(r.out, "retries (HTTP + re-asks)") == "0 + 0"
    assert table_value(r.out, "failed (invalid answers)") == "2"
    rep = json.loads((tmp_path / "synth.report.json").read_text())
    run = rep["generation"]["run"]
    assert (run["reasks"], run["invalid_answers"], run["scored"], rep["records"]) == (0, 2, 0, 0)
    assert "wrote none" in rep["error"] and len(jsonl(tmp_path / "synth.failed.jsonl")) == 2

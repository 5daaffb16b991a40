"""kill -9 in the middle of a scoring run, then resume: no answer lost, none paid twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from distillery.cli import main
from distillery.data.records import read_records, write_jsonl
from distillery.filters import load_filter

N, KILL_AFTER = 16, 6


def _ok_lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.endswith("}")]


def test_kill_9_mid_run_then_resume(tmp_path, oracle_server, oracle_env):
    srv = oracle_server(latency=0.02)
    filler = "Volunteers opened a community kitchen that now serves hundreds of families every week. " * 5
    write_jsonl(
        tmp_path / "articles.jsonl",
        [{"id": f"k{i}", "title": f"Kill test {i}", "content": filler + str(i)} for i in range(N)],
    )
    out = tmp_path / "out"
    args = [
        "score",
        "--filter",
        "uplifting/v6",
        "--input",
        str(tmp_path / "articles.jsonl"),
        "--base-url",
        srv.base_url,
        "--model",
        "test-oracle",
        "--out",
        str(out),
        "--concurrency",
        "4",
        "--quiet",
        "--price-in",
        "1",
        "--price-out",
        "2",
    ]
    srv.hold_after(KILL_AFTER)  # answers after the 6th paid one park in the server until release()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(Path(__file__).parents[1] / "src"), os.environ.get("PYTHONPATH")])
        ),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "distillery.cli", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    ledger = out / "ledger.jsonl"
    deadline = time.monotonic() + 40
    while len(_ok_lines(ledger)) < KILL_AFTER:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the scorer never wrote its first answers"
        time.sleep(0.02)
    time.sleep(0.1)  # the other workers are now waiting on held requests
    assert srv.inflight >= 1
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    with open(ledger, "ab") as fh:  # as if the kill had also torn a line mid-write
        fh.write(b'{"key": "torn-by-kill", "status": "ok", "lab')
    srv.release()  # the parked requests find their client gone: abandoned, not paid
    deadline = time.monotonic() + 5
    while srv.inflight and time.monotonic() < deadline:
        time.sleep(0.02)
    assert srv.paid == KILL_AFTER and srv.abandoned >= 1

    assert main(args) == 0  # resume
    spec = load_filter("uplifting/v6")
    labelled = read_records([out / "labelled.jsonl"], spec).records
    assert sorted(r["id"] for r in labelled) == sorted(f"k{i}" for i in range(N))  # each exactly once
    ok = Counter(x["key"] for x in _ok_lines(ledger) if x["status"] == "ok")
    assert len(ok) == N and set(ok.values()) == {1}  # one answer per article in the ledger
    assert srv.paid == N and set(srv.paid_by_title.values()) == {1}  # and none paid twice
    s = json.loads((out / "summary.json").read_text())
    assert s["cached"] == KILL_AFTER and s["run"]["scored"] == N - KILL_AFTER

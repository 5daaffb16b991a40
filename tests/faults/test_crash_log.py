"""The last resort of the CLI: an exception no verb explains (a bug) is one console line naming a log
file that holds the traceback, exit 1; secrets given on the command line are not written to it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from faults.conftest import CliResult, assert_one_line

# a real process running the real `distillery.cli.main`, with one extra verb whose run() has a bug
SCRIPT = textwrap.dedent(
    """
    import sys, types
    import distillery.cli as cli

    mod = types.ModuleType("buggy")

    class buggy_cmd:
        @staticmethod
        def add_arguments(p):
            p.add_argument("--api-key")
            p.add_argument("rest", nargs="*")

        @staticmethod
        def run(args):
            return {}["no such key"]

    mod.buggy_cmd = buggy_cmd
    sys.modules["buggy"] = mod
    cli.VERBS["buggy"] = cli.Verb("buggy:buggy_cmd", "a verb with a bug", "distillery buggy")
    sys.exit(cli.main(sys.argv[1:]))
    """
)


def test_unexpected_exception_is_one_line_and_a_log(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, "buggy", "--api-key", "sk-live-123", "token=abc", "plain"],
        capture_output=True,
        text=True,
        env={"DISTILLERY_LOG_DIR": str(logs), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    res = CliResult(proc.returncode, proc.stdout, proc.stderr)
    line = assert_one_line(res, "distillery buggy failed: KeyError", "traceback in", rc=1)
    (log,) = logs.glob("buggy-*.log")
    assert str(log) in line
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and "KeyError: 'no such key'" in text
    assert "sk-live-123" not in text and "abc" not in text and "plain" in text  # masked, the rest kept

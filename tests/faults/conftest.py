"""Shared helpers for the fault-injection suite (issue 16): every fault goes through the real CLI.

``run_cli(args, cwd)`` runs ``distillery`` as a real subprocess (the console script next to the
interpreter when there is one, else ``python -c 'from distillery.cli import main; ...'``) and
returns a :class:`CliResult` with ``rc``, ``stdout``, ``stderr`` and ``out`` (both together).
``assert_one_line(result, *needles)`` checks the user-facing contract: a non-zero exit, no
"Traceback" on the console, and an ``error:`` line that contains every needle.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests"
if str(TESTS) not in sys.path:  # tests/oracle_server.py, importable as `oracle_server`
    sys.path.insert(0, str(TESTS))


@dataclass
class CliResult:
    rc: int
    stdout: str
    stderr: str

    @property
    def out(self) -> str:
        return self.stdout + self.stderr

    def error_lines(self) -> list[str]:
        return [ln for ln in self.out.splitlines() if ln.startswith("error:")]

    def __str__(self) -> str:  # shown by pytest when an assertion on the result fails
        return f"rc={self.rc}\n--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"


def _cli_prefix() -> list[str]:
    script = Path(sys.executable).with_name("distillery")
    if script.exists():
        return [str(script)]
    found = shutil.which("distillery")
    if found:
        return [found]
    return [sys.executable, "-c", "import sys; from distillery.cli import main; sys.exit(main())"]


def run_cli(
    args: list[str],
    cwd: str | os.PathLike | None = None,
    *,
    env: dict[str, str] | None = None,
    timeout: float = 300,
    input: str | None = None,
) -> CliResult:
    """Run ``distillery *args`` in a subprocess in ``cwd``; never raises on a non-zero exit.

    The environment is the test's (so ``DISTILLERY_OUTPUTS`` set by tests/conftest.py applies),
    offline, plus ``env``."""
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "offline", "PYTHONUNBUFFERED": "1"}
    full_env.pop("PYTEST_CURRENT_TEST", None)
    full_env.update(env or {})
    proc = subprocess.run(
        [*_cli_prefix(), *map(str, args)],
        cwd=str(cwd) if cwd else None,
        env=full_env,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=timeout,
        input=input,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def assert_one_line(result: CliResult, *needles: str, rc: int | None = None) -> str:
    """Non-zero exit (or exactly ``rc``), no traceback on the console, and one ``error:`` line
    containing every needle; returns that line."""
    assert "Traceback" not in result.out, str(result)
    if rc is None:
        assert result.rc != 0, str(result)
    else:
        assert result.rc == rc, str(result)
    lines = result.error_lines()
    assert len(lines) == 1, f"expected one error line, got {lines}\n{result}"
    for n in needles:
        assert n in lines[0], f"{n!r} not in {lines[0]!r}\n{result}"
    return lines[0]


@pytest.fixture
def cli():
    """``cli(args, cwd)`` = :func:`run_cli`, as a fixture."""
    return run_cli

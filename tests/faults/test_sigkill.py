"""SIGKILL at random moments while a checkpoint or an export is being written: what is on disk
afterwards is the old complete artifact or the new complete one, never a mix or a half (issue 16).

A child process rewrites the same artifact in a loop, each version tagged with its iteration
number in two places (the checkpoint's head bias and ``distillery.json``; the export's manifest and
its hashed files), and prints the iteration after each complete write. The parent kills it after a
random delay (bounded loop: a few kills per artifact, seed printed on failure) and then loads what
is there the way users do: ``load_checkpoint`` / the manifest's SHA-256 check and the ONNX scorer.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

SEED = int(os.environ.get("DISTILLERY_FAULT_SEED", time.time_ns() % 100_000))

# The child loads once, then for every "go N" line on stdin forks a writer that rewrites the artifact
# in a loop from iteration N+1 (printing "pid P" first and each iteration after it is complete);
# the test SIGKILLs the writer, the child reaps it and prints "dead". One import and one model load
# for the whole test instead of one per kill.
SERVER = textwrap.dedent(
    """
    import os
    import sys
    from pathlib import Path

    import torch

    torch.set_num_threads(1)
    src, out = Path(sys.argv[1]), Path(sys.argv[2])
    {setup}
    print("@ready", flush=True)
    for line in sys.stdin:
        i = int(line.split()[1])
        pid = os.fork()
        if pid == 0:
            print(f"@pid {{os.getpid()}}", flush=True)
            while True:
                i += 1
                {write}
                print(f"@{{i}}", flush=True)
        os.waitpid(pid, 0)
        print("@dead", flush=True)
    """
)

CHECKPOINT_SETUP = """
from distillery.models.checkpoint import load_checkpoint, save_checkpoint
s = load_checkpoint(src)
bias = next(p for n, p in s.model.head.named_parameters() if n.endswith("bias"))
"""
CHECKPOINT_WRITE = """
with torch.no_grad():
    bias.fill_(float(i))
save_checkpoint(out, s.model, s.tokenizer, s.spec, s.meta["model"], s.strategy, extra={"iteration": i})
"""
EXPORT_SETUP = "from distillery.export.pipeline import export_run"
EXPORT_WRITE = """
export_run(src, out, threads=1, force=True)
"""


def _server(setup: str, write: str) -> str:
    body = SERVER.replace("{setup}\n", setup.strip() + "\n").replace("{{", "{").replace("}}", "}")
    return body.replace("            {write}\n", textwrap.indent(write.strip(), " " * 12) + "\n")


def _said(proc) -> str:
    """The child's next protocol line ("@..."); what the code under test prints is skipped."""
    while line := proc.stdout.readline():
        if line.startswith("@"):
            return line[1:].strip()
    return ""


def _kill_loop(setup: str, write: str, src: Path, out: Path, kills: int, check, tmp_path: Path) -> list[str]:
    """Fork a writer ``kills`` times, SIGKILL it after a random delay (up to 1.5 write times), then
    ``check(out)`` -> the iteration found on disk. Returns one line per kill."""
    rng = random.Random(SEED)
    child = tmp_path / "child.py"
    child.write_text(_server(setup, write))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.Popen(
        [sys.executable, str(child), str(src), str(out)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    seen: list[str] = []
    try:
        assert _said(proc) == "ready", f"child did not start (seed {SEED})"
        last, period = 0, None  # the newest iteration known complete; seconds per write
        for k in range(kills):
            proc.stdin.write(f"go {last}\n")
            proc.stdin.flush()
            pid = int(_said(proc).split()[1])
            t0 = time.monotonic()
            if period is None:  # the first writer: learn how long one write takes (two of them)
                assert int(_said(proc)) == last + 1
                assert int(_said(proc)) == last + 2
                period, last = (time.monotonic() - t0) / 2, last + 2
                t0 = time.monotonic()
            delay = rng.uniform(0, 1.5 * period)
            time.sleep(max(0.0, delay - (time.monotonic() - t0)))
            os.kill(pid, signal.SIGKILL)
            done = []
            while (line := _said(proc)) != "dead":
                assert line, f"child exited (seed {SEED})"
                done.append(int(line))
            newest = max([last, *done])
            found = check(out)  # raises unless what is there is complete
            if found is None:  # an artifact whose versions are identical: completeness is what counts
                found = newest
            # the newest complete write, or the one the kill interrupted after it finished, before it said so
            assert found in (newest, newest + 1), f"kill {k} (seed {SEED}): found {found}, newest complete {newest}"
            seen.append(
                f"kill {k} at {delay:.2f}s of a {period:.2f}s write: iteration {found} (newest complete {newest})"
            )
            last = found
    finally:
        proc.kill()
        proc.communicate()
    return seen


def _checkpoint_iteration(out: Path) -> int:
    from distillery.models.checkpoint import load_checkpoint

    s = load_checkpoint(out)
    bias = next(p for n, p in s.model.head.named_parameters() if n.endswith("bias"))
    assert float(bias.min()) == float(bias.max()) == float(s.meta["iteration"]), (
        "weights from one write, meta from another"
    )
    leftovers = [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]
    assert all(n.endswith(".partial") for n in leftovers), leftovers  # a killed write's temp folder, nothing else
    return int(s.meta["iteration"])


def test_sigkill_during_checkpoint_write(tiny_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "ckpt" / "checkpoint"
    seen = _kill_loop(CHECKPOINT_SETUP, CHECKPOINT_WRITE, tiny_run, out, 6, _checkpoint_iteration, tmp_path)
    print("\n".join(seen))


def _export_complete(out: Path) -> None:
    from distillery.runtime.manifest import load_manifest, verify_hashes
    from distillery.runtime.onnx_scorer import OnnxScorer

    m = load_manifest(out)
    assert verify_hashes(out, m) == [], "files do not match the manifest"
    scorer = OnnxScorer(out, "int8", threads=1)
    assert len(scorer.predict([{"id": "x", "title": "t", "content": "solar panels on a school roof"}])) == 1
    leftovers = [p.name for p in out.parent.iterdir() if p.name != out.name]
    assert all(n.startswith(f".{out.name}.") and n.endswith(".partial") for n in leftovers), leftovers


@pytest.mark.slow  # one export of the tiny run is ~10-60 s depending on the load: 3 kills do not fit the fast suite
def test_sigkill_during_export(tiny_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "exp" / "uplifting_v6"
    seen = _kill_loop(EXPORT_SETUP, EXPORT_WRITE, tiny_run, out, 3, _export_complete, tmp_path)
    print("\n".join(seen))

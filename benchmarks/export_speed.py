"""INT8 ONNX vs PyTorch FP32 speed for the packaged pretrained models (docs/benchmarks.md).

For each model: a very short training run (the speed and the export fidelity do not depend on
how well it scores), ``distillery export`` (parity gate included) and ``distillery benchmark``
at the given context lengths: PyTorch FP32 (LoRA merged, SDPA attention), ONNX FP32 and ONNX INT8
on the same token views and batches, the same thread count everywhere, plus an op-level profile
(``--profile``) of PyTorch vs INT8. Heavy: run it alone on the machine, with ``nice``.

    python benchmarks/export_speed.py                                  # both models, 1 thread
    python benchmarks/export_speed.py --models minilm-l6 --threads 2
    python benchmarks/export_speed.py --run minilm-l6=outputs/train/runs/X       # reuse a trained run
    python benchmarks/export_speed.py --export minilm-l6=exports/minilm          # benchmark an existing export
    python benchmarks/export_speed.py --export minilm-l6=exports/minilm \\
        --compare minilm-l6:previous=old_export/model.int8.onnx                  # other INT8 files, same run
    python benchmarks/export_speed.py --wait-quiet 900                 # first wait (<= 15 min) for load < 1

MiniLM has 512 positions, so it is measured at 128/256/512 tokens; SmolLM2 at 512/1024/2048.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODELS = {
    "minilm-l6": {
        "train": ["experiment=smoke", "data.n=400", "trainer.max_epochs=2", "context_strategy.max_tokens=256"],
        "lengths": [128, 256, 512],
        "n": 16,
        "batch": 8,
        "export": [],
    },
    "smollm2-135m": {
        "train": ["data.n=200", "context_strategy.max_tokens=128", "trainer.max_epochs=1", "data.batch_size=8"],
        "lengths": [512, 1024, 2048],
        "n": 4,
        "batch": 4,
        "export": ["--parity-data", "{parity}"],
    },
}


def _run(cmd: list[str], env: dict) -> str:
    print("$", " ".join(cmd), flush=True)
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"failed ({out.returncode}):\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return out.stdout


def _pairs(items: list[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            sys.exit(f"{what} {item!r}: expected NAME=VALUE")
        out[key] = value
    return out


def wait_quiet(limit_s: float, below: float = 1.0, hold_s: float = 60.0, poll_s: float = 10.0) -> list[float]:
    """Wait until the 1-minute load average stays below ``below`` for ``hold_s`` (at most
    ``limit_s`` in all); returns the load average when it stops waiting."""
    t0, quiet_since = time.monotonic(), None
    while time.monotonic() - t0 < limit_s:
        load = os.getloadavg()[0]
        quiet_since = (quiet_since or time.monotonic()) if load < below else None
        if quiet_since and time.monotonic() - quiet_since >= hold_s:
            break
        time.sleep(poll_s)
    la = list(os.getloadavg())
    print(f"load average {la[0]:.2f} {la[1]:.2f} {la[2]:.2f} after waiting {time.monotonic() - t0:.0f} s", flush=True)
    return la


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "distillery-export-speed")
    p.add_argument("--run", nargs="+", default=[], metavar="MODEL=RUN_DIR", help="reuse a training run (no training)")
    p.add_argument("--export", nargs="+", default=[], metavar="MODEL=EXPORT_DIR", help="reuse an export (no export)")
    p.add_argument(
        "--compare",
        nargs="+",
        default=[],
        metavar="MODEL:LABEL=FILE",
        help="also time another INT8 ONNX file of the same model in the same benchmark run",
    )
    p.add_argument("--lengths", type=int, nargs="+")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--no-profile", action="store_true", help="skip the op-level profile")
    p.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="SECONDS",
        help="before benchmarking, wait up to SECONDS for a 1-minute load average < 1.0 held for 60 s",
    )
    args = p.parse_args()
    exe = str(Path(sys.executable).with_name("distillery"))
    env = {
        **os.environ,
        "WANDB_MODE": "offline",
        "OMP_NUM_THREADS": str(args.threads),
        "DISTILLERY_OUTPUTS": str(args.work / "outputs"),
    }
    runs, exports = _pairs(args.run, "--run"), _pairs(args.export, "--export")
    compare: dict[str, list[str]] = {}
    for key, path in _pairs(args.compare, "--compare").items():
        model, _, label = key.partition(":")
        compare.setdefault(model, []).append(f"{label or 'other'}={path}")
    models = [m for m in args.models if m in exports or m in runs] if (exports or runs) else args.models
    parity = args.work / "parity64.jsonl"
    todo = []
    for name in models:
        spec = MODELS[name]
        exp = Path(exports[name]) if name in exports else args.work / "exports" / name
        if name not in exports:
            run = runs.get(name)
            if run is None:
                out = _run([exe, "train", f"model={name}", "seed=0", "logger=none", *spec["train"]], env)
                run = out.strip().splitlines()[-1].removeprefix("run dir: ")
            if not parity.exists():
                _run(
                    [exe, "synth-corpus", "--filter", "uplifting/v6", "--n", "64", "--seed", "1", "--out", str(parity)],
                    env,
                )
            extra = [a.format(parity=parity) for a in spec["export"]]
            print(_run([exe, "export", run, "--out", str(exp), "--force", "--threads", str(args.threads), *extra], env))
        todo.append((name, exp, spec))
    load = wait_quiet(args.wait_quiet) if args.wait_quiet else list(os.getloadavg())
    for name, exp, spec in todo:
        cmp = ["--compare", *compare[name]] if compare.get(name) else []
        _run(
            [
                exe,
                "benchmark",
                str(exp),
                "--lengths",
                *map(str, args.lengths or spec["lengths"]),
                "--n",
                str(spec["n"]),
                "--batch-size",
                str(spec["batch"]),
                "--threads",
                str(args.threads),
                "--repeats",
                str(args.repeats),
                "--backends",
                "pytorch",
                "onnx-fp32",
                "onnx-int8",
                *cmp,
                *([] if args.no_profile else ["--profile"]),
            ],
            env,
        )
        print((exp / "benchmark.md").read_text())
        res = json.loads((exp / "benchmark.json").read_text())
        for backend in sorted({r["backend"] for r in res["rows"] if r["backend"].startswith("onnx-int8")}):
            ratios = [
                f"{r['length']}: {r['speedup_vs_pytorch']:.2f}x (CPU {r['cpu_speedup_vs_pytorch']:.2f}x)"
                for r in res["rows"]
                if r["backend"] == backend
            ]
            print(f"{name} {backend} vs PyTorch FP32, {args.threads} thread(s) -> {', '.join(ratios)}")
        print(f"load average before: {load[0]:.2f}, after: {res['load_average'][0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

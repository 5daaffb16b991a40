"""INT8 ONNX vs PyTorch FP32 speed for the packaged pretrained models (docs/benchmarks.md).

For each model: a very short training run (the speed and the export fidelity do not depend on
how well it scores), ``distillery export`` (parity gate included) and ``distillery benchmark``
at the given context lengths. Heavy: run it alone on the machine, with ``nice``.

    python benchmarks/export_speed.py                                  # both models, 1 thread
    python benchmarks/export_speed.py --models minilm-l6 --threads 2
    python benchmarks/export_speed.py --export-dir exports/minilm      # benchmark an existing export

MiniLM has 512 positions, so it is measured at 128/256/512 tokens; SmolLM2 at 512/1024/2048.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

MODELS = {
    "minilm-l6": {"train": ["experiment=smoke", "data.n=400", "trainer.max_epochs=2", "context_strategy.max_tokens=256"],
                  "lengths": [128, 256, 512], "n": 16, "batch": 8},
    "smollm2-135m": {"train": ["data.n=200", "context_strategy.max_tokens=128", "trainer.max_epochs=1", "data.batch_size=8"],
                     "lengths": [512, 1024, 2048], "n": 4, "batch": 4},
}


def _run(cmd: list[str], env: dict) -> str:
    print("$", " ".join(cmd), flush=True)
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"failed ({out.returncode}):\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return out.stdout


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "distillery-export-speed")
    p.add_argument("--export-dir", type=Path, help="benchmark this export instead of training one")
    p.add_argument("--lengths", type=int, nargs="+")
    args = p.parse_args()
    exe = str(Path(sys.executable).with_name("distillery"))
    env = {**os.environ, "WANDB_MODE": "offline", "OMP_NUM_THREADS": str(args.threads),
           "DISTILLERY_OUTPUTS": str(args.work / "outputs")}
    exports = [(args.export_dir, MODELS["smollm2-135m"] | {"lengths": args.lengths or [512, 1024, 2048]})] if args.export_dir else []
    for name in [] if args.export_dir else args.models:
        spec = MODELS[name]
        out = _run([exe, "train", f"model={name}", "seed=0", "logger=none", *spec["train"]], env)
        run = out.strip().splitlines()[-1].removeprefix("run dir: ")
        parity = args.work / "parity64.jsonl"
        if not parity.exists():
            _run([exe, "synth-corpus", "--filter", "uplifting/v6", "--n", "64", "--seed", "1", "--out", str(parity)], env)
        exp = args.work / "exports" / name
        print(_run([exe, "export", run, "--out", str(exp), "--force", "--threads", str(args.threads),
                    "--parity-data", str(parity)], env))
        exports.append((exp, spec))
    for exp, spec in exports:
        _run([exe, "benchmark", str(exp), "--lengths", *map(str, args.lengths or spec["lengths"]), "--n", str(spec["n"]),
              "--batch-size", str(spec["batch"]), "--threads", str(args.threads)], env)
        print((exp / "benchmark.md").read_text())
        res = json.loads((exp / "benchmark.json").read_text())
        ratios = [f"{r['length']}: {r['speedup_vs_pytorch']:.2f}x" for r in res["rows"] if r["backend"] == "onnx-int8"]
        print(f"{exp.name}: INT8 ONNX vs PyTorch FP32 -> {', '.join(ratios)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

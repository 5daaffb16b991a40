"""Lightning DDP with 2 CPU processes (gloo) trains a tiny model through the real entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def test_ddp_two_cpu_processes(tmp_path):
    env = {**os.environ, "DISTILLERY_OUTPUTS": str(tmp_path), "WANDB_MODE": "offline", "CI": "1"}
    cmd = [
        sys.executable,
        "-m",
        "distillery.train",
        "experiment=smoke",
        "logger=csv",
        "seed=0",
        "data.n=160",
        "trainer=ddp",
        "trainer.accelerator=cpu",
        "trainer.devices=2",
        "trainer.precision=32-true",
        "trainer.max_epochs=1",
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=420)
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = list(tmp_path.glob("train/runs/*"))
    assert len(runs) == 1  # both ranks wrote into one run dir
    m = json.loads((runs[0] / "metrics.json").read_text())
    # 128 train articles / (batch 16 x 2 processes) = 4 optimizer steps per epoch
    assert m["global_step"] == 4 and m["val"]["mae"] > 0
    assert "strategy=ddp" in (runs[0] / "config.yaml").read_text().replace(": ", "=")
    assert (runs[0] / "checkpoint" / "head.safetensors").is_file()

"""The sweep adapter: ``<outputs>/train/multiruns/<time>_<id>/`` (Hydra multirun): multirun.yaml,
compare.{csv,md,png} (``distillery compare``), and the job dirs (each a training run dir)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from distillery.dashboard.common import (
    COMPARE_CSV,
    COMPARE_MD,
    COMPARE_PNG,
    MULTIRUN,
    OPTIMIZATION_RESULTS,
    Adapter,
    dig,
    dir_time,
    load_yaml,
    mtime_iso,
    paths_in,
)
from distillery.evaluate.compare import read_sweep
from distillery.rundir import RunDir


def sweep_claims(d: Path) -> bool:
    return (d / MULTIRUN).is_file() or d.parent.name == "multiruns"


def is_job(p: Path) -> bool:
    rd = RunDir(p)
    return p.is_dir() and (rd.exists(RunDir.METRICS, RunDir.ERROR, RunDir.CONFIG) or rd.hydra_dir.exists())


def job_dirs(d: Path) -> list[Path]:
    return sorted(p for p in d.iterdir() if is_job(p))


def sweep_watched(d: Path, prev: dict | None) -> list[Path]:
    out = paths_in(d, MULTIRUN, COMPARE_CSV, COMPARE_MD, OPTIMIZATION_RESULTS)
    out.append(d)  # a new job dir changes the sweep dir's mtime
    for j in job_dirs(d):
        out += [RunDir(j).metrics_file, RunDir(j).error_file]
    return out


def sweep_read(d: Path, prev: dict | None) -> dict[str, Any]:
    mr = load_yaml(d / MULTIRUN) or {}
    jobs: list[dict[str, Any]] = []
    baseline = None
    try:
        for j in read_sweep(d):
            jobs.append({"path": str(j.dir), "num": j.num, "variant": j.variant, "status": j.status})
    except Exception:  # noqa: BLE001 - no job dirs yet, or compare changed: list the dirs plainly
        for n, j in enumerate(job_dirs(d)):
            jobs.append({"path": str(j), "num": n, "variant": j.name.split("_", 1)[-1], "status": None})
    ok = [j for j in jobs if j["status"] == "ok"]
    if ok:
        baseline = ok[0]["path"]
    filt = dig(mr, "filter", "name")
    if not filt:
        for j in jobs:
            mm = RunDir(j["path"]).metrics()
            if mm and mm.get("filter"):
                filt = mm["filter"]
                break
    statuses = {j["status"] for j in jobs}
    return {
        "kind": "sweep",
        "name": d.name,
        "sweep_name": dig(mr, "hydra", "job", "config_name") or d.name,
        "params": dig(mr, "hydra", "sweeper", "params") or {},
        "started": dir_time(d) or mtime_iso(d),
        "status": "ok" if statuses == {"ok"} else ("failed" if "failed" in statuses else "incomplete"),
        "filter": filt,
        "jobs": jobs,
        "baseline": baseline,
        "wandb_group": dig(mr, "logger", "group"),
        "files": {
            k: str(d / f)
            for k, f in (("compare_md", COMPARE_MD), ("compare_csv", COMPARE_CSV), ("compare_png", COMPARE_PNG))
            if (d / f).is_file()
        },
    }


SWEEP = Adapter("sweep", 1, False, sweep_claims, sweep_watched, sweep_read)

"""The sweep adapter: ``<outputs>/train/multiruns/<time>_<id>/`` (Hydra multirun): multirun.yaml,
compare.{csv,md,png} (``distillery compare``), and the job dirs (each a training run dir).

A launch that failed (a bad override, a config that does not compose: Hydra writes multirun.yaml,
then fails before the first job dir) is a ``failed`` sweep, not a sweep of 0 jobs: with the last line
of ``<sweep dir>/error.log`` when the launcher left one, else saying that no job started. Right
after multirun.yaml is written (``LAUNCH_GRACE_S``) it is ``incomplete`` and re-read later
(``recheck_at``). A sweep of multi-head runs (``model.heads``) is listed under each of its filters,
its jobs pointing at that filter's head dirs.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from distillery.dashboard.common import (
    COMPARE_CSV,
    COMPARE_MD,
    COMPARE_PNG,
    LAUNCH_GRACE_S,
    MULTIRUN,
    OPTIMIZATION_RESULTS,
    Adapter,
    dig,
    dir_time,
    last_line,
    load_yaml,
    mtime_iso,
    paths_in,
)
from distillery.dashboard.runs import head_dirs
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
    out = paths_in(d, MULTIRUN, COMPARE_CSV, COMPARE_MD, OPTIMIZATION_RESULTS, RunDir.ERROR)
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
    row = {
        "kind": "sweep",
        "name": d.name,
        "sweep_name": dig(mr, "hydra", "job", "config_name") or d.name,
        "params": dig(mr, "hydra", "sweeper", "params") or {},
        "started": dir_time(d) or mtime_iso(d),
        "status": "ok" if statuses == {"ok"} else ("failed" if "failed" in statuses else "incomplete"),
        "error": None,
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
    if not jobs:
        row.update(launch_status(d))
    heads = head_dirs(d, mr, {})
    if heads:  # a sweep of multi-head runs: under each filter, its jobs are that filter's heads
        row.update(filter=None, filters=list(heads))
        row["per_filter"] = {
            ref: {"jobs": head_jobs(jobs, h.name), "baseline": head_path(baseline, h.name)} for ref, h in heads.items()
        }
    return row


def launch_status(d: Path) -> dict[str, Any]:
    """Status of a sweep without any job dir: failed (the launcher's error line, else "no job
    started") once ``LAUNCH_GRACE_S`` have passed since multirun.yaml was written, else starting."""
    err = d / RunDir.ERROR
    if err.is_file():
        return {"status": "failed", "error": last_line(err)}
    written = (d / MULTIRUN).stat().st_mtime if (d / MULTIRUN).is_file() else d.stat().st_mtime
    if time.time() < written + LAUNCH_GRACE_S:
        return {"status": "incomplete", "recheck_at": written + LAUNCH_GRACE_S}
    return {
        "status": "failed",
        "error": f"launch failed: no job started ({MULTIRUN} but no job dir; "
        "the reason was printed by the command that launched it)",
    }


def head_path(job: str | None, head: str) -> str | None:
    return str(Path(job) / RunDir.HEADS / head) if job else None


def head_jobs(jobs: list[dict[str, Any]], head: str) -> list[dict[str, Any]]:
    return [{**j, "path": head_path(j["path"], head)} for j in jobs]


# version 2: a failed launch is a failed sweep; multi-head sweeps are listed under each filter
SWEEP = Adapter("sweep", 2, False, sweep_claims, sweep_watched, sweep_read)

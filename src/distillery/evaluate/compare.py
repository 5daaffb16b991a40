"""``distillery compare <sweep dir>``: one table for a Hydra multirun (a sweep).

Reads every job dir of the sweep (``<num>_<override_dirname>/`` with ``metrics.json`` and
``config.yaml``; a failed job has ``error.log`` instead and is listed as a failed row) and writes,
into the sweep dir, ``compare.md`` (printed too), ``compare.csv`` and ``compare.png``:

  variant | val MAE | delta vs baseline (%) | val MAE per dimension | train s | inference ms/article

The *variant* is what sets a job apart: the overrides whose value differs between the sweep's
jobs (from ``.hydra/overrides.yaml``, else the dir name). The *baseline* is the first job whose
variant (or dir name) contains ``--baseline``; by default the sweep's first successful job.
Delta % = 100 * (val MAE - baseline val MAE) / baseline val MAE: negative is better.

A sweep over several filters (e.g. ``sweeps/cross_filter.yaml``: single-filter runs beside a
multi-head run, whose metrics.json has a ``filters`` block) gets, per filter, ``<filter> val MAE``
and ``<filter> Δ vs single`` (against the first job that trained that filter alone), and the
optimizer steps; per-dimension columns are then named ``<filter>:<dimension>/mae`` (compare.csv
only: too wide for compare.md). The plain
``val MAE`` of a multi-head job is the mean over its filters.
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

from distillery.errors import DistilleryError
from distillery.evaluate.compare_render import SEED_COLS, bar_chart, markdown, per_filter_rows, write_csv
from distillery.evaluate.stats import mean_ci, paired_bootstrap
from distillery.rundir import RunDir

_NUM = re.compile(r"^(\d+)_?(.*)$")
SEED_KEYS = frozenset({"seed", "+seed", "++seed"})  # the replicate, not a variant


def variant_of(overrides: list[str]) -> str:
    """A job's overrides without the seed: what sets its variant apart (``model=tiny-qwen2,loss=mse``)."""
    return ",".join(o for o in overrides if o.partition("=")[0] not in SEED_KEYS)


@dataclass
class Job:
    dir: Path
    num: int
    override_dirname: str
    overrides: list[str]
    status: str  # ok | failed | incomplete
    metrics: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    variant: str = ""

    @property
    def val(self) -> dict[str, Any]:
        return self.metrics.get("val", {}) if isinstance(self.metrics.get("val"), dict) else {}

    @property
    def val_mae(self) -> float | None:
        v = self.val.get("mae")
        return float(v) if isinstance(v, (int, float)) else None

    @property
    def filter_vals(self) -> dict[str, dict[str, Any]]:
        """filter ref -> val metrics: every head of a multi-head job, or the one filter of a single run."""
        heads = self.metrics.get("filters")
        if isinstance(heads, dict):
            return {
                str(r): b["val"] for r, b in heads.items() if isinstance(b, dict) and isinstance(b.get("val"), dict)
            }
        ref = self.metrics.get("filter") or (self.config.get("filter") or {}).get("name")
        return {str(ref): self.val} if ref and self.val else {}

    @property
    def seed(self) -> int | None:
        """The training seed: metrics.json's, else the config's, else a ``seed=`` override."""
        for v in (self.metrics.get("seed"), self.config.get("seed")):
            if isinstance(v, int):
                return v
        for o in self.overrides:
            k, _, v = o.partition("=")
            if k in SEED_KEYS and v.lstrip("-").isdigit():
                return int(v)
        return None

    def article_errors(self) -> dict[str, float] | None:
        """id -> mean absolute error over the dimensions on val, from ``predictions_val.jsonl``
        (written by every training run); None when the job has no such file."""
        f = RunDir(self.dir).split_predictions_file("val")
        if not f.is_file():
            return None
        out: dict[str, float] = {}
        for line in f.read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                labels, scores = r.get("labels") or {}, r.get("scores") or {}
                errs = [abs(float(scores[d]) - float(v)) for d, v in labels.items() if d in scores]
                if errs:
                    out[str(r.get("id"))] = sum(errs) / len(errs)
        return out or None

    @property
    def inference_ms(self) -> float | None:
        v = self.metrics.get("inference_ms_per_article", self.val.get("inference_ms_per_article"))
        return float(v) if isinstance(v, (int, float)) else None


def _is_job_dir(p: Path) -> bool:
    return p.is_dir() and any((p / f).exists() for f in ("metrics.json", "error.log", "config.yaml", ".hydra"))


def _overrides_of(d: Path, dirname: str) -> list[str]:
    f = d / ".hydra" / "overrides.yaml"
    if f.is_file():
        import yaml

        data = yaml.safe_load(f.read_text(encoding="utf-8")) or []
        if isinstance(data, list):
            return [str(x) for x in data]
    # the dir name is key=value pairs joined by ',' (values may hold commas: keep those attached)
    out: list[str] = []
    for part in dirname.split(","):
        if "=" in part or not out:
            out.append(part)
        else:
            out[-1] += "," + part
    return [o for o in out if o]


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "error"


def read_sweep(sweep_dir: Path) -> list[Job]:
    """The sweep's jobs, by job number. Raises if ``sweep_dir`` holds no job dirs."""
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise DistilleryError(
            f"{sweep_dir}: no such folder (give a multirun dir, e.g. outputs/train/multiruns/<time>_<id>)"
        )
    jobs: list[Job] = []
    for d in sorted(p for p in sweep_dir.iterdir() if _is_job_dir(p)):
        m = _NUM.match(d.name)
        num, dirname = (int(m.group(1)), m.group(2)) if m else (10**9, d.name)
        job = Job(dir=d, num=num, override_dirname=dirname, overrides=_overrides_of(d, dirname), status="incomplete")
        if (d / "metrics.json").is_file():
            try:
                job.metrics = json.loads((d / "metrics.json").read_text(encoding="utf-8"))
                job.status = "ok" if job.val_mae is not None else "incomplete"
            except json.JSONDecodeError as e:
                job.status, job.error = "failed", f"unreadable metrics.json ({e.msg})"
        if (d / "error.log").is_file() and job.status != "ok":
            job.status, job.error = (
                "failed",
                _last_line((d / "error.log").read_text(encoding="utf-8", errors="replace")),
            )
        if (d / "config.yaml").is_file():
            import yaml

            job.config = yaml.safe_load((d / "config.yaml").read_text(encoding="utf-8")) or {}
        jobs.append(job)
    if not jobs:
        raise DistilleryError(
            f"{sweep_dir}: no job dirs (expected <num>_<overrides>/ folders with metrics.json or error.log)"
        )
    jobs.sort(key=lambda j: (j.num, j.dir.name))
    _name_variants(jobs)
    return jobs


def _name_variants(jobs: list[Job]) -> None:
    """variant = the overrides whose key some job lacks or whose value differs across jobs
    (all of a job's overrides when nothing differs, e.g. a lone job)."""
    values: dict[str, set[str]] = {}
    present: dict[str, int] = {}
    kept = {id(j): [o for o in j.overrides if o.partition("=")[0] not in SEED_KEYS] for j in jobs}
    for j in jobs:
        for k in {o.partition("=")[0] for o in kept[id(j)]}:
            present[k] = present.get(k, 0) + 1
        for o in kept[id(j)]:
            k, _, v = o.partition("=")
            values.setdefault(k, set()).add(v)
    seeded = any(o.partition("=")[0] in SEED_KEYS for j in jobs for o in j.overrides)
    for j in jobs:
        own = kept[id(j)]
        differing = [o for o in own if len(values[o.partition("=")[0]]) > 1 or present[o.partition("=")[0]] < len(jobs)]
        j.variant = (
            ",".join(map(_short, differing))
            or ",".join(map(_short, own))
            or ("default" if seeded else j.override_dirname or j.dir.name)
        )


def _short(override: str) -> str:
    """``optim.lr=0.0002288113668475521`` -> ``optim.lr=0.0002288`` (Optuna's floats, for reading)."""
    k, sep, v = override.partition("=")
    try:
        f = float(v)
    except ValueError:
        return override
    return f"{k}{sep}{f:.4g}" if len(v) > 8 and "." in v else override


def dimension_names(jobs: list[Job]) -> list[str]:
    names: list[str] = []
    for j in jobs:
        for k in j.val:
            if k.endswith("/mae") and k[:-4] not in names:
                names.append(k[:-4])
    return names


def filter_refs(jobs: list[Job]) -> list[str]:
    """The filters the sweep's successful jobs trained, in order of appearance."""
    refs: list[str] = []
    for j in jobs:
        refs += [r for r in (j.filter_vals if j.status == "ok" else {}) if r not in refs]
    return refs


def _dims_by_filter(jobs: list[Job], refs: list[str]) -> list[tuple[str, str]]:
    """(filter, dimension) pairs of a multi-filter sweep, in order of appearance."""
    out: list[tuple[str, str]] = []
    for j in jobs:
        for ref, val in j.filter_vals.items():
            out += [(ref, k[:-4]) for k in val if k.endswith("/mae") and (ref, k[:-4]) not in out]
    return [x for x in out if x[0] in refs]


def pick_baseline(jobs: list[Job], baseline: str | None) -> Job | None:
    ok = [j for j in jobs if j.status == "ok"]
    if baseline is None:
        return ok[0] if ok else None
    for j in ok:
        if baseline in j.variant or baseline in j.dir.name:
            return j
    raise DistilleryError(
        f"--baseline {baseline!r} matches no successful job (variants: {', '.join(j.variant for j in jobs)})"
    )


def table(jobs: list[Job], baseline: Job | None) -> tuple[list[str], list[dict[str, Any]]]:
    """(column names, rows) of the comparison, one row per variant: every number is the mean over the
    variant's successful seeds; ``val_mae_ci`` is the half-width of its 95% t interval over seeds, and
    ``delta_ci_*_pct`` the paired bootstrap interval of Δ vs the baseline variant
    (:func:`distillery.evaluate.stats.paired_bootstrap`, paired by article and seed)."""
    cols, job_rows = job_table(jobs, baseline)
    cols = [*cols[:5], *SEED_COLS, *cols[5:]]
    groups: dict[str, list[int]] = {}
    for i, j in enumerate(jobs):
        groups.setdefault(j.variant, []).append(i)
    base_jobs = [jobs[i] for i in groups[baseline.variant]] if baseline is not None else []
    rows = []
    for variant, idx in groups.items():
        members = [jobs[i] for i in idx]
        ok = [i for i in idx if jobs[i].status == "ok"]
        row: dict[str, Any] = {c: None for c in cols}
        for c in cols:
            vals = [job_rows[i].get(c) for i in ok if isinstance(job_rows[i].get(c), (int, float))]
            row[c] = sum(vals) / len(vals) if vals else None
        is_base = baseline is not None and variant == baseline.variant
        row.update(
            job=" ".join(j.dir.name for j in members),
            variant=variant + (" (baseline)" if is_base else ""),
            status="ok" if len(ok) == len(idx) else ("failed" if not ok else f"{len(ok)}/{len(idx)} ok"),
            seeds=len(ok),
            error="; ".join(dict.fromkeys(j.error for j in members if j.error)),
        )
        mean, half = mean_ci(jobs[i].val_mae for i in ok)
        row["val_mae"], row["val_mae_ci"] = (mean, half) if ok else (None, None)
        base = mean_ci(j.val_mae for j in base_jobs if j.status == "ok")[0] if base_jobs else None
        row["delta_vs_baseline_pct"] = 100.0 * (mean - base) / base if ok and base else None
        if ok and base and not is_base:
            delta = seed_delta([jobs[i] for i in ok], [j for j in base_jobs if j.status == "ok"])
            if delta is not None:
                row.update(
                    delta_ci_low_pct=delta.low,
                    delta_ci_high_pct=delta.high,
                    distinguishable="yes" if delta.distinguishable else "no",
                    delta_noise=delta.noise,
                )
        rows.append(row)
    return cols, rows


def seed_delta(variant: list[Job], baseline: list[Job]) -> Any:
    """The paired bootstrap Δ% (variant vs baseline) over their common seeds (by position when the
    jobs record no seed), paired by article id when every job wrote ``predictions_val.jsonl``,
    else by seed alone on val MAE; None when nothing can be paired or there is no noise to resample
    (one seed, no per-article predictions)."""
    import numpy as np

    by_seed_v = {j.seed: j for j in variant}
    by_seed_b = {j.seed: j for j in baseline}
    if None in by_seed_v or None in by_seed_b:
        pairs = list(zip(variant, baseline))
    else:
        pairs = [(by_seed_v[s], by_seed_b[s]) for s in sorted(set(by_seed_v) & set(by_seed_b))]
    if not pairs:
        return None
    errs = [(v.article_errors(), b.article_errors()) for v, b in pairs]
    if all(ev and eb for ev, eb in errs):
        common = set.intersection(*(set(ev) & set(eb) for ev, eb in errs))
        ids = [i for i in errs[0][1] if i in common]  # the baseline's file order (deterministic)
        if ids:
            var = np.array([[ev[i] for i in ids] for ev, _ in errs])
            base = np.array([[eb[i] for i in ids] for _, eb in errs])
            return paired_bootstrap(var - base, base)
    if len(pairs) < 2:
        return None
    var = np.array([[v.val_mae] for v, _ in pairs])
    base = np.array([[b.val_mae] for _, b in pairs])
    return paired_bootstrap(var - base, base)


def job_table(jobs: list[Job], baseline: Job | None) -> tuple[list[str], list[dict[str, Any]]]:
    """(column names, rows) with one row per job; numbers are floats/None, failed rows mostly None."""
    refs = filter_refs(jobs)
    multi = len(refs) > 1  # several filters: per-filter columns, dimensions named by filter
    dims = [f"{r}:{d}" for r, d in _dims_by_filter(jobs, refs)] if multi else dimension_names(jobs)
    per_filter = [c for r in refs for c in (f"{r}/val_mae", f"{r}/delta_vs_single_pct")] if multi else []
    cols = [
        "job",
        "variant",
        "status",
        "val_mae",
        "delta_vs_baseline_pct",
        *per_filter,
        *[f"{d}/mae" for d in dims],
        *(["global_step"] if multi else []),
        "train_seconds",
        "inference_ms_per_article",
        "error",
    ]
    base = baseline.val_mae if baseline is not None else None
    single = {r: next((j for j in jobs if j.status == "ok" and list(j.filter_vals) == [r]), None) for r in refs}
    rows = []
    for j in jobs:
        mae = j.val_mae
        row: dict[str, Any] = {c: None for c in cols}
        row.update(
            job=j.dir.name,
            variant=j.variant + (" (baseline)" if j is baseline else ""),
            status=j.status,
            val_mae=mae,
            error=j.error,
        )
        if mae is not None and base:
            row["delta_vs_baseline_pct"] = 100.0 * (mae - base) / base
        for d in dims:
            ref, _, dim = d.rpartition(":") if multi else ("", "", d)
            v = (j.filter_vals.get(ref, {}) if multi else j.val).get(f"{dim}/mae")
            row[f"{d}/mae"] = float(v) if isinstance(v, (int, float)) else None
        for r in refs if multi else []:
            v = j.filter_vals.get(r, {}).get("mae")
            row[f"{r}/val_mae"] = float(v) if isinstance(v, (int, float)) else None
            ref_mae = single[r].filter_vals[r].get("mae") if single[r] is not None else None
            if row[f"{r}/val_mae"] is not None and ref_mae and single[r] is not j:
                row[f"{r}/delta_vs_single_pct"] = 100.0 * (row[f"{r}/val_mae"] - ref_mae) / ref_mae
        if multi:
            gs = j.metrics.get("global_step")
            row["global_step"] = int(gs) if isinstance(gs, (int, float)) else None
        ts = j.metrics.get("train_seconds")
        row["train_seconds"] = float(ts) if isinstance(ts, (int, float)) else None
        row["inference_ms_per_article"] = j.inference_ms
        rows.append(row)
    return cols, rows


def compare(
    sweep_dir: Path,
    baseline: str | None = None,
    write: bool = True,
    quiet: bool = False,
    agreement: str | None = None,
) -> list[dict[str, Any]]:
    """Build the comparison of a sweep dir, write compare.{md,csv,png} into it, return the rows.
    With an oracle agreement (``agreement``, or an agreement.json beside the jobs' data), a line
    under the table sets the best val MAE against the inter-oracle floor."""
    sweep_dir = Path(sweep_dir)
    jobs = read_sweep(sweep_dir)
    base = pick_baseline(jobs, baseline)
    cols, rows = table(jobs, base)
    n_ok = sum(j.status == "ok" for j in jobs)
    group = next(
        (
            str(j.config["logger"]["group"])
            for j in jobs
            if isinstance(j.config.get("logger"), dict)
            and str(j.config["logger"].get("group", "")).startswith("sweep_")
        ),
        "",
    )
    name = f"{group} ({sweep_dir.name})" if group else sweep_dir.name
    n_var = len({j.variant for j in jobs})
    per = f" ({n_var} variants x seeds)" if n_var < len(jobs) else ""
    title = f"{name}: {n_ok}/{len(jobs)} jobs ok{per}" + (f", baseline {base.variant}" if base else "")
    md = markdown(cols, rows, title)
    md += _floor(jobs, rows, agreement)
    if not quiet:
        print(md)
    if write:
        (sweep_dir / "compare.md").write_text(md, encoding="utf-8")
        write_csv(sweep_dir / "compare.csv", cols, rows)
        write_csv(sweep_dir / "compare_jobs.csv", *job_table(jobs, base))
        bar_chart(per_filter_rows(cols, rows) or rows, sweep_dir / "compare.png", title=name)
        if not quiet:
            print(f"written: {sweep_dir / 'compare.md'}, compare.csv (per variant), compare_jobs.csv, compare.png")
    return rows


def _floor(jobs: list[Job], rows: list[dict[str, Any]], agreement: str | None) -> str:
    from distillery.evaluate.floor import floor_line, load_agreement

    data = [(j.config.get("data") or {}).get("path") for j in jobs if isinstance(j.config.get("data"), dict)]
    refs = {j.metrics.get("filter") for j in jobs if j.metrics.get("filter")}
    found = load_agreement(agreement, data, next(iter(refs)) if len(refs) == 1 else None)
    best = min((r["val_mae"] for r in rows if r.get("val_mae") is not None), default=None)
    line = floor_line(best, found, "best val MAE") if best is not None else None
    return f"\n{line}\n" if line else ""


class compare_cmd:
    @staticmethod
    def add_arguments(p: argparse.ArgumentParser) -> None:
        p.add_argument("sweep_dir", type=Path, help="a Hydra multirun dir, e.g. outputs/train/multiruns/<time>_<id>")
        p.add_argument(
            "--baseline",
            default=None,
            help="substring of the baseline job's variant or dir name (default: the first successful job)",
        )
        p.add_argument("--no-write", action="store_true", help="print only; don't write compare.{md,csv,png}")
        from distillery.evaluate.floor import add_agreement_argument

        add_agreement_argument(p)

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        compare(args.sweep_dir, args.baseline, write=not args.no_write, agreement=args.agreement)
        return 0


class CompareCallback(Callback):
    """Hydra callback (``hydra.callbacks``, set in every sweep file): compare the sweep when a
    multirun ends. Never fails the sweep: a problem is printed as a warning."""

    def __init__(self, baseline: str | None = None):
        self.baseline = baseline

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        try:
            compare(sweep_dir, self.baseline)
        except Exception as e:  # noqa: BLE001 - a report, never a dead sweep
            print(f"warning: could not compare {sweep_dir}: {e}")

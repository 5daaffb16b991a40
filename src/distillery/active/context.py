"""What every step of an active-learning round works with: the options, the round dir ``OUT`` and
its ``state.json``, and the training run being improved (config, filter, model, labelled splits)."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from distillery.errors import DistilleryError
from distillery.evaluate.evaluation import load_calibration
from distillery.evaluate.predict import artifact_dir, load_predictor
from distillery.filters.registry import load_filter
from distillery.filters.spec import FilterSpec, parse_spec
from distillery.oracle.config import OracleConfig, Prices
from distillery.oracle.options import OracleOptions
from distillery.oracle.run import ScoreOptions
from distillery.paths import cache_dir
from distillery.rundir import RunDir, write_json

STEPS = ("predict", "select", "label", "merge", "retrain", "report")
STATE = "state.json"
SPLITS = ("train", "val", "test")
OUTPUTS = {  # each step's output in the round dir: a finished step whose output is gone runs again
    "predict": "pool_predictions.jsonl",
    "select": "candidates.jsonl",
    "label": "labelled.jsonl",
    "merge": "data/train.jsonl",
    "retrain": f"retrain/{RunDir.CHECKPOINT}/{RunDir.CHECKPOINT_META}",
    "report": "report.json",
}


@dataclass
class ActiveOptions:
    run_dir: Path
    pool: Path
    out: Path
    threshold: float = 5.0
    uncertain_top: int | None = None
    select: str | None = None  # None: "threshold", or "both" when uncertain_top is given
    budget: int | None = None
    yes: bool = False
    dry_run: bool = False  # predict + select + the cost estimate, nothing sent
    redo: str | None = None  # redo this step and the ones after it
    allow_missing: bool = False  # go on when some candidates have no answer yet
    oracle: OracleOptions = field(default_factory=OracleOptions)  # as for `distillery score` (max cost, ledger)
    filters_dir: list[str] = field(default_factory=list)
    # retraining and inference
    train_overrides: list[str] = field(default_factory=list)
    batch_size: int | None = None
    threads: int | None = None
    quiet: bool = False

    @property
    def mode(self) -> str:
        return self.select or ("both" if self.uncertain_top is not None else "threshold")


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class State:
    """``OUT/state.json``: which steps finished, with the options they ran with and a summary."""

    def __init__(self, out: Path):
        self.path = out / STATE
        self.data: dict[str, Any] = (
            json.loads(self.path.read_text()) if self.path.is_file() else {"format": 1, "steps": {}}
        )

    def step(self, name: str) -> dict | None:
        return self.data["steps"].get(name)

    def finish(self, name: str, options: dict, summary: dict) -> None:
        self.data["steps"][name] = {
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "options": options,
            "summary": summary,
        }
        write_json(self.path, self.data)

    def drop_from(self, name: str) -> None:
        for s in STEPS[STEPS.index(name) :]:
            self.data["steps"].pop(s, None)
        if self.path.parent.is_dir():
            write_json(self.path, self.data)


class RoundContext:
    """The round's options, folder and state, and the run being improved (loaded on first use)."""

    def __init__(self, opts: ActiveOptions):
        self.opts = opts
        self.run_dir = RunDir(opts.run_dir)
        self.out = Path(opts.out)
        self.state = State(self.out)
        self.pool_sha: str | None = None
        self._predictor: Any = None
        self._run_cfg: dict | None = None
        self._spec: FilterSpec | None = None

    def say(self, msg: str) -> None:
        if not self.opts.quiet:
            print(msg, flush=True)

    def outputs(self, step: str) -> Path:
        return self.out / OUTPUTS[step]

    @property
    def data_dir(self) -> Path:
        """The merged splits (``train/val/test.jsonl``) the retrain trains on."""
        return self.out / "data"

    @property
    def retrain_dir(self) -> Path:
        """The retrained model's run dir."""
        return self.out / "retrain"

    # ---- the run being improved ---------------------------------------------------------------
    @property
    def run_cfg(self) -> dict:
        if self._run_cfg is None:
            rd = self.run_dir
            if not rd.config_file.is_file() or not (rd.checkpoint / RunDir.CHECKPOINT_META).is_file():
                raise DistilleryError(
                    f"{rd.path}: not a finished training run dir (needs {RunDir.CONFIG} and {RunDir.CHECKPOINT}/)"
                )
            self._run_cfg = OmegaConf.to_container(OmegaConf.load(rd.config_file), resolve=False)
        return self._run_cfg

    @property
    def predictor(self) -> Any:
        if self._predictor is None:
            self._predictor = load_predictor(
                self.run_dir.path, batch_size=self.opts.batch_size, threads=self.opts.threads
            )
        return self._predictor

    @property
    def filter_dirs(self) -> list[str]:
        return [*self.opts.filters_dir, *(self.run_cfg.get("filters_dirs") or [])]

    @property
    def spec(self) -> FilterSpec:
        """The filter as the oracle sees it (prompt, prefilter): the run's filter from the filters dirs;
        it must have the checkpoint's dimensions."""
        if self._spec is None:
            ckpt_filter = self.run_dir.checkpoint / RunDir.FILTER
            ckpt = parse_spec(ckpt_filter)
            try:
                spec = load_filter(ckpt.ref, self.filter_dirs)
            except DistilleryError as e:
                raise DistilleryError(f"the run's filter {ckpt.ref}: {e} (add --filters-dir)") from None
            if spec.dimension_names != ckpt.dimension_names or spec.weights.tolist() != ckpt.weights.tolist():
                raise DistilleryError(
                    f"filter {spec.ref} at {spec.path} differs from the one the run trained with "
                    f"({ckpt_filter}): dimensions or weights changed"
                )
            self._spec = spec
        return self._spec

    def old_splits(self) -> dict[str, list[dict]]:
        """The run's labelled train/val/test, loaded the way the run loaded them."""
        from distillery.data.datamodule import load_split_records  # imports torch and lightning

        data = self.run_cfg.get("data")
        if not data:
            raise DistilleryError(f"{self.run_dir.config_file}: no data config recorded")
        cache = (self.run_cfg.get("paths") or {}).get("cache_dir")
        cache_path = Path(str(cache)) if cache and "${" not in str(cache) else cache_dir()
        splits, _ = load_split_records(OmegaConf.create(data), self.spec, cache_path)
        return {s: list(splits.get(s) or []) for s in SPLITS}

    def confidence_or_error(self) -> Any:
        _, conf = load_calibration(artifact_dir(self.run_dir.path), self.spec)
        if conf is None:
            raise DistilleryError(
                f"--select {self.opts.mode} needs the run's conformal confidence: run "
                f"`distillery calibrate {self.run_dir.path}` first (writes {RunDir.CONFIDENCE})"
            )
        return conf

    # ---- the oracle -----------------------------------------------------------------------------
    def oracle_config(self) -> tuple[OracleConfig, Prices]:
        return self.opts.oracle.resolve()

    @property
    def oracle_out(self) -> Path:
        return self.out / "oracle"

    @property
    def ledger_path(self) -> Path:
        ledger = self.opts.oracle.ledger
        return Path(ledger) if ledger else self.oracle_out / "ledger.jsonl"

    def score_options(self) -> ScoreOptions:
        """``distillery score`` on the candidates, into ``OUT/oracle/`` (the ledger: ``--ledger`` or there)."""
        return ScoreOptions(
            filter=self.spec.ref,
            filters_dir=self.filter_dirs,
            inputs=[str(self.outputs("select"))],
            out=str(self.oracle_out),
            oracle=self.opts.oracle,
            quiet=self.opts.quiet,
        )

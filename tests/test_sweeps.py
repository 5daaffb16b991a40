"""Sweep files (sweeps/*.yaml): each composes with the real config tree, every swept value is a
valid override, and a 2-job multirun of tiny models finishes with rows that `compare` reads."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from distillery.train.sweeps import list_sweeps, resolve_sweep, sweeps_dir

SWEEPS = sorted(p.stem for p in sweeps_dir().glob("*.yaml"))
HAS_OPTUNA = importlib.util.find_spec("hydra_plugins.hydra_optuna_sweeper") is not None


def compose_sweep(name: str, overrides: list[str] | None = None):
    """A sweep file composed as `distillery sweep NAME` does: the sweep file as the primary
    config, with both sweeps/ and conf/ on the search path."""
    from hydra import compose, initialize_config_dir

    from distillery.config import register_resolvers
    from distillery.paths import conf_dir

    register_resolvers()
    config_dir, config_name = resolve_sweep(name)
    with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
        return compose(
            config_name=config_name,
            return_hydra_config=True,
            overrides=[f"hydra.searchpath=[file://{conf_dir()}]", *(overrides or [])],
        )


def test_the_sweeps_are_shipped():
    assert SWEEPS == ["base_model", "context_length", "cross_filter", "embedding_vs_finetune", "hparams", "loss"]
    assert set(list_sweeps()) == set(SWEEPS)
    assert (Path(__file__).resolve().parents[1] / "sweeps").is_dir()


@pytest.mark.parametrize("name", [s for s in SWEEPS if s != "hparams"])
def test_basic_sweep_composes_and_every_value_is_a_valid_override(name):
    from conftest import compose

    cfg = compose_sweep(name)
    assert cfg.logger.group == f"sweep_{name}"
    assert "BasicSweeper" in cfg.hydra.sweeper._target_
    assert cfg.hydra.callbacks.compare._target_ == "distillery.evaluate.compare.CompareCallback"
    assert cfg.hydra.sweep.dir.startswith(str(cfg.paths.output_dir) + "/train/multiruns/")
    params = dict(cfg.hydra.sweeper.params)
    assert params
    # the sweep file adds only the sweep: apart from logger.group it is the training config
    base = compose()
    assert {k: v for k, v in cfg.items() if k not in ("hydra", "logger")} == {
        k: v for k, v in base.items() if k not in ("hydra", "logger")
    }
    from distillery.paths import conf_dir

    groups = {k: str(v).split(",") for k, v in params.items() if (conf_dir() / k).is_dir()}
    for key, values in params.items():
        if key in groups:  # a config group: every swept option is a file of the group
            missing = [v for v in str(values).split(",") if not (conf_dir() / key / f"{v}.yaml").is_file()]
            assert not missing, f"{name}: {key} options {missing} are not in conf/{key}/"
    # a value override composes with every swept option of the other keys (fails loudly on a bad key)
    values_swept = {k: str(v).split(",") for k, v in params.items() if k not in groups}
    for key, values in values_swept.items():
        for g, options in groups.items():
            for option in options:
                assert compose([f"{g}={option}", f"{key}={values[-1]}"]) is not None


def test_sweep_values():
    assert (
        compose_sweep("context_length").hydra.sweeper.params.context_strategy
        == "trunc512,trunc1024,trunc2048,head_tail"
    )
    loss = compose_sweep("loss").hydra.sweeper.params
    assert loss["loss"] == "hybrid_pairwise,hybrid_triplet,hybrid_listmle" and loss["loss.lambda_"] == "0.0,0.1,0.2,0.3"
    assert compose_sweep("base_model").hydra.sweeper.params.model == "tiny-qwen2,tiny-phi,tiny-gemma3,minilm-l6"


@pytest.mark.skipif(not HAS_OPTUNA, reason="hydra-optuna-sweeper is not installed (pip install hydra-optuna-sweeper)")
def test_optuna_sweep_composes(tmp_path):
    cfg = compose_sweep("hparams")
    sw = cfg.hydra.sweeper
    assert "OptunaSweeper" in sw._target_ and sw.direction == "minimize"
    assert sw.storage == f"sqlite:///{cfg.paths.output_dir}/optuna/hparams.db"
    assert sw.study_name == "hparams_tiny-qwen2"
    assert set(sw.params) == {"optim.lr", "model.lora.r", "loss.lambda_"}
    assert cfg.loss.name == "hybrid_pairwise" and cfg.logger.group == "sweep_hparams"
    assert list(cfg.hydra.callbacks.make_dirs.dirs) == [f"{cfg.paths.output_dir}/optuna"]


def test_unknown_sweep_names_the_shipped_ones(capsys):
    from distillery.cli import main

    assert main(["sweep", "nope"]) == 2
    err = capsys.readouterr().err
    assert "no sweep 'nope'" in err and "context_length" in err
    assert main(["sweep"]) == 0
    assert "context_length" in capsys.readouterr().out


def _sweep_dir(outputs: Path) -> Path:
    sweep_dirs = list((outputs / "train" / "multiruns").iterdir())
    assert len(sweep_dirs) == 1
    return sweep_dirs[0]


def test_sweep_verb_runs_a_multirun_and_compares_it(_outputs_in_tmp: Path, monkeypatch, capsys):
    """The whole path (verb -> sweep file -> Hydra multirun -> task -> job dirs -> compare callback)
    with the training itself replaced by a stub (seconds); head_tail's job fails on purpose."""
    import json

    from omegaconf import OmegaConf

    from distillery.cli import main
    from distillery.evaluate.compare import read_sweep
    from distillery.train import task as task_module

    def fake_training(cfg, run_dir: Path) -> dict:
        run_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(cfg, run_dir / "config.yaml", resolve=True)
        if cfg.context_strategy.name == "head_tail":
            raise RuntimeError("stub failure")
        mae = {"trunc512": 0.68, "trunc1024": 0.652}[cfg.context_strategy.name] + 0.01 * cfg.seed
        metrics = {
            "seed": cfg.seed,
            "train_seconds": 1.0,
            "val": {"mae": mae, "mean_baseline_mae": 1.0, "mae_vs_baseline": mae},
        }
        (run_dir / "metrics.json").write_text(json.dumps(metrics))
        return metrics

    monkeypatch.setattr(task_module, "run_training", fake_training)
    args = ["sweep", "context_length", "logger=none", "context_strategy=trunc512,trunc1024,head_tail", "seeds=2"]
    assert main(args) == 0
    sweep = _sweep_dir(_outputs_in_tmp)
    jobs = read_sweep(sweep)  # every variant on seeds 0 and 1 (seeds=2 -> seed=range(0,2))
    assert sorted((j.variant, j.seed, j.status) for j in jobs) == [
        ("context_strategy=head_tail", 0, "failed"),
        ("context_strategy=head_tail", 1, "failed"),
        ("context_strategy=trunc1024", 0, "ok"),
        ("context_strategy=trunc1024", 1, "ok"),
        ("context_strategy=trunc512", 0, "ok"),
        ("context_strategy=trunc512", 1, "ok"),
    ]
    assert {j.error for j in jobs if j.status == "failed"} == {"RuntimeError: stub failure"}
    assert all(j.config["logger"]["group"] == "sweep_context_length" for j in jobs)
    md = (sweep / "compare.md").read_text()  # written by the sweep's compare callback
    assert md.startswith(
        f"# sweep_context_length ({sweep.name}): 4/6 jobs ok (3 variants x seeds), baseline context_strategy=trunc512"
    )
    # mean of 0.652 and 0.662, t interval over 2 seeds (12.706 * 0.00707), -4.1% vs (0.68 + 0.69) / 2
    assert "| context_strategy=trunc1024 | ok | **0.657 ± 0.064** | -4.1% | 2 |" in md
    assert "compare.md" in capsys.readouterr().out


def test_two_job_multirun_of_tiny_models_is_compared(_outputs_in_tmp: Path, capsys):
    """Real tiny trainings, two jobs of one Hydra multirun, read back by compare."""
    from distillery.cli import main
    from distillery.evaluate.compare import read_sweep

    code = main(
        [
            "sweep",
            "context_length",
            "experiment=smoke",
            "logger=none",
            "seed=0",
            "test=false",
            "context_strategy=trunc512,head_tail",
            "data.n=40",
            "context_strategy.max_tokens=64",
            "context_strategy.head=32",
        ]
    )
    assert code == 0
    sweep = _sweep_dir(_outputs_in_tmp)
    jobs = read_sweep(sweep)
    assert [j.status for j in jobs] == ["ok", "ok"]
    assert [j.variant for j in jobs] == ["context_strategy=trunc512", "context_strategy=head_tail"]
    assert all(j.config["logger"]["group"] == "sweep_context_length" for j in jobs)
    assert all(0 < j.val_mae < 10 and j.metrics["train_seconds"] > 0 for j in jobs)
    md = (sweep / "compare.md").read_text()  # the sweep's compare callback ran when the multirun ended
    assert "2/2 jobs ok, baseline context_strategy=trunc512" in md and (sweep / "compare.csv").is_file()
    assert "context_strategy=head_tail" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.skipif(not HAS_OPTUNA, reason="hydra-optuna-sweeper is not installed (pip install hydra-optuna-sweeper)")
def test_optuna_sweep_resumes_its_sqlite_study(_outputs_in_tmp: Path, monkeypatch):
    """Two invocations of the hparams sweep add up in one SQLite study (training stubbed; slow only
    because importing optuna takes ~5-10 s here). Needs SQLAlchemy < 2 with optuna 2.10 (docs/sweeps.md)."""
    import json

    optuna = pytest.importorskip("optuna")
    from omegaconf import OmegaConf

    from distillery.cli import main
    from distillery.train import task as task_module

    def fake_training(cfg, run_dir: Path) -> dict:
        run_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(cfg, run_dir / "config.yaml", resolve=True)
        mae = abs(float(cfg.optim.lr) - 1e-4) * 100 + float(cfg.loss.lambda_)
        metrics = {"train_seconds": 1.0, "val": {"mae": mae, "mean_baseline_mae": 1.0, "mae_vs_baseline": mae}}
        (run_dir / "metrics.json").write_text(json.dumps(metrics))
        return metrics

    monkeypatch.setattr(task_module, "run_training", fake_training)
    assert main(["sweep", "hparams", "logger=none", "hydra.sweeper.n_trials=2"]) == 0
    assert main(["sweep", "hparams", "logger=none", "hydra.sweeper.n_trials=1"]) == 0
    db = _outputs_in_tmp / "optuna" / "hparams.db"
    study = optuna.load_study(study_name="hparams_tiny-qwen2", storage=f"sqlite:///{db}")
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 3
    assert set(study.best_params) == {"optim.lr", "model.lora.r", "loss.lambda_"}

"""The Hydra config tree: every option composes, required keys are named, run dirs are unique."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from conftest import compose
from distillery.config import check_required
from distillery.errors import DistilleryError
from distillery.paths import conf_dir

GROUPS = ["model", "context_strategy", "loss", "data", "trainer", "logger", "callbacks", "paths", "debug", "experiment"]


def _options(group: str) -> list[str]:
    root = conf_dir() / group
    return sorted(str(p.relative_to(root).with_suffix("")) for p in root.rglob("*.yaml") if not p.name.startswith("_"))


def _job(cfg):
    """The job's config without the hydra node (as the task function receives it)."""
    return OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])


def test_groups_exist_and_ship():
    for g in GROUPS + ["filter", "hydra"]:
        assert (conf_dir() / g).is_dir(), g
    assert "uplifting/v6" in _options("filter")


@pytest.mark.parametrize("group,option", [(g, o) for g in GROUPS + ["filter"] for o in _options(g)])
def test_every_option_composes(group, option):
    overrides = [f"{group}={option}"]
    if group == "data" and option == "jsonl":
        overrides.append("data.path=/some/labelled.jsonl")
    if group == "data" and option == "jsonl_heads":  # a multi-head run's per-filter labelled sets
        overrides.append("data.paths={uplifting/v6:/a.jsonl,belonging/v1:/b.jsonl}")
    cfg = _job(compose(overrides))
    check_required(cfg)
    container = OmegaConf.to_container(cfg, resolve=True)  # every interpolation resolves
    assert container["filter"]["name"]
    assert container["model"]["name"] and container["context_strategy"]["kind"]


def test_required_key_named_at_composition():
    cfg = _job(compose(["data=jsonl"]))
    with pytest.raises(DistilleryError, match=r"required config key\(s\) not set: data\.path"):
        check_required(cfg)


def test_run_dirs_distinct_in_the_same_second():
    a = compose(["seed=0"]).hydra.run.dir
    b = compose(["seed=0"]).hydra.run.dir
    assert a != b and a.rsplit("_", 1)[0][:-2] == b.rsplit("_", 1)[0][:-2]  # same timestamp prefix, new suffix


def test_seed_zero_is_kept():
    assert compose(["seed=0"]).seed == 0
    assert compose([]).seed is None


def test_slurm_launcher_composes():
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    cfg = compose(["hydra/launcher=slurm", "trainer=ddp"])
    assert cfg.hydra.launcher._target_.endswith("SlurmLauncher") and cfg.hydra.launcher.gpus_per_node == 1
    assert cfg.trainer.strategy == "ddp" and cfg.trainer.precision == "bf16-mixed"

"""Config validated at composition: every problem at once, one line per dotted key, no heavy imports."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from conftest import compose
from distillery.config import validate_train_config
from distillery.errors import DistilleryError
from distillery.paths import conf_dir


def _job(overrides):
    cfg = compose(overrides)
    return OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])


def _lines(overrides) -> list[str]:
    with pytest.raises(DistilleryError) as e:
        validate_train_config(_job(overrides))
    return str(e.value).splitlines()[1:]


def test_negative_max_tokens_named():
    assert _lines(["context_strategy.max_tokens=-5"]) == ["context_strategy.max_tokens: must be > 0 (got -5)"]


def test_non_integer_epochs_named():
    assert _lines(["trainer.max_epochs=abc"]) == ["trainer.max_epochs: must be an integer (got 'abc')"]


def test_every_problem_at_once():
    lines = _lines(
        [
            "context_strategy=head_tail",
            "context_strategy.head=600",
            "optim.lr=0",
            "+optim.weigth_decay=1",
            "data.split=[0.5,0.5,0.1]",
            "seed=abc",
            "logger.kind=tb",
            "+trainer.max_epoch=2",
            "data.near_dup_threshold=0",
            "+loss.lambda_=-1",
        ]
    )
    keys = [line.split(":")[0] for line in lines]
    assert sorted(keys) == sorted(
        [
            "context_strategy.head",
            "optim.lr",
            "optim.weigth_decay",
            "data.split",
            "seed",
            "logger.kind",
            "trainer.max_epoch",
            "data.near_dup_threshold",
            "loss.lambda_",
        ]
    )


def test_missing_data_file_named(tmp_path):
    assert _lines(["data=jsonl", f"data.path={tmp_path}/nope.jsonl"]) == [
        f"data.path: no such file or folder ({tmp_path}/nope.jsonl)"
    ]


def _options(group):
    root = conf_dir() / group
    return sorted(str(p.relative_to(root).with_suffix("")) for p in root.rglob("*.yaml") if not p.name.startswith("_"))


@pytest.mark.parametrize(
    "group,option",
    [
        (g, o)
        for g in (
            "model",
            "context_strategy",
            "loss",
            "data",
            "trainer",
            "logger",
            "callbacks",
            "debug",
            "experiment",
            "filter",
        )
        for o in _options(g)
    ],
)
def test_every_shipped_option_validates(group, option, tmp_path):
    overrides = [f"{group}={option}"]
    f = tmp_path / "l.jsonl"
    f.write_text("")
    if group == "data" and option == "jsonl":
        overrides.append(f"data.path={f}")
    if group == "data" and option == "jsonl_heads":
        overrides.append(f"data.paths={{uplifting/v6:{f},belonging/v1:{f}}}")
    validate_train_config(_job(overrides))


def test_trainer_arg_list_matches_lightning():
    import inspect

    import lightning as L

    from distillery.schema import LIGHTNING_TRAINER_ARGS, TRAINER_ARGS_SET_BY_DISTILLERY

    params = set(inspect.signature(L.Trainer.__init__).parameters) - {"self"}
    assert LIGHTNING_TRAINER_ARGS | TRAINER_ARGS_SET_BY_DISTILLERY >= params


def test_validation_imports_nothing_heavy():
    code = (
        "import sys; sys.path.insert(0, 'tests'); from conftest import compose; "
        "from distillery.config import validate_train_config as v; v(compose([]))  ; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'lightning', 'transformers')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_cli_fails_fast_naming_the_key(tmp_path):
    """End to end: needs the training task to call validate_train_config first thing."""
    env = {**os.environ, "DISTILLERY_OUTPUTS": str(tmp_path)}
    t0 = time.time()
    out = subprocess.run(
        [sys.executable, "-m", "distillery.cli", "train", "context_strategy.max_tokens=-5", "logger=none"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    wall = time.time() - t0
    assert out.returncode != 0
    assert "context_strategy.max_tokens" in out.stderr and "Traceback" not in out.stderr + out.stdout
    assert wall < 3.0, f"{wall:.1f} s"

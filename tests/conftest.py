"""Shared test setup: offline everything, outputs in a temp dir, one process for all tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ["HF_HUB_OFFLINE"] = "1"  # a hub id must fail fast and clearly, never hang
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _outputs_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Runs write under the test's tmp dir, never into the checkout's outputs/."""
    out = tmp_path / "outputs"
    monkeypatch.setenv("DISTILLERY_OUTPUTS", str(out))
    return out


@pytest.fixture(scope="session")
def uplifting():
    from distillery.filters import load_filter

    return load_filter("uplifting/v6")


@pytest.fixture(scope="session")
def qwen_tok():
    from distillery.models.tokenizers import load_tokenizer

    return load_tokenizer("qwen2.5")


def compose(overrides: list[str] | None = None, config_name: str = "train"):
    """The real config tree, composed with Hydra's compose API (with HydraConfig set)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from distillery.config import register_resolvers
    from distillery.paths import conf_dir

    register_resolvers()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return hydra_compose(config_name=config_name, overrides=overrides or [], return_hydra_config=True)

"""Shared test setup: offline everything, outputs in a temp dir, one process for all tests."""

from __future__ import annotations

import os
from contextlib import contextmanager
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


@pytest.fixture(autouse=True)
def _restore_logging():
    """Hydra verbs run in-process configure the root logger with handlers on the (captured, then
    closed) stdout/stderr of that test; later tests must not log into them."""
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


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


# ---- the oracle test server (tests/oracle_server.py) -----------------------------------------
ORACLE_TEST_KEY = "sk-test-CANARY-7f3a9e1c5b-do-not-log"


@pytest.fixture
def oracle_server():
    """Factory: ``srv = oracle_server(latency=0.02)`` starts a real HTTP server on 127.0.0.1;
    every server started is stopped after the test."""
    from oracle_server import OracleServer

    servers = []

    def start(**kwargs):
        srv = OracleServer(**kwargs).start()
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        srv.stop()


@pytest.fixture
def oracle_env(monkeypatch: pytest.MonkeyPatch) -> str:
    """A canary API key in $OPENAI_API_KEY (grepped for in written files); no ambient base URL."""
    monkeypatch.setenv("OPENAI_API_KEY", ORACLE_TEST_KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    return ORACLE_TEST_KEY


# ---- evaluate / export / package (issue 5) ----------------------------------------------------
@contextmanager
def one_torch_thread():
    """torch on one thread: on a shared 2-core box, 2 OpenMP threads competing with other jobs
    made the tiny model's forward ~40x slower (1 s vs 26 ms per batch)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


@pytest.fixture(scope="module")
def single_threaded():
    with one_torch_thread():
        yield


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """One short tiny-qwen2 run (256-token context, so some articles are seen whole) shared by
    the evaluate / export / package tests."""
    from distillery.cli import main

    out = tmp_path_factory.mktemp("release")
    with one_torch_thread():
        assert (
            main(
                [
                    "train",
                    "experiment=smoke",
                    "logger=none",
                    "seed=0",
                    "trainer.max_epochs=1",
                    "context_strategy.max_tokens=256",
                    f"paths.output_dir={out}",
                ]
            )
            == 0
        )
    return next((out / "train" / "runs").iterdir())


@pytest.fixture(scope="session")
def tiny_predictor(tiny_run):
    """:func:`tiny_run`'s checkpoint loaded once (PyTorch, LoRA unmerged) as a predictor."""
    from distillery.evaluate.predict import load_predictor

    return load_predictor(tiny_run)


@pytest.fixture(scope="session")
def tiny_export(tiny_run, tmp_path_factory) -> Path:
    """``distillery export`` of :func:`tiny_run` (fits its calibration first)."""
    from distillery.export.pipeline import export_run

    out = tmp_path_factory.mktemp("export") / "uplifting_v6"
    with one_torch_thread():
        export_run(tiny_run, out, threads=1, backend="onnxruntime")
    return out


@pytest.fixture(scope="session")
def probe_run(tmp_path_factory) -> Path:
    """An embedding probe (frozen packaged MiniLM + ridge) on the data :func:`tiny_run` trains on
    (same corpus, seed and split), with a 128-token context."""
    from distillery.cli import main

    out = tmp_path_factory.mktemp("probe")
    with one_torch_thread():
        assert (
            main(
                [
                    "train",
                    "model=embedding_probe",
                    "experiment=smoke",
                    "logger=none",
                    "seed=0",
                    "context_strategy.max_tokens=128",
                    f"paths.output_dir={out}",
                    f"paths.cache_dir={out / 'cache'}",
                ]
            )
            == 0
        )
    return next((out / "train" / "runs").iterdir())


@pytest.fixture(scope="session")
def probe_export(probe_run, tmp_path_factory) -> Path:
    from distillery.export.pipeline import export_run

    out = tmp_path_factory.mktemp("export") / "probe"
    with one_torch_thread():
        export_run(probe_run, out, threads=1, backend="onnxruntime")
    return out

"""The console script: instant help, every verb listed with examples, Hydra's flags pass through."""

from __future__ import annotations

import subprocess
import sys
import time

from distillery.cli import VERBS, main


def test_help_is_instant_and_lists_every_verb():
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "distillery.cli", "--help"], capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - t
    for verb in VERBS:
        assert verb in out.stdout
    # lazy imports: --help must not import torch/lightning/transformers
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, distillery.cli as c; c.build_parser();"
            "print(sorted(m for m in ('torch','lightning','transformers','hydra') if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip() == "[]"
    assert elapsed < 10  # generous: a cold interpreter; the import probe above is the real check


def test_verb_help_has_examples(capsys):
    for verb in ("filters", "validate-filter", "synth-corpus"):
        try:
            main([verb, "--help"])
        except SystemExit as e:
            assert e.code == 0
        assert "examples:" in capsys.readouterr().out


def test_train_help_is_hydras_with_examples(capsys):
    try:
        main(["train", "--help"])
    except SystemExit as e:
        assert not e.code
    out = capsys.readouterr().out
    assert "== Config groups ==" in out and "context_strategy: chunked, head_tail" in out
    assert "distillery train -m context_strategy=trunc512,head_tail" in out


def test_unknown_verb_fails(capsys):
    try:
        main(["frobnicate"])
    except SystemExit as e:
        assert e.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_validate_filter_reports_problems(tmp_path, capsys):
    bad = tmp_path / "filter.yaml"
    bad.write_text("name: x\nversion: 1\ndimensions: []\ntiers: []\n")
    assert main(["validate-filter", str(bad), "uplifting/v6"]) == 1
    out = capsys.readouterr().out
    assert f"FAIL {bad}" in out and "dimensions" in out and "ok   uplifting/v6" in out


def test_users_config_dir_adds_options(tmp_path, capsys):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "my-tiny.yaml").write_text(
        "defaults:\n  - tiny-qwen2\n  - _self_\nname: my-tiny\ninit_seed: 7\n"
    )
    try:
        main(["train", "--config-dir", str(tmp_path), "model=my-tiny", "--cfg", "job"])
    except SystemExit as e:
        assert not e.code
    out = capsys.readouterr().out
    assert "name: my-tiny" in out and "init_seed: 7" in out and "arch: qwen2" in out

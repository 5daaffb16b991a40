"""The Python API (docs/python-api.md): the documented example runs as written, and the API composes
the same validated config as the CLI."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "python-api.md"


def test_import_distillery_is_cheap():
    code = "import sys, distillery; assert distillery.__version__; print(sorted(m for m in ('torch', 'lightning', 'transformers') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_documented_example_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("DISTILLERY_OUTPUTS", str(tmp_path / "outputs"))
    block = re.search(r"```python\n(.*?)```", DOC.read_text(), re.S).group(1)
    scope: dict = {}
    exec(compile(block, str(DOC), "exec"), scope)  # noqa: S102 - the doc's own example
    result = scope["result"]
    assert (result.run_dir / "metrics.json").is_file() and result.run_dir.is_relative_to(tmp_path)
    assert result.metrics["val"]["mae"] > 0 and result.metrics["n"]["val"] > 0


def test_api_validates_like_the_cli():
    import distillery.train.task  # noqa: F401 - a subpackage named like an API function is loaded
    from distillery import api
    from distillery.errors import DistilleryError

    assert callable(api.train) and distillery.load_filter is api.load_filter
    with pytest.raises(DistilleryError, match="context_strategy.max_tokens"):
        api.compose_train_config(["context_strategy.max_tokens=-5"])

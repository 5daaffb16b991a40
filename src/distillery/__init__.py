"""distillery: distil an expensive LLM oracle into small, fast scoring models.

The Python API (docs/python-api.md): ``load_filter``, ``train``, ``evaluate``, ``export``,
``load_scorer``. Importing ``distillery`` stays cheap: the API module loads on first use.
"""

from typing import Any

__version__ = "0.1.0"
__all__ = ["evaluate", "export", "load_filter", "load_scorer", "train"]


def __getattr__(name: str) -> Any:
    if name in __all__ or name == "api":
        import importlib

        api = importlib.import_module("distillery.api")
        return api if name == "api" else getattr(api, name)
    raise AttributeError(f"module 'distillery' has no attribute {name!r}")

"""distillery: distil an expensive LLM oracle into small, fast scoring models.

The Python API is ``distillery.api`` (docs/python-api.md): ``load_filter``, ``train``,
``evaluate``, ``export``, ``load_scorer``. ``train``/``evaluate``/``export`` are also the names of
subpackages, so they are reached as ``distillery.api.train`` (or ``from distillery.api import
train``); ``load_filter`` and ``load_scorer`` are here too. Importing ``distillery`` stays cheap:
the API module loads on first use.
"""

import importlib
from typing import Any

__version__ = "0.1.0"
__all__ = ["api", "load_filter", "load_scorer"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        api = importlib.import_module("distillery.api")
        return api if name == "api" else getattr(api, name)
    raise AttributeError(f"module 'distillery' has no attribute {name!r}")

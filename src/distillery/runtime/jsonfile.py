"""A fitted artifact kept as one JSON file (calibration.json, confidence.json): ``to_dict`` /
``from_dict`` on the class, ``save`` (strict JSON, atomic: runtime/atomic.py) and ``load`` here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from distillery.runtime.atomic import write_json


class JsonFile:
    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Any:
        raise NotImplementedError

    def save(self, path: str | Path) -> Path:
        return write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> Any:
        return cls.from_dict(json.loads(Path(path).read_text()))

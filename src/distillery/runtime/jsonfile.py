"""A fitted artifact kept as one JSON file (calibration.json, confidence.json): ``to_dict`` /
``from_dict`` on the class, ``save`` (atomic: a temp file renamed into place) and ``load`` here."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class JsonFile:
    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Any:
        raise NotImplementedError

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Any:
        return cls.from_dict(json.loads(Path(path).read_text()))

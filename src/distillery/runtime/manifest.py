"""``manifest.json``: what an export is, how it was made, how it scored, and a SHA-256 per file.

Keys: ``format``, ``filter`` (ref) / ``filter_file``, ``dimensions`` (ONNX output order),
``scale`` (0-10, clamp after calibration; the target de-standardisation is inside the graph),
``context_strategy`` + ``tokens`` (special-token prefix/suffix, separator, pad ids),
``tokenizer_file``, ``models`` (fp32 / int8, and where exported fp32-openvino and the INT8
models of other backends that passed the gate: file, backend, opset, exporter, quantization
settings), ``backends`` (each backend's gate result and INT8 speed; which one ships as int8),
``base_model`` (name, source, path / package + version, revision), ``lora`` (its config; merged),
``parity`` (the gate's numbers), ``source`` (run dir, checkpoint, data config, git),
``versions`` and ``files`` (relative path -> {sha256, bytes}) for every other file of the export.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from distillery.runtime.atomic import write_json

MANIFEST = "manifest.json"


class Manifest(BaseModel):
    """The typed face of ``manifest.json``: the keys every scorer reads are checked on load; the
    rest (base model, parity, source, versions, ...) is kept as written (``extra="allow"``)."""

    model_config = ConfigDict(extra="allow")

    format: int = 1
    filter: str
    filter_file: str = "filter.yaml"
    dimensions: list[str]
    context_strategy: dict[str, Any]
    tokens: dict[str, Any]
    tokenizer_file: str = "tokenizer.json"
    models: dict[str, dict[str, Any]] = {}
    files: dict[str, dict[str, Any]] = {}

    @property
    def strategy_name(self) -> str | None:
        """``trunc512`` / ``head_tail`` / ... (None for exports made before the name was kept)."""
        return self.context_strategy.get("name")


class ExportDir:
    """The files of an export dir, by name: the only place their names are spelled."""

    MANIFEST = MANIFEST
    FP32 = "model.fp32.onnx"
    INT8 = "model.int8.onnx"
    INT8_DATA = "model.int8.onnx.data"  # external weights of a large INT8 model
    OV_FP32 = "model.fp32.xml"  # OpenVINO IR (+ model.fp32.bin)
    OV_INT8 = "model.int8.xml"  # OpenVINO INT8 IR by NNCF (+ model.int8.bin)
    FILTER = "filter.yaml"
    TOKENIZER = "tokenizer.json"
    CALIBRATION = "calibration.json"
    CONFIDENCE = "confidence.json"
    PARITY = "parity.json"
    CARD = "MODEL_CARD.md"
    HYBRID = "hybrid.json"
    REPORT = "report.md"  # a hybrid dir's tuning report
    BENCHMARK = "benchmark.json"  # benchmark files are not hashed (see hash_files)
    BENCHMARK_MD = "benchmark.md"

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def is_export(self) -> bool:
        return (self.path / MANIFEST).is_file()

    def is_hybrid(self) -> bool:
        return (self.path / self.HYBRID).is_file()

    def manifest(self) -> Manifest:
        return Manifest.model_validate(load_manifest(self.path))

    def manifest_dict(self) -> dict[str, Any]:
        return load_manifest(self.path)


def sha256(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while b := fh.read(chunk):
            h.update(b)
    return h.hexdigest()


def hash_files(root: Path, exclude: tuple[str, ...] = (MANIFEST,)) -> dict[str, dict[str, Any]]:
    """{relative path: {sha256, bytes}} for every file under ``root`` (except the manifest)."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and rel not in exclude and not rel.startswith("benchmark"):
            out[rel] = {"sha256": sha256(p), "bytes": p.stat().st_size}
    return out


def write_manifest(root: Path, manifest: dict[str, Any], with_hashes: bool = True) -> Path:
    """Write ``manifest.json`` atomically (temp file + rename): the only writer of it.

    ``with_hashes``: first set ``files`` to the SHA-256 of every other file (the final
    manifest); False writes ``manifest`` as given (an export's provisional manifest, which the
    parity gate's scorers read before the export is complete)."""
    root = Path(root)
    if with_hashes:
        manifest = {**manifest, "files": hash_files(root)}
    return write_json(root / MANIFEST, manifest)


def load_manifest(root: Path) -> dict[str, Any]:
    return json.loads((Path(root) / MANIFEST).read_text())


def verify_hashes(root: Path, manifest: dict[str, Any] | None = None) -> list[str]:
    """Problems (missing / changed / unlisted model files); empty when every hash matches."""
    root = Path(root)
    manifest = manifest or load_manifest(root)
    problems = []
    files = manifest.get("files", {})
    for rel, info in files.items():
        p = root / rel
        if not p.is_file():
            problems.append(f"{rel}: missing")
        elif sha256(p) != info["sha256"]:
            problems.append(f"{rel}: SHA-256 differs from the manifest")
    for v in manifest.get("models", {}).values():
        if v["file"] not in files:
            problems.append(f"{v['file']}: model file not listed in the manifest")
    return problems

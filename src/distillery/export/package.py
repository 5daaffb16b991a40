"""``distillery package``: an export dir -> a pip-installable scorer wheel for one filter.

From a hybrid dir (``distillery tune-hybrid``) the wheel holds both stages and scores with
``HybridScorer``. The wheel holds the INT8 model, tokenizer, filter spec, calibration, confidence, manifest and
model card, plus a small API (``score``, ``score_batch``, ``load``; ``python -m <pkg>``). It
depends on its INT8 model's runtime (onnxruntime or openvino, whichever the export shipped),
tokenizers, numpy, pyyaml and pydantic only: no torch, no transformers.

The scoring logic is not rewritten for the wheel: the distillery modules the exported runtime
uses are *vendored* (copied at build time into ``<pkg>/_distillery/``, their
``distillery.`` imports rewritten to ``<pkg>._distillery.``), so the package computes exactly
what ``distillery`` computes for the same export. Building fails if a vendored module imports a
distillery module that is not vendored.

The wheel is written directly (zip + dist-info with RECORD hashes, PEP 427): no build backend
or network is needed.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

from distillery.errors import DistilleryError
from distillery.filters.spec import parse_spec
from distillery.runtime.backends import RUNTIME_REQUIREMENT, backend_of, model_paths
from distillery.runtime.manifest import MANIFEST, ExportDir, load_manifest, sha256, verify_hashes

VENDORED = (
    "errors.py",
    "filters/spec.py",
    "filters/prefilter.py",
    *sorted(
        p.relative_to(Path(__file__).resolve().parents[1]).as_posix()
        for p in (Path(__file__).resolve().parents[1] / "runtime").glob("*.py")
    ),
)
REQUIRES = ("tokenizers>=0.15", "numpy>=1.24", "pyyaml>=6", "pydantic>=2.6")  # + the model's runtime
MODEL_FILES = (  # + the shipped INT8 model's own files
    ExportDir.TOKENIZER,
    ExportDir.FILTER,
    ExportDir.CALIBRATION,
    ExportDir.CONFIDENCE,
    ExportDir.CARD,
)
_IMPORT = re.compile(r"^(\s*)(from|import)\s+distillery(\.[\w.]+)?", re.MULTILINE)
_PKG = Path(__file__).resolve().parents[1]  # src/distillery


def names_for(spec_name: str, spec_version: int, name: str | None) -> tuple[str, str]:
    """(distribution name, import name)."""
    dist = name or f"distillery-filter-{spec_name}-v{spec_version}"
    dist = re.sub(r"[-_.]+", "-", dist).lower()
    return dist, dist.replace("-", "_")


def vendor_source(rel: str, import_name: str) -> str:
    """A distillery module's source with its distillery imports pointed at the vendored copy."""
    src = (_PKG / rel).read_text(encoding="utf-8")
    vendored_modules = {"distillery." + v[:-3].replace("/", ".") for v in VENDORED}
    for m in _IMPORT.finditer(src):
        mod = "distillery" + (m.group(3) or "")
        if mod not in vendored_modules and mod != "distillery":
            raise DistilleryError(f"vendoring {rel}: it imports {mod}, which is not vendored into the package")
    return _IMPORT.sub(lambda m: f"{m.group(1)}{m.group(2)} {import_name}._distillery{m.group(3) or ''}", src)


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _checked_manifest(export_dir: Path) -> dict[str, Any]:
    manifest = load_manifest(export_dir)
    problems = verify_hashes(export_dir, manifest)
    if problems:
        raise DistilleryError(
            f"{export_dir}: refusing to package, files differ from the manifest: {'; '.join(problems)}"
        )
    return manifest


def _model_folder(export_dir: Path, prefix: str, package: dict[str, Any]) -> dict[str, bytes]:
    """An export's shipped files under ``prefix`` + a manifest describing exactly them."""
    manifest = _checked_manifest(export_dir)
    if "int8" not in manifest.get("models", {}) or "int8" not in manifest.get("parity", {}):
        raise DistilleryError(f"{export_dir}: no INT8 model that passed the parity gate")
    shipped = [p.name for p in model_paths(export_dir, manifest["models"]["int8"])]
    files = {
        f"{prefix}{f}": (export_dir / f).read_bytes() for f in (*shipped, *MODEL_FILES) if (export_dir / f).is_file()
    }
    pm: dict[str, Any] = {k: v for k, v in manifest.items() if k != "files"}
    pm["models"] = {"int8": manifest["models"]["int8"]}
    pm["package"] = {**package, "export_manifest_sha256": sha256(export_dir / MANIFEST)}
    pm["files"] = {
        p[len(prefix) :]: {"sha256": hashlib.sha256(b).hexdigest(), "bytes": len(b)} for p, b in files.items()
    }
    files[f"{prefix}{MANIFEST}"] = (json.dumps(pm, indent=2, default=str) + "\n").encode()
    return files


def build_wheel(export_dir: Path, out: Path, name: str | None = None, version: str | None = None) -> Path:
    """A wheel from an export dir, or from a hybrid dir (``tune-hybrid``: both stages ship, each
    under ``model/stage1|stage2/``, with ``model/hybrid.json``)."""
    export_dir, out = Path(export_dir), Path(out)
    hybrid = (export_dir / ExportDir.HYBRID).is_file()
    if hybrid:
        _checked_manifest(export_dir)  # hybrid.json and both stages as tune-hybrid wrote them
        config = json.loads((export_dir / ExportDir.HYBRID).read_text())
        stages = {s: export_dir / config[s] for s in ("stage1", "stage2")}
    else:
        stages = {"": export_dir}
    scorer_dir = stages.get("stage2", export_dir)  # the filter spec both stages share
    spec = parse_spec(scorer_dir / _checked_manifest(scorer_dir)["filter_file"])
    dist, imp = names_for(spec.name, spec.version, name)
    version = version or f"{spec.version}.0.0"
    package = {"name": dist, "import_name": imp, "version": version}
    files: dict[str, bytes] = {}
    for sub, d in stages.items():
        files.update(_model_folder(d, f"{imp}/model/{sub + '/' if sub else ''}", package))
    if hybrid:
        files[f"{imp}/model/{ExportDir.HYBRID}"] = (export_dir / ExportDir.HYBRID).read_bytes()
    int8 = {s or "model": _checked_manifest(d)["parity"].get("int8_config", "?") for s, d in stages.items()}
    runtimes = sorted({backend_of(_checked_manifest(d)["models"]["int8"]) for d in stages.values()})

    # vendored distillery modules
    files[f"{imp}/_distillery/__init__.py"] = (
        b'"""distillery modules vendored by `distillery package` (do not edit)."""\n'
    )
    for rel in VENDORED:
        parts = rel.split("/")
        for i in range(1, len(parts)):
            files.setdefault(f"{imp}/_distillery/{'/'.join(parts[:i])}/__init__.py", b"")
        files[f"{imp}/_distillery/{rel}"] = vendor_source(rel, imp).encode()

    # the API
    kind = (
        f"two-stage hybrid: stage 2 only where stage 1's weighted average >= {config['threshold']:.4f}"
        if hybrid
        else "one model"
    )
    fmt = {
        "ref": spec.ref,
        "n_dims": len(spec.dimensions),
        "kind": kind,
        "int8_config": ", ".join(f"{k}: {v}" for k, v in int8.items()),
        "import_name": imp,
        "runtime": " + ".join({"onnxruntime": "ONNX Runtime", "openvino": "OpenVINO"}[b] for b in runtimes),
        "version": version,
        "dimensions": spec.dimension_names,
    }
    tdir = Path(__file__).with_name("template")
    for t in ("__init__.py", "__main__.py"):
        files[f"{imp}/{t}"] = (tdir / f"{t}.tmpl").read_text(encoding="utf-8").format(**fmt).encode()

    # dist-info
    di = f"{imp}-{version}.dist-info"
    docs = ([export_dir / ExportDir.REPORT] if hybrid else []) + [d / ExportDir.CARD for d in stages.values()]
    card = "\n\n".join(f.read_text(encoding="utf-8") for f in docs if f.is_file())
    meta = [
        "Metadata-Version: 2.1",
        f"Name: {dist}",
        f"Version: {version}",
        f"Summary: {spec.ref} article scorer (INT8, {' + '.join(runtimes)}{', two-stage hybrid' if hybrid else ''}), "
        "generated by distillery",
        "Requires-Python: >=3.10",
        *[f"Requires-Dist: {r}" for r in (*(RUNTIME_REQUIREMENT[b] for b in runtimes), *REQUIRES)],
        "Description-Content-Type: text/markdown",
        "",
        card,
    ]
    files[f"{di}/METADATA"] = "\n".join(meta).encode()
    files[f"{di}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: distillery package\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    files[f"{di}/top_level.txt"] = f"{imp}\n".encode()
    record = [f"{p},{_record_hash(b)},{len(b)}" for p, b in files.items()] + [f"{di}/RECORD,,"]
    files[f"{di}/RECORD"] = ("\n".join(record) + "\n").encode()

    out.mkdir(parents=True, exist_ok=True)
    wheel = out / f"{imp}-{version}-py3-none-any.whl"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for p, b in files.items():
            info = zipfile.ZipInfo(p, date_time=(2020, 1, 1, 0, 0, 0))  # reproducible
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, b)
    wheel.write_bytes(buf.getvalue())
    return wheel

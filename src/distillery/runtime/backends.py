"""The runtimes an exported model runs in: ONNX Runtime and OpenVINO, on the CPU.

An export dir's ``manifest.json`` names each model's ``backend`` (``onnxruntime`` when absent:
exports made before there was a choice). :func:`open_session` turns a model entry into one
function, ``(input_ids, attention_mask) -> scores``, so every scorer runs either the same way.

- **ONNX Runtime** runs ``*.onnx`` files: all graph optimizations, one inter-op thread,
  ``threads`` intra-op threads, minus the optimizers the export measured as harmful
  (``session.disabled_optimizers``).
- **OpenVINO** runs IR files (``*.xml`` + ``*.bin``, converted from the plain FP32 ONNX graph
  at export time; INT8 by NNCF, :mod:`distillery.export.quantize_openvino`). Compiled for the
  ``CPU`` device with the ``LATENCY`` hint, one stream, ``threads`` inference threads and an
  explicit ``INFERENCE_PRECISION_HINT`` (``f32`` unless the model entry says otherwise: OpenVINO
  computes in bf16 on AMX CPUs by default, which would break FP32 parity).

Imports of either runtime happen here, on first use, so a packaged wheel needs only its own.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

BACKENDS = ("onnxruntime", "openvino")
# what a packaged scorer needs for each backend (pip requirement strings)
RUNTIME_REQUIREMENT = {"onnxruntime": "onnxruntime>=1.23", "openvino": "openvino>=2025.1"}
# a model file's companions (external weights) by suffix: they travel with it
COMPANIONS = {".onnx": (".onnx.data",), ".xml": (".bin",)}

Session = Callable[[np.ndarray, np.ndarray], np.ndarray]
_OV_CORE: Any = None


def backend_of(model: dict[str, Any]) -> str:
    """The backend a manifest model entry runs in."""
    return str(model.get("backend", "onnxruntime"))


def model_paths(root: Path, model: dict[str, Any]) -> list[Path]:
    """A model entry's file and its companions that exist (``.onnx.data``, ``.bin``)."""
    main = Path(root) / model["file"]
    extra = [main.with_name(main.name[: -len(main.suffix)] + s) for s in COMPANIONS.get(main.suffix, ())]
    return [main] + [p for p in extra if p.is_file()]


def available(backend: str) -> bool:
    """Whether ``backend``'s Python package can be imported here."""
    import importlib.util

    return importlib.util.find_spec(backend) is not None


def open_session(root: Path, model: dict[str, Any], threads: int | None = None) -> Session:
    """``(input_ids, attention_mask) -> scores`` for one model entry of the manifest at ``root``."""
    backend = backend_of(model)
    path = Path(root) / model["file"]
    if backend == "onnxruntime":
        return _ort_session(path, model, threads)
    if backend == "openvino":
        return _ov_session(path, model, threads)
    raise ValueError(f"{path}: unknown backend {backend!r} (known: {', '.join(BACKENDS)})")


def _ort_session(path: Path, model: dict[str, Any], threads: int | None) -> Session:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.inter_op_num_threads = 1
    if threads:
        opts.intra_op_num_threads = int(threads)
    # session settings the export measured and recorded (e.g. ORT fusions that make this model slower)
    disabled = list(model.get("session", {}).get("disabled_optimizers", []))
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"], disabled_optimizers=disabled)

    def run(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return sess.run(["scores"], {"input_ids": ids, "attention_mask": mask})[0]

    return run


def ov_core() -> Any:
    """One ``openvino.Core`` per process (it owns the CPU plugin and its thread pools)."""
    global _OV_CORE
    if _OV_CORE is None:
        import openvino as ov

        _OV_CORE = ov.Core()
    return _OV_CORE


def ov_config(threads: int | None, precision: str = "f32") -> dict[str, str]:
    """The CPU plugin settings every OpenVINO model here is compiled with."""
    cfg = {"PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": "1", "INFERENCE_PRECISION_HINT": precision}
    if threads:
        cfg["INFERENCE_NUM_THREADS"] = str(int(threads))
    return cfg


def _ov_session(path: Path, model: dict[str, Any], threads: int | None) -> Session:
    compiled = ov_core().compile_model(str(path), "CPU", ov_config(threads, str(model.get("precision", "f32"))))
    request = compiled.create_infer_request()
    output = compiled.output("scores")

    def run(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return np.array(request.infer({"input_ids": ids, "attention_mask": mask})[output], copy=True)

    return run

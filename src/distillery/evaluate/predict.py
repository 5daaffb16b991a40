"""Per-article raw predictions from any scorer: a PyTorch checkpoint, an ONNX export, an ensemble.

Every path shares the same steps with the exported runtime (:mod:`distillery.runtime.onnx_scorer`):
content token ids -> ``ContextStrategy.encode_ids`` views -> length-sorted batches ->
per-view outputs -> per-article aggregation. Only the tokenizer object (transformers vs
``tokenizers``) and the forward pass (torch vs ONNX Runtime) differ.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from distillery.errors import DistilleryError
from distillery.rundir import RunDir
from distillery.runtime.context import ContextStrategy, special_tokens
from distillery.runtime.manifest import ExportDir
from distillery.runtime.scoring import aggregate, length_sorted_batches


@dataclass
class Predictions:
    raw: np.ndarray  # (A, N) per-article outputs before calibration
    n_tokens: np.ndarray  # (A,) content tokens per article
    cut: np.ndarray  # (A,) True where the context strategy did not see the whole article
    spread: np.ndarray | None = None  # (A, N) ensemble member std, when an ensemble


class TorchPredictor:
    """A loaded PyTorch checkpoint (``load_checkpoint``) as a predictor."""

    def __init__(self, scorer: Any, batch_size: int = 16, threads: int | None = None):
        import torch

        self.scorer, self.batch_size = scorer, int(batch_size)
        if threads:
            torch.set_num_threads(int(threads))
        self.spec, self.strategy = scorer.spec, scorer.strategy

    def content_ids(self, articles: Sequence[dict]) -> list[list[int]]:
        texts = [ContextStrategy.text_of(a) for a in articles]
        return list(ContextStrategy.content_ids(texts, self.scorer.tokenizer))

    def run_views(self, views: Sequence[Sequence[int]]) -> np.ndarray:
        import torch

        model = self.scorer.model
        out = np.zeros((len(views), len(self.spec.dimensions)), dtype=np.float64)
        pad = self.scorer.tokenizer.pad_token_id
        with torch.inference_mode():
            for idx, ids, mask in length_sorted_batches(views, self.batch_size, pad):
                out[idx] = model(torch.from_numpy(ids), torch.from_numpy(mask)).float().numpy()
        return out

    def predict(self, articles: Sequence[dict]) -> Predictions:
        tok = self.scorer.tokenizer
        prefix, suffix = special_tokens(tok)
        all_ids = self.content_ids(articles)
        views, owners = self.strategy.encode_ids(all_ids, prefix, suffix, self.strategy.separator_ids(tok))
        raw = aggregate(self.run_views(views), owners, len(articles), self.strategy.aggregate)
        n = np.array([len(x) for x in all_ids])
        cut = np.array([not self.strategy.sees_all(int(k), len(prefix) + len(suffix)) for k in n], dtype=bool)
        return Predictions(raw, n, cut)


class OnnxPredictor:
    def __init__(
        self, export_dir: str | Path, variant: str = "int8", threads: int | None = None, batch_size: int | None = None
    ):
        from distillery.runtime.onnx_scorer import OnnxScorer  # onnxruntime

        self.runtime = OnnxScorer(export_dir, variant, threads=threads, batch_size=batch_size, calibrated=False)
        self.spec, self.strategy = self.runtime.spec, self.runtime.strategy

    def predict(self, articles: Sequence[dict]) -> Predictions:
        raw, n, cut = self.runtime.predict_raw(articles)
        return Predictions(raw, n, cut)


def is_export_dir(path: Path) -> bool:
    return ExportDir(path).is_export()


def run_dir_of(path: str | Path) -> Path | None:
    """The training run dir a checkpoint (or run dir) belongs to, if it is in one."""
    p = Path(path)
    if (p / RunDir.CHECKPOINT / RunDir.CHECKPOINT_META).is_file():
        return p
    if (p / RunDir.CHECKPOINT_META).is_file() and RunDir(p.parent).is_run():
        return p.parent
    return None


def artifact_dir(path: str | Path) -> Path:
    """Where calibration.json / confidence.json live for a target: the export dir, the run dir,
    or a bare checkpoint dir."""
    p = Path(path)
    if is_export_dir(p):
        return p
    return run_dir_of(p) or p


def load_predictor(
    target: str | Path, variant: str = "int8", threads: int | None = None, batch_size: int | None = None
) -> Any:
    """A predictor for a run dir, checkpoint dir or export dir (``batch_size`` None: 16 for
    PyTorch, the export's own choice for ONNX)."""
    p = Path(target)
    if not p.exists():
        raise DistilleryError(f"{p}: no such file or folder")
    if is_export_dir(p):
        return OnnxPredictor(p, variant, threads=threads, batch_size=batch_size)
    from distillery.models.checkpoint import load_checkpoint  # torch, transformers

    return TorchPredictor(load_checkpoint(p), batch_size=batch_size or 16, threads=threads)

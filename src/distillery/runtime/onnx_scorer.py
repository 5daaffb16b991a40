"""Score articles with an exported model: ONNX Runtime or OpenVINO + ``tokenizers`` + numpy, no torch.

This module is what ``distillery`` uses to score an export dir *and* what a packaged filter
wheel runs (``distillery package`` vendors it, with the modules it imports, into the wheel), so
the two cannot drift. It imports only numpy, tokenizers, the model's runtime (onnxruntime or
openvino, :mod:`distillery.runtime.backends`) and these distillery modules, which import nothing
heavier than numpy, pyyaml and pydantic:

  filters.spec        clamp -> weighted average -> gatekeeper -> tier (the only copy)
  filters.prefilter   passed_prefilter
  runtime.context     the context strategy's views, on plain token-id lists
  runtime.calibration / runtime.confidence   isotonic maps, conformal intervals
  runtime.manifest    the typed manifest

Scoring path for a batch of articles: title + content -> content token ids (the export's
``tokenizer.json``, no special tokens) -> the context strategy's views (special-token prefix,
suffix and separator ids recorded in the manifest) -> length-sorted, right-padded batches ->
the exported model (raw 0-10 outputs per view) -> per-article aggregation (mean/max over views) ->
calibration -> clamp -> weighted average -> tier; plus conformal confidence and the prefilter.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from distillery.filters.prefilter import Prefilter
from distillery.filters.spec import parse_spec
from distillery.runtime.backends import backend_of, open_session
from distillery.runtime.calibration import CALIBRATION_FILE, Calibration
from distillery.runtime.confidence import CONFIDENCE_FILE, Conformal
from distillery.runtime.context import ContextStrategy
from distillery.runtime.manifest import MANIFEST, Manifest, load_manifest
from distillery.runtime.scoring import aggregate, finalize, length_sorted_batches, read_tokenizer_file

VARIANTS = ("int8", "fp32")  # the shipped INT8 model, the reference FP32 ONNX graph


class OnnxScorer:
    """An export dir (or a packaged filter's model folder) loaded for scoring.

    ``variant``: a key of the manifest's ``models``: ``int8`` (what ships), ``fp32`` (the ONNX
    graph the gate checked against PyTorch), and where exported ``fp32-openvino`` and the INT8
    models of other backends that passed the gate (``int8-onnxruntime``, ``int8-openvino``; the
    shipped backend's name is accepted for ``int8``). Each entry names its ``backend``.
    ``threads``: the runtime's threads (None: its default, all cores). ``batch_size``: views per ONNX call; None picks 1 for a
    model whose outputs depend on batch-mates (dynamic INT8 quantizes activations with one
    scale per padded batch: batching would make an article's score depend on the others) and
    8 otherwise. On CPU, batch 1 costs no throughput for ONNX Runtime (measured, docs/export.md).
    """

    def __init__(
        self,
        export_dir: str | Path,
        variant: str = "int8",
        threads: int | None = None,
        batch_size: int | None = None,
        calibrated: bool = True,
    ):
        self.dir = Path(export_dir)
        if not (self.dir / MANIFEST).is_file():
            raise FileNotFoundError(f"{self.dir}: not an export dir (no {MANIFEST})")
        self.manifest = load_manifest(self.dir)  # as written (a dict)
        self.info = m = Manifest.model_validate(self.manifest)  # the same, typed and checked
        shipped = m.models.get("int8")
        if variant not in m.models and shipped and variant == f"int8-{backend_of(shipped)}":
            variant = "int8"
        if variant not in m.models:
            raise ValueError(f"{self.dir}: no {variant!r} model (has {sorted(m.models)})")
        self.variant = variant
        self.spec = parse_spec(self.dir / m.filter_file)
        if self.spec.dimension_names != m.dimensions:
            raise ValueError(f"{self.dir}: filter.yaml dimensions differ from the manifest's output order")
        self.strategy = ContextStrategy.from_config(m.context_strategy)
        tok = m.tokens
        self.prefix, self.suffix = list(tok["prefix"]), list(tok["suffix"])
        self.separator, self.pad_id = list(tok["separator"]), int(tok["pad_id"])
        self.tokenizer = read_tokenizer_file(self.dir / m.tokenizer_file)
        self.threads = threads
        model = m.models[variant]
        self.backend = backend_of(model)
        self.session = open_session(self.dir, model, threads)
        invariant = bool(model.get("batch_invariant", True))
        self.batch_size = int(batch_size) if batch_size else (8 if invariant else 1)
        cal, conf = self.dir / CALIBRATION_FILE, self.dir / CONFIDENCE_FILE
        self.calibration = Calibration.load(cal) if calibrated and cal.is_file() else None
        self.conformal = Conformal.load(conf) if conf.is_file() else None
        self.prefilter = Prefilter(self.spec)

    @property
    def dimensions(self) -> list[str]:
        return self.spec.dimension_names

    # ---- the pipeline, in steps ----------------------------------------------------------------
    def content_ids(self, articles: Sequence[dict]) -> list[list[int]]:
        texts = [ContextStrategy.text_of(a) for a in articles]
        return [e.ids for e in self.tokenizer.encode_batch(texts, add_special_tokens=False)]

    def run_views(self, views: Sequence[Sequence[int]]) -> np.ndarray:
        """Raw model outputs (V, N) for token views."""
        out = np.zeros((len(views), len(self.dimensions)), dtype=np.float64)
        for idx, ids, mask in length_sorted_batches(views, self.batch_size, self.pad_id):
            out[idx] = self.session(ids, mask)
        return out

    def predict_raw(self, articles: Sequence[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Raw per-article outputs (A, N) (before calibration), content token counts, cut flags."""
        all_ids = self.content_ids(articles)
        views, owners = self.strategy.encode_ids(all_ids, self.prefix, self.suffix, self.separator)
        raw = aggregate(self.run_views(views), owners, len(articles), self.strategy.aggregate)
        n = np.array([len(x) for x in all_ids])
        n_special = len(self.prefix) + len(self.suffix)
        cut = np.array([not self.strategy.sees_all(int(k), n_special) for k in n], dtype=bool)
        return raw, n, cut

    def score_batch(self, articles: Sequence[dict]) -> list[dict[str, Any]]:
        """Score articles: one dict per article (see :meth:`score`)."""
        articles = list(articles)
        if not articles:
            return []
        raw, _, cut = self.predict_raw(articles)
        fin = finalize(self.spec, raw, self.calibration, self.conformal, cut)
        conf = fin.get("confidence")
        out = []
        for i, a in enumerate(articles):
            verdict = self.prefilter.check(a)
            r: dict[str, Any] = {
                "id": a.get("id"),
                "scores": {d: float(v) for d, v in zip(self.dimensions, fin["scores"][i])},
                "weighted_average": float(fin["weighted_average"][i]),
                "tier": str(fin["tier"][i]),
                "confidence": None,
                "interval": None,
                "needs_review": None,
                "passed_prefilter": bool(verdict.passed),
                "prefilter_reason": verdict.reason,
            }
            if conf is not None:
                r["confidence"] = float(conf["confidence"][i])
                r["interval"] = [float(conf["wa_low"][i]), float(conf["wa_high"][i])]
                r["needs_review"] = bool(conf["needs_review"][i])
            out.append(r)
        return out

    def score(self, article: dict) -> dict[str, Any]:
        """``{scores: {dim: 0-10}, weighted_average, tier, confidence, interval, needs_review,
        passed_prefilter, prefilter_reason, id}`` for one article (``title`` + ``content``)."""
        return self.score_batch([article])[0]

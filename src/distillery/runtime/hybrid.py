"""The two-stage hybrid scorer: prefilter -> stage 1 (a cheap scorer, e.g. an embedding probe) ->
stage 2 (the fine-tuned model) only for articles whose stage-1 weighted average reaches a threshold.

A hybrid dir (written by ``distillery tune-hybrid``, docs/hybrid.md) holds ``hybrid.json`` (the
threshold and how it was tuned) and two export dirs, ``stage1/`` and ``stage2/``, each scored by
:class:`~distillery.runtime.onnx_scorer.OnnxScorer` exactly as on its own. Like ``runtime``, this
module imports only numpy, tokenizers and the models' runtime (through ``runtime``): ``distillery
package`` vendors it, so a packaged hybrid scores exactly as ``distillery`` does.

Each result is the stage that scored the article, plus ``stage`` (0: stopped by the prefilter,
no scores; 1: stage-1 scores, below the threshold; 2: stage-2 scores) and
``stage1_weighted_average`` (None for stage 0).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from distillery.runtime.manifest import MANIFEST
from distillery.runtime.onnx_scorer import OnnxScorer

HYBRID_FILE = "hybrid.json"


class HybridScorer:
    def __init__(
        self,
        hybrid_dir: str | Path,
        threads: int | None = None,
        batch_size: int | None = None,
        threshold: float | None = None,
    ):
        self.dir = Path(hybrid_dir)
        if not (self.dir / HYBRID_FILE).is_file():
            raise FileNotFoundError(f"{self.dir}: not a hybrid dir (no {HYBRID_FILE})")
        self.config = json.loads((self.dir / HYBRID_FILE).read_text())
        self.threshold = float(self.config["threshold"] if threshold is None else threshold)
        self._wire(
            OnnxScorer(self.dir / self.config["stage1"], "int8", threads=threads, batch_size=batch_size),
            OnnxScorer(self.dir / self.config["stage2"], "int8", threads=threads, batch_size=batch_size),
        )

    @classmethod
    def from_scorers(cls, stage1: OnnxScorer, stage2: OnnxScorer, threshold: float) -> HybridScorer:
        """A hybrid around two loaded scorers (what ``tune-hybrid`` times before writing the dir)."""
        self = cls.__new__(cls)
        self.dir, self.config, self.threshold = None, {}, float(threshold)
        self._wire(stage1, stage2)
        return self

    def _wire(self, stage1: OnnxScorer, stage2: OnnxScorer) -> None:
        check_stages(stage1, stage2, self.dir or "hybrid")
        self.stage1, self.stage2 = stage1, stage2
        self.spec, self.prefilter = stage2.spec, stage2.prefilter

    @property
    def dimensions(self) -> list[str]:
        return self.spec.dimension_names

    def score_batch(self, articles: Sequence[dict]) -> list[dict[str, Any]]:
        articles = list(articles)
        verdicts = [self.prefilter.check(a) for a in articles]
        out: list[dict[str, Any]] = [
            {
                "id": a.get("id"),
                "scores": None,
                "weighted_average": None,
                "tier": None,
                "confidence": None,
                "interval": None,
                "needs_review": None,
                "passed_prefilter": False,
                "prefilter_reason": v.reason,
                "stage": 0,
                "stage1_weighted_average": None,
            }
            for a, v in zip(articles, verdicts)
        ]
        passed = [i for i, v in enumerate(verdicts) if v.passed]
        for i, r in zip(passed, self.stage1.score_batch([articles[i] for i in passed])):
            out[i] = {**r, "stage": 1, "stage1_weighted_average": r["weighted_average"]}
        go = [i for i in passed if out[i]["weighted_average"] >= self.threshold]
        for i, r in zip(go, self.stage2.score_batch([articles[i] for i in go])):
            out[i] = {**r, "stage": 2, "stage1_weighted_average": out[i]["stage1_weighted_average"]}
        return out

    def score(self, article: dict) -> dict[str, Any]:
        return self.score_batch([article])[0]


def check_stages(stage1: OnnxScorer, stage2: OnnxScorer, where: Any) -> None:
    """Both stages must score the same filter version with the same dimensions."""
    if stage1.spec.ref != stage2.spec.ref or stage1.dimensions != stage2.dimensions:
        raise ValueError(
            f"{where}: stage 1 scores {stage1.spec.ref} {stage1.dimensions}, "
            f"stage 2 scores {stage2.spec.ref} {stage2.dimensions}: they must be the same filter"
        )


def load_scorer(path: str | Path, threads: int | None = None, batch_size: int | None = None) -> Any:
    """A hybrid dir's :class:`HybridScorer`, or an export dir's INT8 :class:`OnnxScorer`."""
    p = Path(path)
    if (p / HYBRID_FILE).is_file():
        return HybridScorer(p, threads=threads, batch_size=batch_size)
    if (p / MANIFEST).is_file():
        return OnnxScorer(p, "int8", threads=threads, batch_size=batch_size)
    raise FileNotFoundError(f"{p}: neither an export dir ({MANIFEST}) nor a hybrid dir ({HYBRID_FILE})")

"""Context strategies: which tokens of an article the model sees.

One object is used at training, evaluation and export/inference, so a model never sees a
different view at inference. All lengths are in the model's own tokens (token-exact), and
``max_tokens`` includes the tokenizer's special tokens.

  truncate   first ``max_tokens`` tokens                      (trunc512 / trunc1024 / trunc2048)
  head_tail  first ``head`` + separator + last tokens, filling ``max_tokens`` exactly; an
             article that fits is left whole
  chunked    windows of ``max_tokens`` with ``stride``; each window carries the article's labels
             in training, and window predictions are aggregated (``mean`` or ``max``) per article
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

_SPECIALS: dict[int, tuple[list[int], list[int]]] = {}


def special_tokens(tokenizer: Any) -> tuple[list[int], list[int]]:
    """The special token ids the tokenizer puts before and after a text (e.g. [CLS] / [SEP])."""
    key = id(tokenizer)
    if key not in _SPECIALS:
        bare = tokenizer("a", add_special_tokens=False)["input_ids"]
        full = tokenizer("a", add_special_tokens=True)["input_ids"]
        i = next(i for i in range(len(full) - len(bare) + 1) if full[i : i + len(bare)] == bare)
        _SPECIALS[key] = (full[:i], full[i + len(bare) :])
    return _SPECIALS[key]

STRATEGIES = ("truncate", "head_tail", "chunked")


@dataclass(frozen=True)
class ContextStrategy:
    kind: str = "truncate"
    max_tokens: int = 512
    head: int = 256
    separator: str = "\n[...]\n"
    stride: int = 384
    max_chunks: int = 8
    aggregate: str = "mean"

    def __post_init__(self) -> None:
        if self.kind not in STRATEGIES:
            raise ValueError(f"context_strategy.kind must be one of {STRATEGIES}, got {self.kind!r}")
        if self.aggregate not in ("mean", "max"):
            raise ValueError(f"context_strategy.aggregate must be mean or max, got {self.aggregate!r}")
        if self.kind == "head_tail" and not 0 < self.head < self.max_tokens:
            raise ValueError("context_strategy.head must be between 0 and max_tokens")

    @classmethod
    def from_config(cls, cfg: Any) -> "ContextStrategy":
        fields = cls.__dataclass_fields__
        return cls(**{k: v for k, v in dict(cfg).items() if k in fields})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def text_of(article: dict) -> str:
        """The text a model reads for an article (title + content)."""
        title = (article.get("title") or "").strip()
        return f"{title}\n\n{article['content']}" if title else article["content"]

    def views(self, ids: list[int], tokenizer: Any) -> list[list[int]]:
        """Token views (with special tokens) of one article's content tokens ``ids``."""
        prefix, suffix = special_tokens(tokenizer)
        budget = self.max_tokens - len(prefix) - len(suffix)

        def wrap(x: list[int]) -> list[int]:
            return prefix + x + suffix

        if len(ids) <= budget:
            return [wrap(ids)]
        if self.kind == "truncate":
            return [wrap(ids[:budget])]
        if self.kind == "head_tail":
            sep = tokenizer.encode(self.separator, add_special_tokens=False)
            tail = budget - self.head - len(sep)
            return [wrap(ids[: self.head] + sep + ids[len(ids) - tail :])]
        chunks, start = [], 0
        while start < len(ids) and len(chunks) < self.max_chunks:
            chunks.append(wrap(ids[start : start + budget]))
            if start + budget >= len(ids):
                break
            start += self.stride
        return chunks

    def encode(self, texts: list[str], tokenizer: Any) -> tuple[list[list[int]], list[int]]:
        """Views for a batch of texts, and for each view the index of its text."""
        all_ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
        views, owners = [], []
        for i, ids in enumerate(all_ids):
            for v in self.views(ids, tokenizer):
                views.append(v)
                owners.append(i)
        return views, owners

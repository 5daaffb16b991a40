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
    name: str | None = None  # the config option's name (trunc512, head_tail, ...), kept in run dirs and manifests

    def __post_init__(self) -> None:
        if self.kind not in STRATEGIES:
            raise ValueError(f"context_strategy.kind must be one of {STRATEGIES}, got {self.kind!r}")
        if self.aggregate not in ("mean", "max"):
            raise ValueError(f"context_strategy.aggregate must be mean or max, got {self.aggregate!r}")
        if self.kind == "head_tail" and not 0 < self.head < self.max_tokens:
            raise ValueError("context_strategy.head must be between 0 and max_tokens")

    @classmethod
    def from_config(cls, cfg: Any) -> ContextStrategy:
        fields = cls.__dataclass_fields__
        return cls(**{k: v for k, v in dict(cfg).items() if k in fields})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def text_of(article: dict) -> str:
        """The text a model reads for an article (title + content)."""
        title = (article.get("title") or "").strip()
        return f"{title}\n\n{article['content']}" if title else article["content"]

    @staticmethod
    def content_ids(texts: list[str], tokenizer: Any) -> list[list[int]]:
        """Each text's content token ids (no special tokens, never truncated: the strategy cuts).

        ``verbose=False``: transformers otherwise logs "Token indices sequence length is longer than
        the specified maximum ... indexing errors" for any article longer than the model, which is
        harmless here since no view the model sees exceeds ``max_tokens``."""
        return tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]

    def budget(self, n_special: int) -> int:
        """Content tokens one view holds (``max_tokens`` minus the special tokens)."""
        return self.max_tokens - n_special

    def sees_all(self, n_content: int, n_special: int) -> bool:
        """Whether the views of an article with ``n_content`` content tokens cover all of it."""
        budget = self.budget(n_special)
        if self.kind == "chunked":
            return n_content <= budget + self.stride * (self.max_chunks - 1)
        return n_content <= budget

    def view_ids(
        self, ids: list[int], prefix: list[int], suffix: list[int], separator_ids: list[int] | None = None
    ) -> list[list[int]]:
        """Token views of one article's content tokens ``ids``: the tokenizer-agnostic core.

        ``prefix``/``suffix``: the special token ids around a text (see :func:`special_tokens`);
        ``separator_ids``: ``separator`` tokenized without special tokens (head_tail only). Plain
        int lists in and out, so an exported scorer reproduces the views with ``tokenizers`` alone.
        """
        budget = self.budget(len(prefix) + len(suffix))

        def wrap(x: list[int]) -> list[int]:
            return list(prefix) + list(x) + list(suffix)

        if len(ids) <= budget:
            return [wrap(ids)]
        if self.kind == "truncate":
            return [wrap(ids[:budget])]
        if self.kind == "head_tail":
            sep = list(separator_ids or [])
            tail = budget - self.head - len(sep)
            return [wrap(list(ids[: self.head]) + sep + list(ids[len(ids) - tail :]))]
        chunks, start = [], 0
        while start < len(ids) and len(chunks) < self.max_chunks:
            chunks.append(wrap(ids[start : start + budget]))
            if start + budget >= len(ids):
                break
            start += self.stride
        return chunks

    def encode_ids(
        self, all_ids: list[list[int]], prefix: list[int], suffix: list[int], separator_ids: list[int] | None = None
    ) -> tuple[list[list[int]], list[int]]:
        """Views for a batch of tokenized texts, and for each view the index of its text."""
        views, owners = [], []
        for i, ids in enumerate(all_ids):
            for v in self.view_ids(ids, prefix, suffix, separator_ids):
                views.append(v)
                owners.append(i)
        return views, owners

    def separator_ids(self, tokenizer: Any) -> list[int]:
        """``separator`` in the tokenizer's ids (empty unless head_tail)."""
        if self.kind != "head_tail":
            return []
        return list(tokenizer.encode(self.separator, add_special_tokens=False))

    def views(self, ids: list[int], tokenizer: Any) -> list[list[int]]:
        """Token views (with special tokens) of one article's content tokens ``ids``."""
        prefix, suffix = special_tokens(tokenizer)
        return self.view_ids(ids, prefix, suffix, self.separator_ids(tokenizer))

    def encode(self, texts: list[str], tokenizer: Any) -> tuple[list[list[int]], list[int]]:
        """Views for a batch of texts, and for each view the index of its text."""
        all_ids = self.content_ids(texts, tokenizer)
        prefix, suffix = special_tokens(tokenizer)
        return self.encode_ids(all_ids, prefix, suffix, self.separator_ids(tokenizer))

"""The Lightning datamodule: records -> context-strategy views -> length-grouped batches.

Sources (``data.source``): ``synthetic`` (the seeded corpus with known scores, generated on
first use and cached) or ``jsonl`` (``data.path``: a folder with train/val/test ``.jsonl``
files, or one file that is split stratified by tier). Tokenized splits are cached on disk
(HF ``datasets`` arrow files) keyed by the data, tokenizer and context strategy.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader
from torch.utils.data import Dataset as TorchDataset

from distillery.data.records import SPLITS, TRAIN_SKIP_HINT, jsonl_data_files, read_records, write_jsonl
from distillery.data.split import holds_out_synthetic, is_synthetic, label_matrix, stratified_split
from distillery.errors import DistilleryError
from distillery.filters.spec import FilterSpec
from distillery.runtime.context import ContextStrategy, special_tokens


def synthetic_corpus_file(spec: FilterSpec, n: int, seed: int, cache: Path) -> Path:
    """Cache path keyed by the generator's source and the spec, so a changed generator or spec
    never serves a stale corpus."""
    from distillery.data import synthetic

    digest = hashlib.sha256(synthetic.generator_source() + spec.model_dump_json().encode()).hexdigest()[:10]
    return cache / "synthetic" / f"{spec.name}_v{spec.version}_n{n}_seed{seed}_{digest}.jsonl"


def synthetic_corpus_path(spec: FilterSpec, n: int, seed: int, cache: Path) -> Path:
    """The cached synthetic corpus file for (filter, n, seed), generated on first use."""
    from distillery.data.synthetic import generate_corpus

    path = synthetic_corpus_file(spec, n, seed, cache)
    if not path.is_file():
        write_jsonl(path, generate_corpus(spec, n=n, seed=seed))
    return path


def load_split_records(cfg: Any, spec: FilterSpec, cache: Path) -> tuple[dict[str, list[dict]], list[str]]:
    """Records per split and the list of skipped-line reports (empty unless skip_invalid)."""
    splits, skipped, _ = load_splits(cfg, spec, cache)
    return splits, skipped


def load_splits(cfg: Any, spec: FilterSpec, cache: Path) -> tuple[dict[str, list[dict]], list[str], dict]:
    """Records per split, skipped-line reports, and the split report (:func:`distillery.data.dedupe.split_report`).

    jsonl data is deduplicated (:mod:`distillery.data.dedupe`): within a file exact duplicates are
    dropped and near-duplicates kept in one split, like records sharing a ``group``; across given
    train/val/test files a duplicate is an error (or, with ``skip_invalid``, dropped from the later
    split and listed in the skipped reports). The embedded synthetic corpus is split as generated.
    """
    from distillery.data.dedupe import DEFAULT_THRESHOLD, check_disjoint, dedupe, split_groups, split_report

    skip = bool(cfg.get("skip_invalid", False))
    threshold = float(cfg.get("near_dup_threshold") or DEFAULT_THRESHOLD)
    near = str(cfg.get("near_dups") or "group")
    split_seed = cfg.get("split_seed")
    split_seed = int(split_seed if split_seed is not None else 0)
    if cfg.source == "synthetic":
        files: dict[str, Path] | Path = synthetic_corpus_path(spec, int(cfg.n), int(cfg.corpus_seed), cache)
    elif cfg.source == "jsonl":
        files = jsonl_data_files(cfg.get("path"))
    else:
        raise DistilleryError(f"data.source must be synthetic or jsonl, got {cfg.source!r}")

    # records tagged "synthetic" stay in train (val/test measure real data) unless data.synthetic_in_eval
    in_eval = bool(cfg.get("synthetic_in_eval", False))
    reports: dict = {}
    cross: list = []
    if isinstance(files, Path):
        report = read_records([files], spec, skip, TRAIN_SKIP_HINT)
        skipped = report.skipped
        if cfg.source == "synthetic":  # generated: no duplicates by construction, split as generated
            splits = stratified_split(report.records, spec, list(cfg.split), split_seed, in_eval)
        else:
            kept, reports[str(files)] = dedupe(report.records, threshold, near, report.where, name=str(files))
            splits = split_groups(kept, spec, list(cfg.split), split_seed, in_eval, reports[str(files)].links)
    else:
        splits, where, skipped = {}, {}, []
        links: dict[str, list] = {}
        for s, f in files.items():
            report = read_records([f], spec, skip, TRAIN_SKIP_HINT)
            recs, rep = dedupe(report.records, threshold, near, report.where, name=str(f))
            keep = {id(r) for r in recs}
            splits[s], where[s] = recs, [w for r, w in zip(report.records, report.where) if id(r) in keep]
            reports[str(f)], links[s] = rep, rep.links
            skipped = skipped + report.skipped
        splits, cross = check_disjoint(splits, where, threshold, skip)
        skipped = skipped + [f"{d}: dropped from the later split" for d in cross]
        if holds_out_synthetic([r for recs in splits.values() for r in recs], in_eval):
            for s in ("val", "test"):
                bad = [r.get("id") for r in splits.get(s, []) if is_synthetic(r)]
                if bad:
                    raise DistilleryError(
                        f"{files[s]}: {len(bad)} synthetic record(s) in the {s} split (first: id {bad[0]!r}); synthetic "
                        "data is kept out of val/test: move them to train.jsonl or set data.synthetic_in_eval=true"
                    )
        if "val" not in splits:  # carve val out of train, stratified, whole near-duplicate groups
            # train comes first, so check_disjoint never drops from it: its links still index it
            parts = split_groups(splits["train"], spec, [0.9, 0.1, 0.0], split_seed, in_eval, links["train"])
            splits["train"], splits["val"] = parts["train"], parts["val"]
        splits.setdefault("test", [])
    if not splits["train"] or not splits["val"]:
        raise DistilleryError("data: train and val splits must both be non-empty")
    return splits, skipped, split_report(splits, threshold, reports, cross)


class _Tokenized(TorchDataset):
    """Views with their labels and the index of the article they came from."""

    def __init__(self, ds: Any):
        self.input_ids = ds["input_ids"]
        self.labels = ds["labels"]
        self.article = ds["article"]
        self.lengths = [len(x) for x in self.input_ids]

    def __len__(self) -> int:
        return len(self.input_ids)

    def __getitem__(self, i: int) -> dict:
        return {"input_ids": self.input_ids[i], "labels": self.labels[i], "article": self.article[i]}


class LengthGroupedSampler(torch.utils.data.Sampler):
    """transformers' length grouping (random mega-batches of ``mult * batch_size``, sorted by length
    inside, longest batch first), re-drawn every epoch. ``mult=None`` is transformers' default
    (50, or fewer so that there are at least 4 mega-batches)."""

    def __init__(self, lengths: list[int], batch_size: int, generator: torch.Generator, mult: int | None = None):
        self.lengths, self.batch_size, self.generator, self.mult = lengths, batch_size, generator, mult

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self):
        from transformers.trainer_pt_utils import get_length_grouped_indices

        return iter(get_length_grouped_indices(self.lengths, self.batch_size, self.mult, self.generator))


class Collator:
    """Pad a batch to its longest view (or to ``pad_to`` tokens, the pad-to-max baseline)."""

    def __init__(self, pad_id: int, pad_to: int | None = None):
        self.pad_id, self.pad_to = pad_id, pad_to

    def __call__(self, items: list[dict]) -> dict[str, torch.Tensor]:
        width = self.pad_to or max(len(x["input_ids"]) for x in items)
        ids = torch.full((len(items), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(items), width), dtype=torch.long)
        for i, x in enumerate(items):
            n = len(x["input_ids"])
            ids[i, :n] = torch.tensor(x["input_ids"])
            mask[i, :n] = 1
        return {
            "input_ids": ids,
            "attention_mask": mask,
            "labels": torch.tensor([x["labels"] for x in items], dtype=torch.float32),
            "article": torch.tensor([x["article"] for x in items], dtype=torch.long),
        }


def tokenize_split(
    records: list[dict], spec: FilterSpec, tokenizer: Any, strategy: ContextStrategy, cache: Path | None
) -> _Tokenized:
    """Tokenize records with the context strategy, cached on disk as an arrow file."""
    import datasets

    datasets.disable_progress_bars()

    texts = [ContextStrategy.text_of(r) for r in records]
    labels = label_matrix(records, spec).tolist() if records else []
    key = hashlib.sha256(
        json.dumps(
            [texts, labels, strategy.to_dict(), tokenizer.name_or_path, len(tokenizer), special_tokens(tokenizer)]
        ).encode()
    ).hexdigest()[:24]

    def fn(batch: dict, idx: list[int]) -> dict:
        views, owners = strategy.encode(batch["text"], tokenizer)
        return {"input_ids": views, "labels": [batch["labels"][o] for o in owners], "article": [idx[o] for o in owners]}

    if not records:  # an empty split (e.g. data.split=[0.8,0.2,0.0]): nothing to map
        return _Tokenized({"input_ids": [], "labels": [], "article": []})
    ds = datasets.Dataset.from_dict({"text": texts, "labels": labels})
    kwargs: dict[str, Any] = {}
    if cache is not None:
        (cache / "tokenized").mkdir(parents=True, exist_ok=True)
        kwargs = {"cache_file_name": str(cache / "tokenized" / f"{key}.arrow"), "load_from_cache_file": True}
    ds = ds.map(fn, batched=True, with_indices=True, remove_columns=["text", "labels"], batch_size=256, **kwargs)
    return _Tokenized(ds)


class ArticleDataModule(L.LightningDataModule):
    def __init__(
        self,
        cfg: Any,
        spec: FilterSpec,
        tokenizer: Any,
        strategy: ContextStrategy,
        cache_dir: str | Path,
        seed: int = 0,
    ):
        super().__init__()
        self.cfg, self.spec, self.tokenizer, self.strategy = cfg, spec, tokenizer, strategy
        self.cache = Path(cache_dir)
        self.seed = seed
        self.records: dict[str, list[dict]] = {}
        self.data: dict[str, _Tokenized] = {}
        self.skipped: list[str] = []
        # sizes, sha256 fingerprint per split, cross_split_duplicates (0 after splitting), what
        # deduplication dropped or linked: see distillery.data.dedupe.split_report
        self.split_report: dict = {}

    def setup(self, stage: str | None = None) -> None:
        if self.data:
            return
        self.records, self.skipped, self.split_report = load_splits(self.cfg, self.spec, self.cache)
        cache = self.cache if self.cfg.get("cache_tokenized", True) else None
        for s in SPLITS:
            self.data[s] = tokenize_split(self.records[s], self.spec, self.tokenizer, self.strategy, cache)

    def label_stats(self) -> tuple[np.ndarray, np.ndarray]:
        y = label_matrix(self.records["train"], self.spec)
        return y.mean(0), y.std(0)

    def _loader(self, split: str, train: bool) -> DataLoader:
        ds = self.data[split]
        bs = int(self.cfg.batch_size if train else self.cfg.get("eval_batch_size", self.cfg.batch_size))
        pad_to = self.strategy.max_tokens if self.cfg.get("pad_to_max", False) else None
        gen = torch.Generator().manual_seed(self.seed)
        if train and self.cfg.get("group_by_length", True):
            sampler: Any = LengthGroupedSampler(ds.lengths, bs, gen, self.cfg.get("megabatch_mult"))
        elif train:
            sampler = torch.utils.data.RandomSampler(ds, generator=gen)
        else:  # evaluation: longest first, no shuffling (deterministic, least padding)
            sampler = sorted(range(len(ds)), key=lambda i: -ds.lengths[i])
        return DataLoader(
            ds,
            batch_size=bs,
            sampler=sampler,
            collate_fn=Collator(self.tokenizer.pad_token_id, pad_to),
            num_workers=int(self.cfg.get("num_workers", 0)),
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", False)

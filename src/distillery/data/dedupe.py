"""Duplicates and groups: the one place that decides which records may not straddle splits.

Every path that builds or merges a data set (``data=jsonl`` with one file or a folder,
``distillery prepare``; later the active-learning merge and ``synthesize`` output) goes through
this module, so that val and test never contain an article the model saw in train.

Two records are

* **exact duplicates** when their normalised text is equal: title + content, lowercased, with
  every run of whitespace collapsed to one space (:func:`normalise`, :func:`content_hash`);
* **near-duplicates** when the Jaccard similarity of their word 5-gram shingles is at least
  ``threshold`` (``data.near_dup_threshold``, default :data:`DEFAULT_THRESHOLD` = 0.8).
  Candidates come from MinHash LSH (``datasketch``, 128 permutations, tuned 0.25 below the
  threshold and weighted against misses) and every candidate is then verified with the exact
  Jaccard of the shingle sets, so no pair below the threshold is ever reported (LSH may, rarely,
  miss a pair at the threshold; pairs well above it are found with near certainty).

Why word 5-grams and 0.8: changing one word of an article breaks at most 5 of its 5-grams, so a
re-edited copy of a 400-word story (a corrected figure, a new headline, a dateline) keeps a
Jaccard far above 0.9, while two different stories on the same topic share few 5-grams (typically
< 0.2). 0.8 sits well between them: it catches light edits and syndicated copies with a changed
paragraph, and does not merge distinct articles that merely reuse stock phrases. Short texts
(under 5 words) are compared by their whole word sequence. Lower it (e.g. 0.5) to also catch
heavier rewrites; 1.0 keeps only identical shingle sets.

**Groups**: a record may carry an optional ``"group"`` (the same source story, the same writer,
...). Records sharing a group, or linked as near-duplicates, form one component (union-find), and
:func:`split_groups` splits whole components, stratified by tier as
:func:`distillery.data.split.stratified_split` does (with no links and no groups it is exactly
``stratified_split``).

Within one set, :func:`dedupe` drops exact duplicates (the first occurrence wins) and, by
default, keeps near-duplicates but links them (``near="group"``: they are distinct articles and
may carry distinct labels, but they go to the same split); ``near="drop"`` drops them too.
Across given train/val/test files, :func:`check_disjoint` makes any duplicate an error naming
both ``file:line``\\ s, or (``skip``) drops it from the later split and reports it.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from distillery.errors import DistilleryError

if TYPE_CHECKING:
    from distillery.filters.spec import FilterSpec

log = logging.getLogger("distillery.data")

DEFAULT_THRESHOLD = 0.8
SHINGLE_WORDS = 5
NUM_PERM = 128
SPLITS = ("train", "val", "test")
_MASK32 = 0xFFFFFFFF


# ---- text identity ------------------------------------------------------------------------------
def normalise(rec: dict) -> str:
    """Title + content, lowercased, whitespace collapsed: the text two duplicates share."""
    return " ".join(f"{rec.get('title') or ''}\n{rec.get('content') or ''}".lower().split())


def content_hash(rec: dict) -> str:
    """sha256 of :func:`normalise` (exact-duplicate identity)."""
    return hashlib.sha256(normalise(rec).encode("utf-8")).hexdigest()


def fingerprint(records: Iterable[dict]) -> str:
    """sha256 over the sorted content hashes of a split: equal iff the split holds the same articles."""
    h = hashlib.sha256()
    for c in sorted(content_hash(r) for r in records):
        h.update(c.encode())
    return h.hexdigest()


@functools.lru_cache(maxsize=1 << 20)
def _word_id(word: str) -> int:
    return zlib.crc32(word.encode("utf-8"))


def shingles(rec: dict, k: int = SHINGLE_WORDS) -> frozenset[int]:
    """The record's word ``k``-grams (of :func:`normalise`), each as a 64-bit hash (stable across
    processes: crc32 per word, then the hash of the tuple of ints); the whole word sequence when
    shorter than ``k`` words."""
    ids = list(map(_word_id, normalise(rec).split()))
    if len(ids) < k:
        return frozenset([hash(tuple(ids))])
    return frozenset(map(hash, zip(*(ids[i:] for i in range(k)))))


def jaccard(a: frozenset[int], b: frozenset[int]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def group_of(rec: dict) -> str | None:
    g = rec.get("group")
    return None if g is None or g == "" else str(g)


@dataclass
class Duplicate:
    """``later`` duplicates ``earlier`` (both are locations, e.g. ``data/val.jsonl:3``)."""

    later: str
    earlier: str
    kind: Literal["exact", "near", "group"]
    jaccard: float = 1.0
    group: str | None = None
    labels_differ: bool = False

    def __str__(self) -> str:
        if self.kind == "group":
            return f"{self.later} shares group {self.group!r} with {self.earlier}"
        what = "exact duplicate" if self.kind == "exact" else f"near-duplicate, Jaccard {self.jaccard:.2f}"
        return f"{self.later} duplicates {self.earlier} ({what})"

    def to_dict(self) -> dict:
        return {
            "later": self.later,
            "earlier": self.earlier,
            "kind": self.kind,
            "jaccard": round(self.jaccard, 4),
            **({"group": self.group} if self.group is not None else {}),
        }


class DuplicateIndex:
    """Records added so far, queried for an exact or near duplicate of a new record."""

    def __init__(self, threshold: float = DEFAULT_THRESHOLD):
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"near-duplicate threshold must be in (0, 1], got {threshold}")
        self.threshold = threshold
        self._exact: dict[str, str] = {}
        self._shingles: dict[str, frozenset[int]] = {}
        self._lsh: Any = None
        self._perm: Any = None

    def _minhash(self, sh: frozenset[int]) -> Any:
        from datasketch import MinHash

        if self._perm is None:  # drawn once: generating permutations per MinHash dominates the cost
            first = MinHash(num_perm=NUM_PERM, seed=1)
            self._perm = (first.permutations, first.scheme)
        m = MinHash(
            num_perm=NUM_PERM, seed=1, hashfunc=_MASK32.__and__, permutations=self._perm[0], scheme=self._perm[1]
        )
        m.update_batch(list(sh))
        return m

    def _lsh_index(self) -> Any:
        if self._lsh is None:
            from datasketch import MinHashLSH

            # candidates only: LSH is tuned well below the threshold and weighted against misses
            # (false negatives), and every candidate is verified with the exact Jaccard
            lsh_threshold = min(0.95, max(0.05, self.threshold - 0.25))
            self._lsh = MinHashLSH(threshold=lsh_threshold, num_perm=NUM_PERM, weights=(0.1, 0.9))
        return self._lsh

    def matches(
        self, rec: dict, h: str | None = None, sh: frozenset[int] | None = None, mh: Any = None
    ) -> list[tuple[str, str, float]]:
        """Every earlier record this one duplicates: [(key, "exact" | "near", Jaccard)], best first."""
        h = h or content_hash(rec)
        if h in self._exact:
            return [(self._exact[h], "exact", 1.0)]
        if not self._shingles:
            return []
        sh = sh if sh is not None else shingles(rec)
        mh = mh if mh is not None else self._minhash(sh)
        hits = []
        for key in self._lsh_index().query(mh):
            j = jaccard(sh, self._shingles[key])
            if j >= self.threshold:
                hits.append((key, "near", j))
        return sorted(hits, key=lambda t: (-t[2], t[0]))

    def match(
        self, rec: dict, h: str | None = None, sh: frozenset[int] | None = None, mh: Any = None
    ) -> tuple[str, str, float] | None:
        """The best earlier duplicate (key, "exact" | "near", Jaccard) or None."""
        hits = self.matches(rec, h, sh, mh)
        return hits[0] if hits else None

    def add(self, key: str, rec: dict, h: str | None = None, sh: frozenset[int] | None = None, mh: Any = None) -> None:
        h = h or content_hash(rec)
        self._exact.setdefault(h, key)
        if key in self._shingles:
            return
        sh = sh if sh is not None else shingles(rec)
        self._shingles[key] = sh
        self._lsh_index().insert(key, mh if mh is not None else self._minhash(sh))

    def check_and_add(self, key: str, rec: dict) -> list[tuple[str, str, float]]:
        """:meth:`matches`, then :meth:`add` unless it is an exact duplicate."""
        h = content_hash(rec)
        sh = shingles(rec)
        mh = self._minhash(sh)
        hits = self.matches(rec, h, sh, mh)
        if not (hits and hits[0][1] == "exact"):
            self.add(key, rec, h, sh, mh)
        return hits

    def remove(self, key: str) -> None:
        if self._shingles.pop(key, None) is not None:
            self._lsh_index().remove(key)


# ---- one set --------------------------------------------------------------------------------------
@dataclass
class DedupeReport:
    """What :func:`dedupe` found: dropped duplicates, kept near-duplicate links, label conflicts."""

    n_in: int = 0
    n_kept: int = 0
    threshold: float = DEFAULT_THRESHOLD
    dropped: list[Duplicate] = field(default_factory=list)  # exact (and near, with near="drop")
    near_links: list[Duplicate] = field(default_factory=list)  # kept, but put in the same split
    links: list[tuple[int, int]] = field(default_factory=list)  # (earlier, later) indices into `kept`

    @property
    def exact_dropped(self) -> int:
        return sum(d.kind == "exact" for d in self.dropped)

    @property
    def near_dropped(self) -> int:
        return sum(d.kind == "near" for d in self.dropped)

    @property
    def labels_differ(self) -> int:
        return sum(d.labels_differ for d in self.dropped)

    def summary(self, name: str = "data") -> str:
        return (
            f"{name}: {len(self.dropped)} duplicate(s) dropped of {self.n_in} records "
            f"({self.exact_dropped} exact, {self.near_dropped} near at Jaccard >= {self.threshold}; "
            f"{self.labels_differ} with different labels), {len(self.near_links)} near-duplicate pair(s) "
            f"kept together in one split"
        )

    def to_dict(self) -> dict:
        return {
            "records_in": self.n_in,
            "records_kept": self.n_kept,
            "threshold": self.threshold,
            "exact_dropped": self.exact_dropped,
            "near_dropped": self.near_dropped,
            "dropped_with_different_labels": self.labels_differ,
            "near_duplicate_pairs_kept": len(self.near_links),
            "dropped": [d.to_dict() for d in self.dropped[:100]],
            "near_links": [d.to_dict() for d in self.near_links[:100]],
        }


def _labels_differ(a: dict, b: dict) -> bool:
    la, lb = a.get("labels"), b.get("labels")
    if not isinstance(la, dict) or not isinstance(lb, dict):
        return False
    if set(la) != set(lb):
        return True
    try:
        return any(abs(float(la[k]) - float(lb[k])) > 1e-9 for k in la)
    except (TypeError, ValueError):
        return la != lb


def dedupe(
    records: Sequence[dict],
    threshold: float = DEFAULT_THRESHOLD,
    near: Literal["group", "drop"] = "group",
    where: Sequence[str] | None = None,
    name: str = "data",
    warn: bool = True,
) -> tuple[list[dict], DedupeReport]:
    """Drop exact duplicates (first occurrence wins); link (``near="group"``) or drop near-duplicates.

    ``where``: a location per record (``file:line``) for the report; default ``#<1-based index>``.
    Returns the kept records (input order) and a :class:`DedupeReport` whose ``links`` index into
    them; pass those to :func:`split_groups`. Logs one warning line when anything was found.
    """
    if near not in ("group", "drop"):
        raise ValueError(f"near must be 'group' or 'drop', got {near!r}")
    where = list(where) if where is not None else [f"#{i + 1}" for i in range(len(records))]
    index = DuplicateIndex(threshold)
    report = DedupeReport(n_in=len(records), threshold=threshold)
    kept: list[dict] = []
    pos: dict[str, int] = {}  # location -> index in kept
    for rec, loc in zip(records, where):
        hits = index.check_and_add(loc, rec)
        if hits:
            key, kind, j = hits[0]
            dup = Duplicate(loc, key, kind, j, labels_differ=_labels_differ(kept[pos[key]], rec))  # type: ignore[arg-type]
            if kind == "exact" or near == "drop":
                report.dropped.append(dup)
                index.remove(loc)  # a dropped near-duplicate must not match later records either
                continue
            report.near_links.append(dup)
            # link to every earlier match, so chains of near-duplicates stay one component
            report.links.extend((pos[k], len(kept)) for k, _, _ in hits)
        pos[loc] = len(kept)
        kept.append(rec)
    report.n_kept = len(kept)
    if warn and (report.dropped or report.near_links):
        log.warning(report.summary(name))
    return kept, report


# ---- components and splits ------------------------------------------------------------------------
def components(records: Sequence[dict], links: Iterable[tuple[int, int]] = ()) -> list[int]:
    """A component id per record (union-find over duplicate ``links`` and shared ``group`` fields);
    ids are the index of each component's first record."""
    parent = list(range(len(records)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    first_of_group: dict[str, int] = {}
    for i, r in enumerate(records):
        g = group_of(r)
        if g is not None:
            union(first_of_group.setdefault(g, i), i)
    for a, b in links:
        union(a, b)
    return [find(i) for i in range(len(records))]


def split_groups(
    records: Sequence[dict],
    spec: FilterSpec,
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    synthetic_in_eval: bool = False,
    links: Iterable[tuple[int, int]] = (),
) -> dict[str, list[dict]]:
    """:func:`~distillery.data.split.stratified_split` over whole components (see :func:`components`).

    Each component is stratified by the tier of its members' mean labels; a component holding
    any record tagged ``"synthetic"`` counts as synthetic (train only when held out). With every
    component a single record this is exactly ``stratified_split(records, ...)``.
    """
    from distillery.data.split import is_synthetic, stratified_split

    comp = components(records, links)
    if all(c == i for i, c in enumerate(comp)):
        return stratified_split(records, spec, fractions, seed, synthetic_in_eval)
    members: dict[int, list[int]] = {}
    for i, c in enumerate(comp):
        members.setdefault(c, []).append(i)
    reps: list[dict] = []
    owner: dict[int, list[int]] = {}
    for idx in members.values():
        if len(idx) == 1:
            rep = records[idx[0]]
        else:
            dims = spec.dimension_names
            rep = {
                "labels": {d: sum(float(records[i]["labels"][d]) for i in idx) / len(idx) for d in dims},
                "synthetic": any(is_synthetic(records[i]) for i in idx),
            }
        reps.append(rep)
        owner[id(rep)] = idx
    parts = stratified_split(reps, spec, fractions, seed, synthetic_in_eval)
    out: dict[str, list[dict]] = {}
    for name, rs in parts.items():
        idx = sorted(i for r in rs for i in owner[id(r)])
        out[name] = [records[i] for i in idx]
    return out


# ---- several given splits -------------------------------------------------------------------------
def check_disjoint(
    splits: dict[str, list[dict]],
    where: dict[str, list[str]] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    skip: bool = False,
    order: Sequence[str] = SPLITS,
) -> tuple[dict[str, list[dict]], list[Duplicate]]:
    """Make given splits disjoint: no record of a later split (in ``order``) may duplicate (exactly
    or nearly) or share a ``group`` with a record of an earlier one.

    Raises DistilleryError listing every such record (``data/val.jsonl:3 duplicates
    data/train.jsonl:17 (near-duplicate, Jaccard 0.91)``) unless ``skip``, in which case they are
    dropped from the later split and returned.
    """
    where = where or {s: [f"{s}#{i + 1}" for i in range(len(rs))] for s, rs in splits.items()}
    index = DuplicateIndex(threshold)
    groups: dict[str, str] = {}
    found: list[Duplicate] = []
    out: dict[str, list[dict]] = {}
    for s in [s for s in order if s in splits] + [s for s in splits if s not in order]:
        pending: list[tuple[str, dict, str, frozenset[int], Any]] = []
        out[s] = []
        for rec, loc in zip(splits[s], where[s]):
            h, sh = content_hash(rec), shingles(rec)
            mh = index._minhash(sh)
            hit = index.match(rec, h, sh, mh)
            g = group_of(rec)
            if hit is not None:
                found.append(Duplicate(loc, hit[0], hit[1], hit[2]))  # type: ignore[arg-type]
                continue
            if g is not None and g in groups:
                found.append(Duplicate(loc, groups[g], "group", group=g))
                continue
            out[s].append(rec)
            pending.append((loc, rec, h, sh, mh))
        for loc, rec, h, sh, mh in pending:  # within a split: dedupe()'s business, not checked here
            index.add(loc, rec, h, sh, mh)
            g = group_of(rec)
            if g is not None:
                groups.setdefault(g, loc)
    if found and not skip:
        lines = "\n".join(map(str, found[:50])) + (f"\n... and {len(found) - 50} more" if len(found) > 50 else "")
        raise DistilleryError(
            f"{len(found)} record(s) of a later split duplicate an earlier split "
            f"(val/test must not contain what train holds):\n{lines}\n"
            "remove them, or set data.skip_invalid=true to drop them from the later split and report"
        )
    if found:
        log.warning("%d cross-split duplicate(s) dropped from the later split; first: %s", len(found), found[0])
    return out, found


def cross_split_duplicates(splits: dict[str, list[dict]], threshold: float = DEFAULT_THRESHOLD) -> list[Duplicate]:
    """Every record of a later split that duplicates or shares a group with an earlier one (should be none)."""
    _, found = check_disjoint(splits, threshold=threshold, skip=True) if splits else ({}, [])
    return found


def split_report(
    splits: dict[str, list[dict]],
    threshold: float = DEFAULT_THRESHOLD,
    dedupe_reports: dict[str, DedupeReport] | None = None,
    cross_dropped: Sequence[Duplicate] = (),
    check: bool = True,
) -> dict:
    """What a researcher needs to trust a split: sizes, fingerprints, and the leaks checked for.

    ``cross_split_duplicates`` is counted on the final splits (``None`` when ``check`` is false).
    """
    found = cross_split_duplicates(splits, threshold) if check else None
    return {
        "near_dup_threshold": threshold,
        "sizes": {s: len(rs) for s, rs in splits.items()},
        "fingerprints": {s: fingerprint(rs) for s, rs in splits.items()},
        "cross_split_duplicates": None if found is None else len(found),
        "cross_split_examples": [] if not found else [str(d) for d in found[:10]],
        "cross_split_dropped": len(cross_dropped),
        "cross_split_dropped_examples": [str(d) for d in list(cross_dropped)[:10]],
        "deduplicated": {k: r.to_dict() for k, r in (dedupe_reports or {}).items()},
    }

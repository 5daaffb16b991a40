"""A seeded synthetic news corpus whose scores are known by construction.

It is the embedded default training set: small models must be able to learn the scores from
the text, and context-length experiments must show effects. How an article is built:

* **Scores.** A latent article quality ``q`` (a mixture: 36% off-topic/fluff, the rest broad)
  plus a per-dimension offset and independent noise, clipped to 0-10 and rounded to 0.1, so
  dimensions are correlated but distinguishable. Under ``spec.weighted_average`` + tiers
  (gatekeepers included) uplifting/v6 comes out at roughly 50% low / 40% medium / 10% high.
* **Evidence.** Every dimension gets 1-2 *evidence sentences* whose wording reflects its score
  band (0-2.9, 3-4.9, 5-6.9, 7-8.9, 9-10; four phrasings per band). uplifting/v6 has
  hand-written banks (:data:`PHRASE_BANKS`); any other spec gets graded sentences built from
  each dimension's ``description`` and nearest ``scale`` anchor, so any valid spec works.
* **Layout.** Opening paragraph(s): a neutral lead + evidence for the *head* dimensions.
  Middle: neutral filler (logistics, history, weather, schedules) with no score information.
  Closing paragraph: evidence for the *tail* dimensions + a neutral sign-off. For articles
  longer than 512 tokens about half the dimensions are tail-only and the tail evidence starts
  after token 512, yet all evidence lies within the first/last ~256 tokens: a head-512 model
  misses it, a head+tail (256+256) model sees it. (Budgets fit ~8 dimensions; a spec with
  many more gets one sentence per dimension and its opening/closing may exceed 256 tokens.)
* **Length.** A length bucket (Qwen2.5 tokens: <=512, 512-1024, 1024-2048, >2048) drawn with
  tier-dependent probabilities (high tier longer), overall ~78/12/8.6/1.7%; the text is filled
  to a target using a cheap token estimate calibrated on the real Qwen2.5 tokenizer.

Deterministic for (spec, n, seed): numpy ``default_rng(seed)`` for scores and lengths, one
``random.Random`` per article (seeded from a string, so no hash randomisation) for text.
"""

from __future__ import annotations

import datetime as _dt
import random
import re
import string
import sys
from functools import cache
from typing import Any

import numpy as np

from distillery.data import phrases as P
from distillery.data import scaffold_phrases as S
from distillery.filters.spec import FilterSpec

__all__ = [
    "generate_corpus",
    "generate_corpus_with_evidence",
    "corpus_stats",
    "evidence_sentence",
    "score_band",
    "estimate_tokens",
    "PHRASE_BANKS",
    "GENERATOR",
    "BUCKET_EDGES",
    "LENGTH_MIX",
    "TOP_TIER_LENGTH_MIX",
]

GENERATOR = "distillery.synthetic/1"
PHRASE_BANKS = P.PHRASE_BANKS  # uplifting/v6 dimension -> 5 bands -> phrasings (data/phrases.py)
BAND_EDGES = (3.0, 5.0, 7.0, 9.0)  # band b holds scores in [edge[b-1], edge[b])
BUCKET_EDGES = (512, 1024, 2048)  # Qwen2.5 tokens of "title\n\ncontent"
# target-token ranges drawn per bucket (kept off the edges so estimate error cannot cross them)
_BUCKET_TARGETS = ((190, 465), (640, 960), (1130, 1930), (2200, 2850))
LENGTH_MIX = (0.777, 0.120, 0.086, 0.017)  # overall share per bucket
TOP_TIER_LENGTH_MIX = (0.43, 0.49, 0.075, 0.005)  # share per bucket within the top tier
HEAD_BUDGET, TAIL_BUDGET, TAIL_START = 215, 215, 560  # estimated tokens


def generator_source() -> bytes:
    """The generator's own source (this module + its word material): part of the corpus cache key."""
    from pathlib import Path

    return b"".join(Path(m.__file__).read_bytes() for m in (sys.modules[__name__], P, S))


def score_band(score: float) -> int:
    """Band 0-4 of a 0-10 score (edges 3, 5, 7, 9)."""
    return int(np.searchsorted(BAND_EDGES, score, side="right"))


def estimate_tokens(text: str) -> float:
    """Cheap Qwen2.5 token estimate (digits are one token each), calibrated on the real one."""
    digits = sum(map(text.count, "0123456789"))
    return (len(text) - digits) / 5.05 + digits


def _draw_scores(spec: FilterSpec, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, D) scores: latent quality + per-dimension offset + noise, clipped, rounded to 0.1."""
    off_known = {
        "human_wellbeing_impact": 0.3,
        "social_cohesion_impact": -0.3,
        "justice_rights_impact": -0.8,
        "evidence_level": 0.2,
        "benefit_distribution": -0.1,
        "change_durability": -0.2,
    }
    offsets = np.array([off_known.get(d, 0.0) for d in spec.dimension_names])
    low = rng.random(n) < 0.36  # off-topic / fluff articles
    q = np.where(low, rng.normal(1.4, 0.9, n), rng.normal(5.35, 1.6, n))
    s = q[:, None] + offsets[None, :] + rng.normal(0.0, 1.2, (n, len(offsets)))
    return np.round(np.clip(s, 0.0, 10.0), 1)


def _length_buckets(tier_idx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Length bucket per article, stratified by tier (exact quotas, shuffled): the top tier
    follows TOP_TIER_LENGTH_MIX, the others are set so the whole corpus follows LENGTH_MIX."""
    n = len(tier_idx)
    top_share = float(np.mean(tier_idx == 0)) if n else 0.0
    p_top = np.array(TOP_TIER_LENGTH_MIX) / sum(TOP_TIER_LENGTH_MIX)
    mix = np.array(LENGTH_MIX) / sum(LENGTH_MIX)
    p_rest = mix if top_share >= 1 else np.clip((mix - top_share * p_top) / (1 - top_share), 0.002, None)
    out = np.zeros(n, dtype=int)
    for members, p in ((np.flatnonzero(tier_idx == 0), p_top), (np.flatnonzero(tier_idx != 0), p_rest)):
        want = p / p.sum() * len(members)
        counts = np.floor(want).astype(int)
        counts[np.argsort(counts - want)[: len(members) - counts.sum()]] += 1  # largest remainders
        out[rng.permutation(members)] = np.repeat(np.arange(4), counts)
    return out


def _count(r: random.Random, band: int) -> str:
    c = r.randint(*P.COUNT[band])
    return f"{round(c, -2) if c > 5000 else c:,}"


_SLOTS: dict[str, Any] = {  # slot -> f(article, rng, band)
    "project": lambda a, r, b: a.project,
    "place": lambda a, r, b: a.place,
    "place2": lambda a, r, b: a.place2,
    "org": lambda a, r, b: a.org,
    "bare": lambda a, r, b: a.project.removeprefix("the "),
    "Project": lambda a, r, b: a.project[4:5].upper() + a.project[5:],
    "count": lambda a, r, b: _count(r, b),
    "pct": lambda a, r, b: r.randint(*P.PCT[b]),
    "years": lambda a, r, b: r.randint(*P.YEARS[b]),
    "year": lambda a, r, b: r.randint(2026, 2030 + 5 * b),
    "group": lambda a, r, b: r.choice(P.GROUPS),
    "journal": lambda a, r, b: r.choice(P.JOURNALS),
    "auditor": lambda a, r, b: r.choice(P.AUDITORS),
    "person": lambda a, r, b: r.choice(a.people),
    "role": lambda a, r, b: r.choice(P.ROLES),
    "weekday": lambda a, r, b: r.choice(P.WEEKDAYS),
    "month": lambda a, r, b: r.choice(P.MONTHS),
    "day": lambda a, r, b: r.randint(1, 28),
    "venue": lambda a, r, b: a.facts["venue"],
    "street": lambda a, r, b: r.choice(P.STREETS),
    "river": lambda a, r, b: a.facts["river"],
    "weather": lambda a, r, b: r.choice(P.WEATHER),
    "time": lambda a, r, b: f"{r.randint(6, 8)}.{r.choice(['00', '15', '30', '45'])}pm",
    "century": lambda a, r, b: r.choice(["sixteenth", "seventeenth", "eighteenth"]),
    "decade": lambda a, r, b: r.randrange(1890, 1980, 10),
    "year_hist": lambda a, r, b: r.randint(1850, 1995),
    "route": lambda a, r, b: r.randint(2, 39),
    "route2": lambda a, r, b: r.randint(40, 99),
    "miles": lambda a, r, b: a.facts["miles"],
    "minutes": lambda a, r, b: r.choice([10, 15, 20, 25]),
}


@cache
def _fields(template: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(f for _, f, _, _ in string.Formatter().parse(template) if f))


class _Article:
    """Slot values fixed for one article so the story stays coherent, and a sentence filler."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.topic = rng.choice(list(S.TOPICS))
        kinds, projects, self.topic_filler = S.TOPICS[self.topic]
        self.place, self.place2 = rng.sample(P.PLACES, 2)
        self.org = f"the {self.place} {rng.choice(kinds)}"
        self.project = rng.choice(projects)
        self.people = [f"{rng.choice(P.FIRST)} {rng.choice(P.LAST)}" for _ in range(3)]
        self.facts = {"venue": rng.choice(P.VENUES), "river": rng.choice(P.RIVERS), "miles": rng.randint(8, 40)}
        # one-off sentences (facts, quotes) are used at most once per article
        self.pool = [*S.FILLER, *self.topic_filler, *(f'"{q}," said {{person}}, {{role}}.' for q in S.QUOTES)]
        rng.shuffle(self.pool)

    def fill(self, template: str, band: int = 2) -> str:
        """Fill ``template``'s slots (only those it uses); numbers follow the score band."""
        r = self.rng
        slots = {k: _SLOTS[k](self, r, band) for k in _fields(template)}
        s = template.format_map(slots)
        return s[0].upper() + s[1:]

    def filler(self) -> str:
        """A neutral sentence: a not-yet-used one-off sentence, or a combinatorial one."""
        r = self.rng
        if self.pool and r.random() < 0.55:
            return self.fill(self.pool.pop())
        return self.fill(f"{r.choice(S.WHEN)}, {r.choice(S.WHO)} {r.choice(S.DID)}.")


def _anchor(dim, score: float) -> str:
    if not dim.scale:
        return P.EMPTY_ANCHOR[score_band(score)]
    key = min(dim.scale, key=lambda k: (abs(k - score), k))
    return dim.scale[key].strip().rstrip(".").lower()


def evidence_sentence(dim, score: float, art: _Article) -> str:
    """One sentence whose wording reflects ``score`` on ``dim`` (a spec Dimension)."""
    band = score_band(score)
    if dim.name in P.PHRASE_BANKS:
        return art.fill(art.rng.choice(P.PHRASE_BANKS[dim.name][band]), band)
    desc = dim.description.strip().rstrip(".") or dim.name.replace("_", " ")
    words = {
        "{desc}": desc[0].lower() + desc[1:],
        "{label}": dim.name.replace("_", " "),
        "{intensity}": P.INTENSITY[band],
        "{anchor}": _anchor(dim, score),
    }
    template = art.rng.choice(P.GENERIC)
    for k, v in words.items():  # spec text is inserted literally (braces in it are escaped)
        template = template.replace(k, v.replace("{", "{{").replace("}", "}}"))
    return art.fill(template, band)


def _paragraphs(sentences: list[str], rng: random.Random, lo: int = 2, hi: int = 5) -> list[str]:
    out, i = [], 0
    while i < len(sentences):
        k = rng.randint(lo, hi)
        out.append(" ".join(sentences[i : i + k]))
        i += k
    return out


def _build_article(spec: FilterSpec, scores: np.ndarray, bucket: int, rng: random.Random):
    """(title, content, evidence) where evidence = {"head": {dim: [...]}, "tail": {dim: [...]}}."""
    art = _Article(rng)
    title = art.fill(rng.choice(S.TITLES))
    lo, hi = _BUCKET_TARGETS[bucket]
    target = rng.randint(lo, hi)
    dims = list(spec.dimensions)
    order = rng.sample(range(len(dims)), len(dims))  # presentation order; the first half goes last
    tail_ids = set(order[: len(dims) // 2])
    lead = art.fill(rng.choice(S.LEADS))
    budget = {"head": HEAD_BUDGET - estimate_tokens(title) - estimate_tokens(lead), "tail": TAIL_BUDGET - 20}
    chosen: dict[int, list[str]] = {}
    for j in order:  # one sentence per dimension is mandatory
        chosen[j] = [evidence_sentence(dims[j], float(scores[j]), art)]
        budget["tail" if j in tail_ids else "head"] -= estimate_tokens(chosen[j][0]) + 1
    for j in order:  # a second one where the article is long enough and the budget allows
        part = "tail" if j in tail_ids else "head"
        if bucket >= 2 or (bucket == 1 and part == "head"):
            s = evidence_sentence(dims[j], float(scores[j]), art)
            if s not in chosen[j] and estimate_tokens(s) + 1 <= budget[part]:
                chosen[j].append(s)
                budget[part] -= estimate_tokens(s) + 1
    evidence: dict[str, dict[str, list[str]]] = {"head": {}, "tail": {}}
    head, tail = [lead], []
    for j in order[len(dims) // 2 :] + order[: len(dims) // 2]:
        part = "tail" if j in tail_ids else "head"
        evidence[part][dims[j].name] = chosen[j]
        (tail if part == "tail" else head).extend(chosen[j])
    tail.append(art.fill(rng.choice(S.CLOSERS)))
    used = estimate_tokens(title) + sum(estimate_tokens(s) + 1 for s in head + tail)
    floor = TAIL_START if bucket else 0  # long articles: the tail must start after token 512
    middle: list[str] = []
    seen: set[str] = set()
    head_tokens = estimate_tokens(title) + sum(estimate_tokens(s) + 1 for s in head)
    while used < target or head_tokens < floor:
        for _ in range(20):  # avoid repeating a sentence within an article
            s = art.filler()
            if s not in seen:
                break
        seen.add(s)
        middle.append(s)
        used += estimate_tokens(s) + 1
        head_tokens += estimate_tokens(s) + 1
    paras = _paragraphs(head, rng, 2, 3) + _paragraphs(middle, rng, 3, 6) + _paragraphs(tail, rng, 3, 4)
    return title, "\n\n".join(paras), evidence


def generate_corpus_with_evidence(spec: FilterSpec, n: int = 2400, seed: int = 0) -> tuple[list[dict], list[dict]]:
    """Like :func:`generate_corpus`, also returning per record the evidence sentences used:
    ``{"head": {dim: [sentence, ...]}, "tail": {dim: [...]}}`` (tail dims appear only in the
    closing paragraph; on articles > 512 tokens they are absent from the first 512 tokens)."""
    rng = np.random.default_rng(seed)
    scores = _draw_scores(spec, n, rng)
    tiers = spec.tier_index(spec.weighted_average(scores)) if n else np.zeros(0, dtype=int)
    buckets = _length_buckets(np.asarray(tiers), rng)
    start = _dt.date(2022, 1, 1).toordinal()
    records, evidence = [], []
    for i in range(n):
        r = random.Random(f"{GENERATOR}:{spec.ref}:{seed}:{i}")
        title, content, ev = _build_article(spec, scores[i], int(buckets[i]), r)
        outlet = f"{r.choice(P.PLACES)} {r.choice(P.OUTLETS)}"
        date = _dt.date.fromordinal(start + r.randint(0, 1275))
        slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
        records.append(
            {
                "id": f"syn-{spec.name}-v{spec.version}-s{seed}-{i:06d}",
                "title": title,
                "content": content,
                "url": f"https://www.{outlet.lower().replace(' ', '')}.example/{date:%Y/%m}/{slug}-{i}",
                "source": f"The {outlet}",
                "published_date": date.isoformat(),
                "language": "en",
                "labels": {d: float(v) for d, v in zip(spec.dimension_names, scores[i])},
                "oracle": "synthetic",
                "filter": spec.name,
                "filter_version": spec.version,
                "synthetic": {"generator": GENERATOR, "seed": seed},
            }
        )
        evidence.append(ev)
    return records, evidence


def generate_corpus(spec: FilterSpec, n: int = 2400, seed: int = 0) -> list[dict]:
    """``n`` labelled synthetic articles for ``spec`` (deterministic for spec, n, seed)."""
    return generate_corpus_with_evidence(spec, n, seed)[0]


def corpus_stats(records: list[dict], spec: FilterSpec) -> dict[str, float]:
    """Share of records per tier (``spec.tier_names`` order), gatekeepers included."""
    if not records:
        return {t: 0.0 for t in spec.tier_names}
    scores = np.array([[r["labels"][d] for d in spec.dimension_names] for r in records], dtype=np.float64)
    idx = spec.tier_index(spec.weighted_average(scores))
    return {t: float(np.mean(idx == k)) for k, t in enumerate(spec.tier_names)}

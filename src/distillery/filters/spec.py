"""The filter spec model, its validation, and the post-scoring arithmetic.

A spec lives in ``filters/<name>/v<N>/filter.yaml``. Everything downstream (labels, the
regression head's output order, tiers, metrics, inference, the oracle prompt and the
prefilter) reads it from here, and the arithmetic clamp -> weighted average -> gatekeeper cap
-> content-type cap -> tier exists only in this module.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from distillery.errors import DistilleryError

SCORE_MIN, SCORE_MAX = 0.0, 10.0
_IDENT = re.compile(r"^[a-z][a-z0-9_]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Dimension(_Strict):
    """One scoring dimension (0-10)."""

    name: str = Field(description="snake_case identifier; the label key and head output name")
    weight: float = Field(gt=0, description="weight in the weighted average (weights sum to 1)")
    description: str = Field(min_length=1, description="what the dimension measures")
    scale: dict[int, str] = Field(default_factory=dict, description="score anchors, e.g. {0: ..., 10: ...}")

    @field_validator("name")
    @classmethod
    def _ident(cls, v: str) -> str:
        if not _IDENT.match(v):
            raise ValueError(f"{v!r} is not a snake_case identifier")
        return v

    @field_validator("scale")
    @classmethod
    def _anchors(cls, v: dict[int, str]) -> dict[int, str]:
        bad = [k for k in v if not SCORE_MIN <= k <= SCORE_MAX]
        if bad:
            raise ValueError(f"scale anchors {bad} are outside 0-10")
        return v


class Tier(_Strict):
    """A tier: articles whose final score is >= threshold (highest matching tier wins)."""

    name: str
    threshold: float = Field(ge=SCORE_MIN, le=SCORE_MAX)


class Gatekeeper(_Strict):
    """If ``dimension`` scores below ``below``, the weighted average is capped at ``cap``."""

    dimension: str
    below: float = Field(ge=SCORE_MIN, le=SCORE_MAX)
    cap: float = Field(ge=SCORE_MIN, le=SCORE_MAX)


# ---- the oracle side of a filter -------------------------------------------------------------
RESERVED_OUTPUT_KEYS = ("content_type",)  # keys of the oracle's JSON answer besides dimensions
DEFAULT_CONTENT_TYPES = (
    "news_report",
    "feature",
    "opinion",
    "press_release",
    "announcement",
    "listicle",
    "advertisement",
    "event_listing",
    "other",
)


def _compiles(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as e:
        raise ValueError(f"invalid regex {pattern!r}: {e}") from None
    return pattern


Regex = Annotated[str, AfterValidator(_compiles)]


class ContentTypeCap(_Strict):
    """If the oracle says the article is one of ``content_types``, the final score is capped."""

    content_types: list[str] = Field(min_length=1)
    cap: float = Field(ge=SCORE_MIN, le=SCORE_MAX)
    why: str = Field(default="", description="one line for humans: why this content type is capped")


class OracleSpec(_Strict):
    """What the oracle is asked, and what shape its answer must have."""

    prompt: str = Field(default="prompt.md", description="prompt template, relative to the spec's folder")
    content_types: list[str] = Field(default_factory=lambda: list(DEFAULT_CONTENT_TYPES), min_length=1)
    content_type_caps: list[ContentTypeCap] = Field(default_factory=list)
    max_article_chars: int = Field(default=6000, ge=200, description="article body is cut to this many characters")


class ExclusionFamily(_Strict):
    """A family of regexes for one kind of off-topic article, with keywords that rescue it."""

    category: str = Field(description="snake_case; the block reason is excluded_<category>")
    patterns: list[Regex] = Field(min_length=1, description="case-insensitive regexes (any match blocks)")
    overrides: list[str] = Field(default_factory=list, description="case-insensitive words/phrases that un-block")

    @field_validator("category")
    @classmethod
    def _ident(cls, v: str) -> str:
        if not _IDENT.match(v):
            raise ValueError(f"{v!r} is not a snake_case identifier")
        return v


class PrefilterSpec(_Strict):
    """A cheap, declarative gate before the oracle: blocked articles are never sent."""

    min_length: int = Field(default=0, ge=0, description="minimum characters of content")
    head_chars: int = Field(default=2000, ge=100, description="patterns look at title + this many characters")
    exclusions: list[ExclusionFamily] = Field(default_factory=list)
    excluded_domains: list[str] = Field(default_factory=list, description="domains (and their subdomains)")

    @field_validator("excluded_domains")
    @classmethod
    def _domains(cls, v: list[str]) -> list[str]:
        bad = [d for d in v if not re.match(r"^[a-z0-9-]+(\.[a-z0-9-]+)+$", d.lower())]
        if bad:
            raise ValueError(f"not a domain name: {bad} (write e.g. example.com, no scheme or path)")
        return [d.lower() for d in v]


# ---- the release gate (distillery gate) ------------------------------------------------------
#: metric family -> (higher is better, default tolerated regression). Metric names: ``mae``,
#: ``weighted_mae``, ``mae/<dimension>``, ``spearman``, ``spearman/<dimension>``,
#: ``tier/<tier>/precision|recall|f1`` (every tier above the lowest), ``recall@<k>``.
RELEASE_FAMILIES: dict[str, tuple[bool, float]] = {
    "mae": (False, 0.05),
    "weighted_mae": (False, 0.05),
    "dimension_mae": (False, 0.1),
    "spearman": (True, 0.02),
    "dimension_spearman": (True, 0.05),
    "precision": (True, 0.05),
    "recall": (True, 0.05),
    "f1": (True, 0.05),
    "recall_at_k": (True, 0.05),
}


def release_family(metric: str, dimensions: Sequence[str], tiers: Sequence[str]) -> str | None:
    """The family of a release-gate metric name (None: not a metric of this filter)."""
    if metric in ("mae", "weighted_mae", "spearman"):
        return metric
    head, _, rest = metric.partition("/")
    if head in ("mae", "spearman") and rest in dimensions:
        return f"dimension_{head}"
    if head == "tier":
        tier, _, what = rest.partition("/")
        if tier in tiers[:-1] and what in ("precision", "recall", "f1"):
            return what
    if metric.startswith("recall@") and metric[7:].isdigit() and int(metric[7:]) > 0:
        return "recall_at_k"
    return None


class ReleaseSpec(_Strict):
    """How ``distillery gate`` judges a candidate against the deployed scorer (docs/release.md).

    PASS when the primary metric improves or ties within its bootstrap CI (the CI of the
    improvement reaches ``-tolerance[primary]``, default 0) and no other metric regresses by more
    than its tolerance with a CI that excludes no change."""

    primary: str = Field(default="mae", description="the metric that must improve or tie")
    tolerance: dict[str, float] = Field(
        default_factory=dict, description="tolerated regression per metric name or family (>= 0, metric units)"
    )
    recall_k: list[int] = Field(default_factory=lambda: [10, 25, 50], description="k of Recall@k")
    level: float = Field(default=0.95, gt=0, lt=1, description="confidence level of the paired bootstrap CIs")
    n_boot: int = Field(default=1000, ge=100, description="bootstrap resamples (paired by article)")
    seed: int = 0

    @field_validator("tolerance")
    @classmethod
    def _non_negative(cls, v: dict[str, float]) -> dict[str, float]:
        bad = {k: x for k, x in v.items() if not x >= 0}
        if bad:
            raise ValueError(f"tolerances must be >= 0, got {bad}")
        return v

    @field_validator("recall_k")
    @classmethod
    def _positive(cls, v: list[int]) -> list[int]:
        if any(k < 1 for k in v):
            raise ValueError(f"recall_k must be positive, got {v}")
        return v

    def tolerance_for(self, metric: str, family: str) -> float:
        """The metric's own tolerance, else its family's, else the default (0 for the primary)."""
        if metric in self.tolerance:
            return float(self.tolerance[metric])
        if metric == self.primary:
            return 0.0
        return float(self.tolerance.get(family, RELEASE_FAMILIES[family][1]))


class FilterSpec(_Strict):
    """A versioned filter: dimensions, weights, tiers and gatekeepers."""

    name: str
    version: int = Field(ge=1)
    description: str = ""
    dimensions: list[Dimension] = Field(min_length=1)
    tiers: list[Tier] = Field(min_length=1)
    gatekeepers: list[Gatekeeper] = Field(default_factory=list)
    oracle: OracleSpec = Field(default_factory=OracleSpec)
    prefilter: PrefilterSpec = Field(default_factory=PrefilterSpec)
    release: ReleaseSpec = Field(default_factory=ReleaseSpec)
    _path: Path | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _consistent(self) -> FilterSpec:
        problems = consistency_problems(self.model_dump())
        if problems:
            raise ValueError("; ".join(problems))
        return self

    # ---- identity -------------------------------------------------------------------------
    @property
    def path(self) -> Path | None:
        """The spec file this was loaded from (its folder holds the prompt and README)."""
        return self._path

    @property
    def folder(self) -> Path | None:
        return self._path.parent if self._path is not None else None

    @property
    def prompt_path(self) -> Path | None:
        """The oracle prompt template (``oracle.prompt``, relative to the spec's folder)."""
        return self.folder / self.oracle.prompt if self.folder is not None else None

    @property
    def ref(self) -> str:
        """``name/vN``, how users and configs name this filter."""
        return f"{self.name}/v{self.version}"

    @property
    def dimension_names(self) -> list[str]:
        return [d.name for d in self.dimensions]

    @property
    def weights(self) -> np.ndarray:
        return np.array([d.weight for d in self.dimensions], dtype=np.float64)

    @property
    def tier_names(self) -> list[str]:
        return [t.name for t in self.tiers]

    # ---- the post-scoring arithmetic (the only copy) --------------------------------------
    def clamp(self, scores: Any) -> np.ndarray:
        return np.clip(np.asarray(scores, dtype=np.float64), SCORE_MIN, SCORE_MAX)

    def weighted_average(self, scores: Any, content_types: Any = None) -> np.ndarray:
        """Clamp, weight, apply gatekeeper caps, then content-type caps.

        ``scores``: (..., n_dimensions). ``content_types``: None (no content-type caps: the
        student models don't predict it), one string, or an array of strings/None shaped like
        ``scores[..., 0]`` (the oracle's ``content_type`` per article).
        """
        s = self.clamp(scores)
        if s.shape[-1] != len(self.dimensions):
            raise ValueError(f"{self.ref}: expected {len(self.dimensions)} scores, got {s.shape[-1]}")
        avg = s @ self.weights
        for g in self.gatekeepers:
            d = self.dimension_names.index(g.dimension)
            avg = np.where(s[..., d] < g.below, np.minimum(avg, g.cap), avg)
        if content_types is not None:
            ct = np.asarray(content_types, dtype=object)
            for c in self.oracle.content_type_caps:
                hit = np.isin(ct, np.array(c.content_types, dtype=object))
                avg = np.where(hit, np.minimum(avg, c.cap), avg)
        return avg

    def tier_index(self, final_scores: Any) -> np.ndarray:
        """Index into ``tiers`` (0 = highest) of each final score."""
        f = np.asarray(final_scores, dtype=np.float64)
        thresholds = np.array([t.threshold for t in self.tiers])
        # tiers are sorted by decreasing threshold; count how many thresholds the score misses
        return (f[..., None] < thresholds).sum(axis=-1)

    def tier(self, final_scores: Any) -> np.ndarray:
        return np.array(self.tier_names, dtype=object)[self.tier_index(final_scores)]

    def summarize(self, scores: Sequence[float], content_type: str | None = None) -> dict[str, Any]:
        """Final score and tier for one article's per-dimension scores (and oracle content type)."""
        avg = float(self.weighted_average(scores, content_type))
        return {"weighted_average": avg, "tier": str(self.tier(avg))}

    def labels_vector(self, labels: dict[str, float]) -> list[float]:
        """A ``labels`` mapping in this spec's dimension order."""
        return [float(labels[d]) for d in self.dimension_names]


def consistency_problems(raw: Any, broken: set[tuple[str, str]] = frozenset()) -> list[str]:
    """Cross-field checks of a spec as ``"key.path: problem"`` strings.

    Works on the raw mapping too (defensively: a malformed part is skipped, since field
    validation reports it), so :func:`parse_spec` can report these alongside field errors.
    ``broken``: (section, field) pairs that already have field errors, e.g. ("dimensions",
    "weight"); checks that depend on them are skipped (no consequential errors).
    """
    if not isinstance(raw, dict):
        return []

    def ok(*deps: tuple[str, str]) -> bool:
        return not any(d in broken for d in deps)

    def items(key: str, parent: Any = raw) -> list[dict]:
        v = parent.get(key) if isinstance(parent, dict) else None
        return [x for x in v if isinstance(x, dict)] if isinstance(v, list) else []

    def num(x: Any) -> float | None:
        return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else None

    problems: list[str] = []
    dims = items("dimensions")
    names = [d.get("name") for d in dims]
    dupes = sorted({str(n) for n in names if names.count(n) > 1})
    if dupes and ok(("dimensions", "name")):
        problems.append(f"dimensions: duplicate names {dupes}")
    weights = [num(d.get("weight")) for d in dims]
    if dims and all(w is not None for w in weights) and ok(("dimensions", "weight")):
        total = sum(weights)  # type: ignore[arg-type]
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            problems.append(f"dimensions: weights sum to {total:.6g}, not 1")
    for i, g in enumerate(items("gatekeepers")):
        if "dimension" in g and g["dimension"] not in names and ok(("dimensions", "name")):
            problems.append(f"gatekeepers.{i}.dimension: unknown dimension {g['dimension']!r}")
    tiers = items("tiers")
    thresholds = [num(t.get("threshold")) for t in tiers]
    if tiers and all(t is not None for t in thresholds) and ok(("tiers", "threshold")):
        if thresholds != sorted(thresholds, reverse=True) or len(set(thresholds)) != len(thresholds):
            problems.append("tiers: thresholds must be strictly decreasing (highest tier first)")
        if min(thresholds) != SCORE_MIN:  # type: ignore[type-var]
            problems.append("tiers: the last tier must have threshold 0 so every score has a tier")
    tier_names = [t.get("name") for t in tiers]
    if len(set(map(str, tier_names))) != len(tier_names) and ok(("tiers", "name")):
        problems.append("tiers: duplicate names")
    for i, d in enumerate(dims):
        if d.get("name") in RESERVED_OUTPUT_KEYS:
            problems.append(f"dimensions.{i}.name: {d['name']!r} is reserved for the oracle's answer")
    oracle = raw.get("oracle") if isinstance(raw.get("oracle"), dict) else {}
    known = oracle.get("content_types", list(DEFAULT_CONTENT_TYPES))
    known = set(known) if isinstance(known, list) else set()
    for i, c in enumerate(items("content_type_caps", oracle)):
        types = c.get("content_types")
        unknown = [t for t in types if t not in known] if isinstance(types, list) else []
        if unknown:
            problems.append(f"oracle.content_type_caps.{i}.content_types: {unknown} not in oracle.content_types")
    release = raw.get("release") if isinstance(raw.get("release"), dict) else {}
    if release and ok(("dimensions", "name")) and ok(("tiers", "name")):
        dim_names = [str(n) for n in names]
        tier_list = [str(t) for t in tier_names]
        metrics = [("release.primary", release.get("primary"))] if isinstance(release.get("primary"), str) else []
        tol = release.get("tolerance") if isinstance(release.get("tolerance"), dict) else {}
        metrics += [(f"release.tolerance.{k}", k) for k in tol if k not in RELEASE_FAMILIES]
        for key, metric in metrics:
            if release_family(str(metric), dim_names, tier_list) is None:
                problems.append(
                    f"{key}: unknown metric {metric!r} (mae, weighted_mae, mae/<dimension>, spearman, "
                    "spearman/<dimension>, tier/<tier>/precision|recall|f1, recall@<k>, or a family: "
                    + ", ".join(RELEASE_FAMILIES)
                    + ")"
                )
    prefilter = raw.get("prefilter") if isinstance(raw.get("prefilter"), dict) else {}
    categories = [f.get("category") for f in items("exclusions", prefilter)]
    if len(set(map(str, categories))) != len(categories):
        problems.append("prefilter.exclusions: duplicate categories")
    return problems


# ---- loading with file/line/key error reports ---------------------------------------------
def line_index(text: str) -> dict[tuple, int]:
    """Map each key path in a YAML document to its 1-based line number."""
    index: dict[tuple, int] = {}

    def walk(node: yaml.Node, path: tuple) -> None:
        index[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                key = k.value
                index[path + (key,)] = k.start_mark.line + 1
                walk(v, path + (key,))
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                walk(v, path + (i,))

    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return index
    if root is not None:
        walk(root, ())
    return index


def where(path: Path, loc: tuple, lines: dict[tuple, int]) -> str:
    key = ".".join(str(p) for p in loc) or "<root>"
    str_loc = tuple(str(p) for p in loc)
    for n in range(len(loc), -1, -1):  # nearest enclosing key that has a line
        for candidate in (loc[:n], str_loc[:n]):
            if candidate in lines:
                return f"{path}:{lines[candidate]}: {key}"
    return f"{path}: {key}"


def parse_spec(path: Path, data: Any | None = None) -> FilterSpec:
    """Load and validate ``path``; raise one DistilleryError listing every problem."""
    text = path.read_text(encoding="utf-8")
    try:
        raw = yaml.safe_load(text) if data is None else data
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise DistilleryError(f"{path}{line}: invalid YAML: {getattr(e, 'problem', e)}") from None
    if not isinstance(raw, dict):
        raise DistilleryError(f"{path}: a filter spec must be a mapping of keys")
    try:
        spec = FilterSpec.model_validate(raw)
        spec._path = path
        return spec
    except ValidationError as e:
        lines = line_index(text)
        msgs = []
        for err in e.errors():
            loc = tuple(err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            if not loc:  # model-level checks: "key.path: problem; key.path: problem"
                for m in msg.split("; "):
                    key, _, problem = m.partition(": ")
                    sub = tuple(int(p) if p.isdigit() else p for p in key.split("."))
                    msgs.append(f"{where(path, sub, lines)}: {problem}")
            else:
                msgs.append(f"{where(path, loc, lines)}: {msg}")
        if all(err["loc"] for err in e.errors()):  # field errors hid the cross-field checks: run them
            broken = {
                (str(err["loc"][0]), str(err["loc"][2]))
                for err in e.errors()
                if len(err["loc"]) >= 3 and isinstance(err["loc"][1], int)
            }
            broken |= {(str(err["loc"][0]), "*") for err in e.errors() if len(err["loc"]) <= 2}
            for m in consistency_problems(raw, broken):
                key, _, problem = m.partition(": ")
                sub = tuple(int(p) if p.isdigit() else p for p in key.split("."))
                msgs.append(f"{where(path, sub, lines)}: {problem}")
        raise DistilleryError(f"{len(msgs)} problem(s) in filter spec:\n  " + "\n  ".join(msgs)) from None

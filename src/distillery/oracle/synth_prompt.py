"""What ``distillery synthesize`` asks the oracle: target draws per tier, the article setting,
the prompt template and its rendering, and the parsing of an article answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import numpy as np

from distillery.errors import DistilleryError
from distillery.filters.prompt import template_context, template_env
from distillery.filters.spec import SCORE_MAX, SCORE_MIN, FilterSpec
from distillery.oracle.parsing import InvalidAnswer, decode_json

TEMPLATE = Path(__file__).parent / "templates" / "synthesize.j2"
MARKER = "distillery-synthesize"  # first words of the rendered prompt (the test server keys on it)
KEY_SUFFIX = "#synthesize"  # ledger keys: filter ref + this, never a scoring key
USER_MESSAGE = 'Write the article now. Reply with the JSON object {"title": ..., "content": ...} only.'
MIN_CONTENT_CHARS = 200  # shorter "articles" are invalid answers (re-asked)
STEP = 0.5  # targets are whole or half points
SPREAD = 1.0  # per-dimension noise (sd) around the article's level
CHUNK, MAX_ROUNDS = 256, 400  # rejection sampling: candidates per round, rounds before giving up
TOPICS = (
    "public health",
    "primary schools",
    "affordable housing",
    "clean energy",
    "public transport",
    "small-scale farming",
    "drinking water and sanitation",
    "local government",
    "digital services",
    "air and river pollution",
    "jobs and training",
    "courts and legal aid",
    "care for older people",
    "disability access",
    "mental health services",
    "food security",
    "disaster recovery",
    "youth programmes",
)
REGIONS = (
    "a mid-sized city in Kenya",
    "rural Peru",
    "a coastal town in Bangladesh",
    "a Midwestern US county",
    "an industrial city in Poland",
    "a district of Jakarta",
    "northern Nigeria",
    "a suburb of Lyon",
    "a remote region of Canada",
    "a province in Vietnam",
    "a neighbourhood of Sao Paulo",
    "rural Romania",
    "a town in Scotland",
    "the outskirts of Nairobi",
    "a city in northern India",
    "a Pacific island nation",
)


def parse_target(text: str, spec: FilterSpec) -> dict[str, float]:
    """``dim=score,dim=score`` -> {dim: score}, checked against the spec (one-line errors)."""
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, eq, value = part.partition("=")
        name = name.strip()
        if not eq:
            raise DistilleryError(f"--target: expected dim=score, got {part!r}")
        if name not in spec.dimension_names:
            raise DistilleryError(
                f"--target: unknown dimension {name!r} for {spec.ref}; dimensions: {', '.join(spec.dimension_names)}"
            )
        try:
            score = float(value)
        except ValueError:
            raise DistilleryError(f"--target: {name}={value.strip()!r} is not a number") from None
        if not SCORE_MIN <= score <= SCORE_MAX:
            raise DistilleryError(f"--target: {name}={score:g} is outside {SCORE_MIN:g}-{SCORE_MAX:g}")
        out[name] = score
    if not out:
        raise DistilleryError("--target: no dim=score pairs given")
    return out


def tier_range(spec: FilterSpec, tier: str) -> tuple[int, float, float]:
    """(index, lowest, highest final score) of a tier; a one-line error naming the tiers."""
    if tier not in spec.tier_names:
        raise DistilleryError(f"--tier: unknown tier {tier!r} for {spec.ref}; tiers: {', '.join(spec.tier_names)}")
    k = spec.tier_names.index(tier)
    return k, spec.tiers[k].threshold, spec.tiers[k - 1].threshold if k else SCORE_MAX


def draw_targets(
    spec: FilterSpec,
    n: int,
    seed: int = 0,
    tier: str | None = None,
    fixed: dict[str, float] | None = None,
    content_type: str | None = None,
) -> np.ndarray:
    """(n, D) target scores in ``tier`` under the spec's arithmetic, deterministic for the seed
    (and prefix-stable in ``n``). ``fixed`` dimensions keep their value."""
    k, lo, hi = tier_range(spec, tier) if tier else (None, SCORE_MIN, SCORE_MAX)
    fixed = fixed or {}
    cols = [spec.dimension_names.index(d) for d in fixed]
    rng = np.random.default_rng(seed)
    got: list[np.ndarray] = []
    for _ in range(MAX_ROUNDS):
        level = rng.uniform(lo, hi, CHUNK)
        s = level[:, None] + rng.normal(0.0, SPREAD, (CHUNK, len(spec.dimensions)))
        s = np.clip(np.round(s / STEP) * STEP, SCORE_MIN, SCORE_MAX)
        if cols:
            s[:, cols] = list(fixed.values())
        if k is not None:
            s = s[spec.tier_index(spec.weighted_average(s, content_type)) == k]
        got.append(s)
        if sum(map(len, got)) >= n:
            return np.concatenate(got)[:n]
    given = ",".join(f"{d}={v:g}" for d, v in fixed.items())
    raise DistilleryError(
        f"--tier {tier}: no targets reach that tier of {spec.ref}"
        + (f" with --target {given}" if given else "")
        + (f" for a {content_type}" if content_type else "")
        + f" (after {MAX_ROUNDS * CHUNK} draws): fixed scores, gatekeepers or content-type caps "
        "rule it out"
    )


def article_setting(seed: int, i: int) -> dict[str, Any]:
    """Subject, region and length of article ``i`` (its own seeded stream: prefix-stable)."""
    r = np.random.default_rng([seed, i])
    return {
        "topic": TOPICS[int(r.integers(len(TOPICS)))],
        "region": REGIONS[int(r.integers(len(REGIONS)))],
        "words": int(r.integers(35, 91)) * 10,
    }


# ---- the prompt and the answer ------------------------------------------------------------------
def load_template(path: str | None) -> str:
    p = Path(path) if path else TEMPLATE
    if not p.is_file():
        raise DistilleryError(f"--template: {p} not found")
    return p.read_text(encoding="utf-8")


def render_prompt(
    spec: FilterSpec,
    source: str,
    target: dict[str, float],
    tier: str | None,
    content_type: str,
    setting: dict,
    reference: str,
) -> str:
    """The generation prompt (the system message) for one article."""
    ctx = template_context(spec)
    by_name = {d["name"]: d for d in ctx["dimensions"]}
    targets = [{**by_name[d], "score": f"{target[d]:g}"} for d in spec.dimension_names]
    final = float(spec.weighted_average(spec.labels_vector(target), content_type))
    try:
        text = (
            template_env()
            .from_string(source)
            .render(
                **ctx,
                targets=targets,
                tier=tier,
                final=final,
                content_type=content_type,
                reference=reference,
                **setting,
            )
        )
    except jinja2.TemplateError as e:
        raise DistilleryError(f"synthesize template: {type(e).__name__}: {e}".splitlines()[0]) from None
    return text.strip() + "\n"


def messages(system: str, system_role: bool) -> list[dict[str, str]]:
    if system_role:
        return [{"role": "system", "content": system}, {"role": "user", "content": USER_MESSAGE}]
    return [{"role": "user", "content": f"{system}\n{USER_MESSAGE}"}]


def article_format(spec: FilterSpec, kind: str) -> dict | None:
    """``response_format`` of a generation request for kind json_schema | json_object | none."""
    if kind == "json_schema":
        schema = {
            "type": "object",
            "properties": {"title": {"type": "string"}, "content": {"type": "string"}},
            "required": ["title", "content"],
            "additionalProperties": False,
        }
        return {
            "type": "json_schema",
            "json_schema": {"name": f"{spec.name}_v{spec.version}_article", "strict": True, "schema": schema},
        }
    if kind == "json_object":
        return {"type": "json_object"}
    return None


def parse_article_answer(
    text: str | None, finish_reason: str | None = None, refusal: str | None = None
) -> tuple[dict[str, str], list[str]]:
    """({"title", "content"}, repairs) from a generation answer, or :class:`InvalidAnswer`.
    JSON is found and repaired exactly as for scoring answers (:func:`decode_json`)."""
    if refusal:
        raise InvalidAnswer("refusal", refusal[:200])
    obj, repairs = decode_json(text, finish_reason)
    missing = [k for k in ("title", "content") if k not in obj]
    if missing:
        raise InvalidAnswer(
            "truncated" if finish_reason == "length" else "missing_fields", f"no {missing} in the answer"
        )
    bad = [k for k in ("title", "content") if not isinstance(obj[k], str) or not obj[k].strip()]
    if bad:
        raise InvalidAnswer("bad_fields", f"{bad} must be non-empty strings")
    content = obj["content"].strip()
    if len(content) < MIN_CONTENT_CHARS:
        raise InvalidAnswer("too_short", f"the content has {len(content)} characters (< {MIN_CONTENT_CHARS})")
    return {"title": " ".join(obj["title"].split()), "content": content}, repairs

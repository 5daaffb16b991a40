"""One function turns the oracle's raw text into validated scores, or says exactly why not.

:func:`parse_answer` repairs only what is safe to repair and raises :class:`InvalidAnswer`
(with an ``kind``) for everything else, so the scorer can re-ask and, in the end, keep a
failed record with the raw text. Nothing is dropped silently.

Safe repairs (listed in ``Answer.repairs``): markdown code fences, text before/after the JSON
object, trailing commas, numbers written as strings (``"7"``), a bare number instead of
``{"score": n, "evidence": ...}``, content-type spelling (``"News report"`` -> ``news_report``),
a missing evidence string, float noise at the range edges (10.0000001); a missing or off-list
content type becomes ``"unknown"`` (no content-type cap; ``content_type_unknown:<given>``).

Not repaired (``InvalidAnswer.kind``): ``empty``, ``truncated`` (finish_reason=length and the
JSON is incomplete), ``malformed_json``, ``not_an_object``, ``missing_dimensions``,
``non_numeric``, ``out_of_range``, ``refusal``. Re-asking is only for answers whose scores are
unusable.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field

from distillery.filters.spec import SCORE_MAX, SCORE_MIN, FilterSpec

_FENCE = re.compile(r"```[a-zA-Z0-9_-]*[ \t]*\n?(.*?)(?:```|\Z)", re.DOTALL)
_EDGE_TOL = 1e-6
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
UNKNOWN_CONTENT_TYPE = "unknown"  # the oracle gave no content type from the filter's list: no cap applies


class InvalidAnswer(ValueError):
    def __init__(self, kind: str, message: str):
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


@dataclass
class Answer:
    labels: dict[str, float]
    evidence: dict[str, str]
    content_type: str
    repairs: list[str] = field(default_factory=list)


def _outside_strings(text: str, start: int = 0):
    """(index, char) of every character of ``text`` from ``start`` that is not inside a JSON string
    (the quotes themselves are yielded; escapes inside strings are skipped)."""
    in_str, esc = False, False
    for i in range(start, len(text)):
        ch = text[i]
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
            continue
        if ch == '"':
            in_str = True
        yield i, ch


def _json_span(text: str) -> tuple[int, int] | None:
    """Start and end (exclusive) of the first balanced ``{...}`` in text, string-aware."""
    start = text.find("{")
    if start < 0:
        return None
    depth = 0
    for i, ch in _outside_strings(text, start):
        if ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return start, i + 1
    return None


def _strip_trailing_commas(text: str) -> str:
    """Remove commas directly before ``}`` or ``]`` outside strings."""
    drop = {i for i, ch in _outside_strings(text) if ch == "," and text[i + 1 :].lstrip(" \t\r\n")[:1] in ("}", "]")}
    return "".join(ch for i, ch in enumerate(text) if i not in drop)


def _number(value, dim: str, repairs: list[str]) -> float:
    shown = _shown(value)
    if isinstance(value, bool) or value is None:
        raise InvalidAnswer("non_numeric", f"{dim}.score is {shown}")
    if isinstance(value, str):
        if not _DECIMAL.fullmatch(value.strip()):  # not "1_0", "٧", "nan", "0x5": what float() would also take
            raise InvalidAnswer("non_numeric", f"{dim}.score is {shown}")
        value = float(value.strip())
        repairs.append(f"{dim}:numeric_string")
    if not isinstance(value, (int, float)):
        raise InvalidAnswer("non_numeric", f"{dim}.score is {shown}")
    try:
        value = float(value)
    except OverflowError:  # an integer too large for a float
        raise InvalidAnswer("out_of_range", f"{dim}.score {shown} is outside {SCORE_MIN:g}-{SCORE_MAX:g}") from None
    if not math.isfinite(value):
        raise InvalidAnswer("non_numeric", f"{dim}.score is {shown}")
    if not SCORE_MIN - _EDGE_TOL <= value <= SCORE_MAX + _EDGE_TOL:
        raise InvalidAnswer("out_of_range", f"{dim}.score {value:g} is outside {SCORE_MIN:g}-{SCORE_MAX:g}")
    return min(max(value, SCORE_MIN), SCORE_MAX)


def _loads(text: str):
    """``json.loads``; what else the decoder raises (nesting too deep, an integer past Python's
    digit limit) is a malformed answer too."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise InvalidAnswer("malformed_json", "the JSON is nested too deeply") from None
    except ValueError as e:
        raise InvalidAnswer("malformed_json", str(e)[:120]) from None


def _shown(value) -> str:
    """``repr(value)``, bounded (an answer can hold a 5000-digit number or a long string)."""
    try:
        text = repr(value)
    except ValueError:  # an int past the digit limit
        return "a number too long to show"
    return text[:60] + ("..." if len(text) > 60 else "")


def decode_json(text: str | None, finish_reason: str | None = None) -> tuple[dict, list[str]]:
    """The JSON object in ``text``, with the repairs applied to find it."""
    repairs: list[str] = []
    truncated = finish_reason == "length"
    if text is None or not text.strip():
        raise InvalidAnswer("truncated" if truncated else "empty", "the answer is empty")
    body = text.strip()
    fence = _FENCE.search(body)
    if fence and "{" in fence.group(1):
        body = fence.group(1).strip()
        repairs.append("code_fence")
    span = _json_span(body)
    if span is None:
        if truncated or ("{" in body and body.count("{") > body.count("}")):
            raise InvalidAnswer("truncated", f"the JSON object is incomplete (finish_reason={finish_reason})")
        raise InvalidAnswer("malformed_json", "no JSON object in the answer")
    if body[: span[0]].strip():
        repairs.append("preamble")
    if body[span[1] :].strip():
        repairs.append("trailing_text")
    raw = body[span[0] : span[1]]
    try:
        obj = _loads(raw)
    except json.JSONDecodeError:
        fixed = _strip_trailing_commas(raw)
        try:
            obj = _loads(fixed)
        except json.JSONDecodeError as e:
            raise InvalidAnswer("malformed_json", f"{e.msg} at column {e.colno}") from None
        repairs.append("trailing_comma")
    if not isinstance(obj, dict):
        raise InvalidAnswer("not_an_object", f"expected a JSON object, got {type(obj).__name__}")
    return obj, repairs


def parse_answer(
    text: str | None, spec: FilterSpec, finish_reason: str | None = None, refusal: str | None = None
) -> Answer:
    """Validate the oracle's answer against ``spec`` strictly; repair only what is safe."""
    if refusal:
        raise InvalidAnswer("refusal", refusal[:200])
    obj, repairs = decode_json(text, finish_reason)
    missing = [d for d in spec.dimension_names if d not in obj]
    if missing:
        kind = "truncated" if finish_reason == "length" else "missing_dimensions"
        raise InvalidAnswer(kind, f"missing dimension(s) {missing}")
    labels, evidence = {}, {}
    for d in spec.dimension_names:
        item = obj[d]
        if isinstance(item, dict):
            if "score" not in item:
                raise InvalidAnswer("missing_dimensions", f"{d} has no score")
            labels[d] = _number(item["score"], d, repairs)
            ev = item.get("evidence")
            if not isinstance(ev, str):
                repairs.append(f"{d}:evidence_missing")
                ev = "" if ev is None else json.dumps(ev)
            evidence[d] = ev
        else:
            labels[d] = _number(item, d, repairs)
            evidence[d] = ""
            repairs.append(f"{d}:bare_score")
    return Answer(labels=labels, evidence=evidence, content_type=_content_type(obj, spec, repairs), repairs=repairs)


def _content_type(obj: dict, spec: FilterSpec, repairs: list[str]) -> str:
    """The answer's content type, one of the filter's; a misspelt one is repaired, a missing or
    off-list one becomes :data:`UNKNOWN_CONTENT_TYPE` (no content-type cap applies) and is listed in
    ``repairs`` as ``content_type_unknown:<what the oracle said>``: the scores stay valid, so the
    article is not re-asked (and paid again) for it."""
    ct = obj.get("content_type")
    allowed = spec.oracle.content_types
    if isinstance(ct, str) and ct in allowed:
        return ct
    norm = re.sub(r"[^a-z0-9]+", "_", ct.strip().lower()).strip("_") if isinstance(ct, str) else None
    if norm in allowed:
        repairs.append("content_type_spelling")
        return norm
    given = ct if isinstance(ct, str) else json.dumps(ct)
    repairs.append(f"content_type_unknown:{given[:60]}")
    return UNKNOWN_CONTENT_TYPE


_NORM = re.compile(r"[\W_]+", re.UNICODE)


def _norm(text: str) -> str:
    return " ".join(_NORM.sub(" ", text.lower()).split())


def grounded(evidence: str, article_text: str) -> bool | None:
    """Whether the evidence quotes the article (case/punctuation-insensitive). ``None`` when the
    oracle gave no evidence ("", "none", "n/a"). Quotes joined by "..." are checked one by one."""
    if _norm(evidence) in ("", "none", "n a", "na", "no evidence"):
        return None
    text = _norm(article_text)
    parts = [p for p in (_norm(s) for s in re.split(r"\.\.\.|…|\"\s*;\s*\"", evidence)) if p]
    return all(p in text for p in parts)

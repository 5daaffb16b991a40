"""Issue 16, row 7: property tests of the oracle-answer parser (``distillery.oracle.parsing.parse_answer``).

Whatever text the oracle sends -- random text or bytes, a valid answer cut short, a valid answer with
characters inserted, deleted or replaced, any JSON value in place of a score -- the parser either returns
an :class:`Answer` or raises its documented :class:`InvalidAnswer` (never anything else), and every score
it returns is a number that is written in the input (up to the documented 1e-6 tolerance at 0 and 10).
"""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distillery.filters import load_filter
from distillery.filters.spec import SCORE_MAX, SCORE_MIN
from distillery.oracle.parsing import UNKNOWN_CONTENT_TYPE, Answer, InvalidAnswer, parse_answer

SPEC = load_filter("uplifting/v6")
DIMS = SPEC.dimension_names
PROPS = settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
FINISH = st.sampled_from(["stop", "length", None])
NUMBER = re.compile(r"\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?")

scores = st.floats(min_value=0, max_value=10, allow_nan=False).map(lambda x: round(x, 1))
evidence = st.text(max_size=30)


def numbers_in(text: str) -> list[float]:
    out = []
    for tok in NUMBER.findall(text):
        try:
            out.append(float(tok))
        except (ValueError, OverflowError):
            continue
    return out


def parse(text: str | None, finish: str | None = "stop") -> Answer | None:
    """``parse_answer``, asserting its contract; None for a documented invalid answer."""
    try:
        ans = parse_answer(text, SPEC, finish)
    except InvalidAnswer as e:
        assert e.kind and isinstance(e.message, str)
        return None
    assert set(ans.labels) == set(DIMS) and set(ans.evidence) == set(DIMS)
    assert ans.content_type in (*SPEC.oracle.content_types, UNKNOWN_CONTENT_TYPE)
    found = numbers_in(text or "")
    for d, v in ans.labels.items():
        assert isinstance(v, float) and SCORE_MIN <= v <= SCORE_MAX, (d, v)
        assert any(abs(v - n) <= 1e-6 + 1e-9 * abs(n) for n in found), f"{d}={v} is not in the input {text!r}"
    return ans


@st.composite
def valid_answers(draw) -> tuple[str, dict[str, float]]:
    """The JSON text of a valid answer (indented or compact) and its scores."""
    s = {d: draw(scores) for d in DIMS}
    obj: dict = {"content_type": draw(st.sampled_from(SPEC.oracle.content_types))}
    obj.update({d: {"evidence": draw(evidence), "score": s[d]} for d in DIMS})
    return json.dumps(obj, indent=draw(st.sampled_from([None, 1]))), s


def test_a_valid_answer_parses_to_exactly_its_scores():
    @PROPS
    @given(valid_answers())
    def check(answer):
        text, s = answer
        ans = parse(text)
        assert ans is not None and ans.labels == s and ans.repairs == []

    check()


@PROPS
@given(st.text(max_size=300), FINISH)
def test_random_text_is_an_answer_or_invalid(text, finish):
    parse(text, finish)


@PROPS
@given(st.binary(max_size=300), FINISH)
def test_random_bytes_are_an_answer_or_invalid(data, finish):
    parse(data.decode("utf-8", errors="surrogateescape"), finish)
    parse(data.decode("latin-1"), finish)


@PROPS
@given(valid_answers(), st.data(), FINISH)
def test_a_truncated_answer_is_invalid_or_keeps_its_scores(answer, data, finish):
    text, s = answer
    cut = data.draw(st.integers(0, len(text) - 1))
    ans = parse(text[:cut], finish)
    assert ans is None or ans.labels == s  # only a cut in the trailing whitespace/brace can still parse


_EDITS = st.lists(
    st.tuples(
        st.sampled_from(["insert", "delete", "replace"]), st.integers(0, 10_000), st.text(min_size=1, max_size=3)
    ),
    min_size=1,
    max_size=4,
)


@PROPS
@given(valid_answers(), _EDITS, FINISH)
def test_a_mutated_answer_is_invalid_or_has_only_scores_from_the_input(answer, edits, finish):
    text, _ = answer
    for op, pos, chunk in edits:
        pos %= len(text) + 1
        if op == "insert":
            text = text[:pos] + chunk + text[pos:]
        elif op == "delete":
            text = text[:pos] + text[pos + len(chunk) :]
        else:
            text = text[:pos] + chunk + text[pos + len(chunk) :]
    parse(text, finish)


# strings float() would take (or nearly): only plain decimals are a score
LOOKALIKES = st.sampled_from(["7", " 3.5 ", "1e1", "1_0", "nan", "inf", "٧", "10.0000001", "-0.0000001", "0x5", ""])
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
    | LOOKALIKES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["score", "evidence", "x"]), inner),
    max_leaves=6,
)


@PROPS
@given(st.dictionaries(st.sampled_from([*DIMS, "content_type", "score"]), json_values, max_size=len(DIMS) + 2))
def test_any_json_object_is_an_answer_or_invalid(obj):
    parse(json.dumps(obj))  # NaN / Infinity are written as such: what a sloppy server might send


@PROPS
@given(valid_answers(), st.sampled_from(DIMS), LOOKALIKES | json_values, st.booleans())
def test_any_json_value_in_place_of_one_score_is_an_answer_or_invalid(answer, dim, value, bare):
    obj = json.loads(answer[0])
    obj[dim] = value if bare else {"evidence": "q", "score": value}
    ans = parse(json.dumps(obj))
    if ans is not None:  # the other scores are kept exactly
        assert all(ans.labels[d] == answer[1][d] for d in DIMS if d != dim)


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000,  # deeper than the JSON decoder's recursion limit
        '{"a": ' * 50_000 + "1" + "}" * 50_000,
        '{"human_wellbeing_impact": ' + "9" * 5000 + "}",  # past Python's int-digits limit
        json.dumps({d: {"score": 10**400, "evidence": ""} for d in DIMS} | {"content_type": "news_report"}),
        '\x00\ud800{"\\ud800": 1}',
    ],
)
def test_pathological_inputs_are_invalid_not_a_crash(text):
    assert parse(text) is None

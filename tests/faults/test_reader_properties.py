"""Issue 16 row 7: properties of the one JSONL reader (:func:`distillery.data.records.read_records`).

Whatever bytes a file holds (random bytes, a valid file cut short anywhere, a valid file with bytes
changed), the reader raises nothing but :class:`DistilleryError` (one line, ``file:line: reason``),
and with ``skip_invalid`` it never raises and never yields a record that is not on its line of the
input: every record is exactly what its reported line parses to, the untouched lines' records come
back unchanged, and a file cut short yields only records of the original file.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distillery.data.records import read_records
from distillery.errors import DistilleryError
from distillery.filters import load_filter

SPEC = load_filter("uplifting/v6")
DIMS = SPEC.dimension_names
# small records with multi-byte characters (so cuts and mutations land inside UTF-8 sequences too)
RECORDS = [
    {
        "id": f"r{i}",
        "title": title,
        "content": content,
        "labels": {d: round((i + j) * 0.7 % 10, 1) for j, d in enumerate(DIMS)},
    }
    for i, (title, content) in enumerate(
        [
            ("Clinic opens", "A new clinic opened — 3 000 patients seen."),
            ("Café co-op", "The café co-op in Zürich pays fair wages ☕."),
            ("Flood defences", 'Residents said "it works" after the storm.'),
            ("日本の学校", "New school meals reach 12,000 children 🍎."),
            ("Quiet week", "Nothing much happened,\tbut the library reopened."),
        ]
    )
]
VALID = b"".join(json.dumps(r, ensure_ascii=False).encode("utf-8") + b"\n" for r in RECORDS)
ORIGINAL = [json.dumps(r, sort_keys=True) for r in RECORDS]
PROPS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FOLDER = Path(tempfile.mkdtemp(prefix="distillery-reader-props-"))


def _file(data: bytes) -> Path:
    path = FOLDER / "data.jsonl"
    path.write_bytes(data)
    return path


def _lines(data: bytes) -> dict[int, bytes]:
    return dict(enumerate(data.split(b"\n"), 1))


def check(data: bytes, labelled: bool) -> list[dict]:
    """The reader's contract on ``data``; returns the records read with skip_invalid."""
    path, spec = _file(data), SPEC if labelled else None
    try:
        strict = read_records([path], spec).records
    except DistilleryError as e:  # the only exception, one line, naming the file and line
        msg = str(e)
        assert "\n" not in msg and msg.startswith(f"{path}:"), msg
        assert msg.split(":", 2)[1].isdigit(), msg
        strict = None
    report = read_records([path], spec, skip_invalid=True)  # never raises
    lines = _lines(data)
    assert len(report.records) == len(report.where)
    for rec, where in zip(report.records, report.where):
        n = int(where.rsplit(":", 1)[1])
        raw = lines[n].decode("utf-8").removeprefix("\ufeff" if n == 1 else "")
        assert json.loads(raw) == rec  # exactly what its own line says: nothing merged, invented or cut
        assert isinstance(rec, dict) and isinstance(rec["content"], str) and rec["content"].strip()
        if labelled:
            assert all(0 <= rec["labels"][d] <= 10 for d in DIMS)
    for s in report.skipped:
        assert "\n" not in s and s.startswith(f"{path}:"), s
    if strict is not None:  # no error: nothing was skipped, the same records
        assert report.skipped == [] and strict == report.records
    return report.records


@PROPS
@given(st.binary(max_size=2000), st.booleans())
def test_random_bytes(data, labelled):
    check(data, labelled)


@PROPS
@given(
    st.lists(
        st.one_of(
            st.sampled_from([json.dumps(r, ensure_ascii=False) for r in RECORDS]),
            st.text(max_size=80),
            st.sampled_from(['{"id": 1, "title": "t", "content": "c"}', "[]", "null", '{"a": NaN}', "1e999", "{"]),
            st.recursive(
                st.none() | st.booleans() | st.floats() | st.text(max_size=10),
                lambda c: st.lists(c) | st.dictionaries(st.text(max_size=5), c),
                max_leaves=6,
            ).map(json.dumps),
        ),
        max_size=12,
    ).map(lambda lines: "\n".join(lines).encode("utf-8", "surrogatepass")),
    st.booleans(),
)
def test_mixed_json_like_lines(data, labelled):
    check(data, labelled)


@PROPS
@given(st.integers(0, len(VALID)), st.booleans())
def test_truncations_yield_only_original_records(cut, labelled):
    recs = check(VALID[:cut], labelled)
    assert all(json.dumps(r, sort_keys=True) in ORIGINAL for r in recs)
    complete = VALID[:cut].count(b"\n")  # lines that kept their newline are whole
    assert len(recs) >= complete


@PROPS
@given(st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), min_size=1, max_size=3))
def test_byte_mutations(changes):
    data = bytearray(VALID)
    for pos, byte in changes:
        data[pos] = byte
    recs = check(bytes(data), labelled=True)
    got = [json.dumps(r, sort_keys=True) for r in recs]
    # an original line none of whose bytes changed, nor the newline before it, comes back as it was
    starts = [0, *[i + 1 for i, b in enumerate(VALID) if b == ord("\n")]]  # line k: VALID[starts[k]:starts[k + 1]]
    for k, original in enumerate(ORIGINAL):
        lo = max(starts[k] - 1, 0)
        if not any(lo <= pos < starts[k + 1] for pos, _ in changes):
            assert original in got, (k, changes)


@pytest.mark.parametrize(
    "data,needle",
    [
        # column in characters: "Café" before the byte is 4 characters, 5 bytes
        (VALID.replace(b"Caf\xc3\xa9", b"Caf\xc3\xa9\xff"), ":2: not UTF-8 (byte 0xff at column 28)"),
        (VALID[: VALID.index(b"\n") - 5] + b"\n", ":1: broken JSON at line 1 column"),
        (b'{"id": "x", "title": "t", "content": "\\ud800"}\n', ":1: a \\u escape of a lone UTF-16 surrogate"),
        (b"[" * 100_000 + b"\n", ":1: broken JSON at line 1: nested too deeply"),
    ],
)
def test_examples(data, needle):
    with pytest.raises(DistilleryError) as e:
        read_records([_file(data)], None)
    assert needle in str(e.value)

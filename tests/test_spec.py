"""The filter spec: validation with file/line/key, and the one copy of the scoring arithmetic."""

from __future__ import annotations

import numpy as np
import pytest

from distillery.errors import DistilleryError
from distillery.filters import load_filter
from distillery.filters.registry import find_filter, list_filters
from distillery.filters.spec import parse_spec


def test_uplifting_v6_as_specified(uplifting):
    assert uplifting.ref == "uplifting/v6"
    assert uplifting.dimension_names == [
        "human_wellbeing_impact",
        "social_cohesion_impact",
        "justice_rights_impact",
        "evidence_level",
        "benefit_distribution",
        "change_durability",
    ]
    assert uplifting.weights.tolist() == [0.25, 0.15, 0.10, 0.20, 0.20, 0.10]
    assert [(t.name, t.threshold) for t in uplifting.tiers] == [("high", 7.0), ("medium", 4.0), ("low", 0.0)]
    g = uplifting.gatekeepers[0]
    assert (g.dimension, g.below, g.cap) == ("evidence_level", 3.0, 3.0)


def test_weighted_average_gatekeeper_and_tier(uplifting):
    s = np.array(
        [
            [8, 8, 8, 8, 8, 8],  # 8.0 -> high
            [8, 8, 8, 2, 8, 8],  # 6.8 but evidence 2 < 3 -> capped at 3.0 -> low
            [12, -3, 5, 5, 5, 5],  # clamped to 10 / 0 first: 2.5+0+0.5+1+1+0.5 = 5.5
            [4, 4, 4, 4, 4, 4],
        ]
    )  # exactly 4.0 -> medium (threshold inclusive)
    avg = uplifting.weighted_average(s)
    np.testing.assert_allclose(avg, [8.0, 3.0, 5.5, 4.0])
    assert uplifting.tier(avg).tolist() == ["high", "low", "medium", "medium"]
    assert uplifting.summarize([8, 8, 8, 2, 8, 8]) == {"weighted_average": 3.0, "tier": "low"}


def test_every_problem_reported_at_once_with_file_line_and_key(tmp_path):
    bad = tmp_path / "filter.yaml"
    bad.write_text(
        "name: broken\n"
        "version: 1\n"
        "dimensions:\n"
        "  - {name: Good-Name, weight: 0.5, description: x}\n"  # line 4: not snake_case
        "  - {name: b, weight: -1, description: y}\n"  # line 5: negative weight
        "tiers:\n"
        "  - {name: low, threshold: 11}\n"  # line 7: out of range
        "gatekeepers: []\n"
        "typo_key: 1\n"  # line 9: unknown key
    )
    with pytest.raises(DistilleryError) as e:
        parse_spec(bad)
    msg = str(e.value)
    assert "4 problem(s)" in msg
    assert f"{bad}:4: dimensions.0.name" in msg
    assert f"{bad}:5: dimensions.1.weight" in msg
    assert f"{bad}:7: tiers.0.threshold" in msg
    assert f"{bad}:9: typo_key" in msg


def test_cross_field_problems_named(tmp_path):
    bad = tmp_path / "filter.yaml"
    bad.write_text(
        "name: x\nversion: 1\n"
        "dimensions:\n  - {name: a, weight: 0.7, description: d}\n  - {name: a, weight: 0.2, description: d}\n"
        "tiers:\n  - {name: low, threshold: 2}\n  - {name: high, threshold: 7}\n"
        "gatekeepers:\n  - {dimension: nope, below: 3, cap: 3}\n"
    )
    msg = str(pytest.raises(DistilleryError, parse_spec, bad).value)
    for expected in (
        "duplicate names ['a']",
        "weights sum to 0.9",
        f"{bad}:10: gatekeepers.0.dimension",
        "strictly decreasing",
        "threshold 0",
    ):
        assert expected in msg


def test_find_filter_latest_user_dirs_and_unknown(tmp_path, uplifting):
    assert "uplifting/v6" in list_filters()
    assert load_filter("uplifting") == uplifting  # latest version
    assert load_filter("uplifting/v6").path == find_filter("uplifting/v6")
    mine = tmp_path / "mine" / "uplifting" / "v7"
    mine.mkdir(parents=True)
    text = uplifting.path.read_text().replace("version: 6", "version: 7")
    (mine / "filter.yaml").write_text(text)
    assert load_filter("uplifting", [tmp_path / "mine"]).version == 7
    with pytest.raises(DistilleryError, match="unknown filter 'nope/v1'.*known filters: .*uplifting/v6"):
        load_filter("nope/v1")

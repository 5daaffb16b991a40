"""Calibration is shipped only where it lowers MAE out of sample (nested cross-fitting on val)."""

from __future__ import annotations

import numpy as np

from distillery.evaluate.calibrate import calibration_summary
from distillery.runtime.calibration import fit_calibration, keep_if_it_helps


def test_a_real_bias_is_kept_and_noise_is_not_shipped():
    rng = np.random.default_rng(0)
    n = 300
    true = rng.uniform(0, 10, size=(n, 2))
    raw = np.column_stack(
        [
            0.5 * true[:, 0] + 2.5 + rng.normal(0, 0.3, n),  # compressed toward the mean: calibration fixes it
            true[:, 1] + rng.normal(0, 1.0, n),  # unbiased noise: any map fitted on val is overfitting
        ]
    )
    cal = fit_calibration(raw, true, ["squeezed", "noisy"])
    rep = keep_if_it_helps(cal, raw, true)
    squeezed, noisy = rep["dimensions"]["squeezed"], rep["dimensions"]["noisy"]
    assert squeezed["kept"] and squeezed["calibrated_mae"] < 0.5 * squeezed["raw_mae"]
    assert rep["kept"] == ["squeezed"] and cal.x[1] == [] and not noisy["kept"]
    # the shipped map leaves the noisy dimension exactly as it is, and fixes the squeezed one on new data
    new_true = rng.uniform(0, 10, size=(n, 2))
    new_raw = np.column_stack([0.5 * new_true[:, 0] + 2.5, new_true[:, 1] + rng.normal(0, 1.0, n)])
    out = cal.apply(new_raw)
    assert np.array_equal(out[:, 1], new_raw[:, 1])
    assert np.abs(out[:, 0] - new_true[:, 0]).mean() < 0.5 * np.abs(new_raw[:, 0] - new_true[:, 0]).mean()
    lines = calibration_summary({**cal.report, "test": {"n": n, "mae_before": 2.0, "mae_after": 1.0}})
    assert lines[0].startswith("out of sample (nested 5-fold cross-fitting on val, n=300)")
    assert lines[0].endswith("calibrated dimensions: squeezed") and "never seen by the fit" in lines[1]


def test_too_few_points_ship_nothing():
    raw = np.array([[1.0], [2.0], [3.0]])
    cal = fit_calibration(raw, raw + 1, ["d"])
    rep = keep_if_it_helps(cal, raw, raw + 1)
    assert rep["kept"] == [] and cal.x == [[]]

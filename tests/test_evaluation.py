"""Spike-inference scoring on hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest

from calcium.evaluation import binned_sum, match_spike_times, precision_recall_f1, spikefinder_correlation

FS = 50.0


def test_perfect_inference_scores_one():
    rng = np.random.default_rng(0)
    frames = np.sort(rng.choice(5000, 80, replace=False))
    s = np.zeros(5000)
    s[frames] = 1.0
    times = frames / FS
    assert spikefinder_correlation(s, FS, times) == pytest.approx(1.0)
    scores = precision_recall_f1(times, times, tolerance_s=0.1)
    assert scores["precision"] == scores["recall"] == scores["f1"] == 1.0


def test_shift_beyond_the_tolerance_gives_f1_zero_and_within_gives_one():
    true = np.array([1.0, 3.0, 5.0, 7.0])
    assert precision_recall_f1(true + 0.15, true, tolerance_s=0.1)["f1"] == 0.0
    assert precision_recall_f1(true + 0.05, true, tolerance_s=0.1)["f1"] == 1.0


def test_each_true_spike_is_matched_once():
    # Two inferred spikes near one true spike: one hit, one false positive.
    tp, fp, fn = match_spike_times([1.0, 1.02], [1.01], tolerance_s=0.1)
    assert (tp, fp, fn) == (1, 1, 0)
    scores = precision_recall_f1([1.0, 1.02], [1.01, 2.0], tolerance_s=0.1)
    assert scores["precision"] == 0.5 and scores["recall"] == 0.5 and scores["f1"] == 0.5


def test_bins_are_40_ms_and_sum_amplitudes():
    counts = binned_sum(np.array([0.0, 0.039, 0.04, 0.1]), np.array([1.0, 2.0, 3.0, 4.0]), 0.12)
    np.testing.assert_allclose(counts, [3.0, 3.0, 4.0])


def test_correlation_ignores_timing_within_a_bin_but_not_across_bins():
    s = np.zeros(1000)
    s[[100, 300, 500, 700]] = 1.0
    true = np.array([100, 300, 500, 700]) / FS
    assert spikefinder_correlation(s, FS, true + 0.005) == pytest.approx(1.0)
    assert spikefinder_correlation(s, FS, true + 0.2) < 0.1


def test_constant_series_give_nan():
    assert np.isnan(spikefinder_correlation(np.zeros(100), FS, np.array([0.5])))

"""Spike-inference scoring on hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest

from calcium.evaluation.scoring import (
    binned_sum,
    match_spike_times,
    precision_recall_f1,
    spikefinder_correlation,
)

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


def test_scores_use_the_session_clock_and_count_spikes_outside_the_imaged_span():
    from calcium.evaluation.scoring import score_neurons, split_by_span

    fs, start = 50.0, 1000.0
    frames = np.array([100, 300, 500, 700])
    s = np.zeros((1, 1000))
    s[0, frames] = 1.0
    true = start + frames / fs
    # Frame 0 covers [start - 0.01, start + 0.01): the span is [start - 0.01, start + 19.99).
    inside, outside = split_by_span(
        np.r_[start - 0.011, start - 0.009, true, start + 19.98, start + 19.99], 1000, fs, start
    )
    assert outside == 2 and inside.size == 6
    assert spikefinder_correlation(s[0], fs, true, start_time_s=start) == pytest.approx(1.0)
    assert spikefinder_correlation(s[0], fs, true, start_time_s=start + 0.5) < 0.1  # wrong clock
    rows = score_neurons(s, fs, {0: true}, {0: np.r_[true, start - 5.0, start + 25.0]}, start_time_s=start)
    assert rows[0]["n_true_spikes"] == 4 and rows[0]["n_true_spikes_outside"] == 2
    assert rows[0]["recall"] == 1.0 and rows[0]["correlation_40ms"] == pytest.approx(1.0)


def test_frames_longer_than_a_bin_are_spread_over_their_exposure():
    from calcium.evaluation.scoring import frames_to_bins

    # 10 Hz frames (100 ms) into 40 ms bins; frame k covers [k/10 - 0.05, k/10 + 0.05) from -0.05 s.
    values = np.array([[1.0, 0.0, 2.0]])
    bins = frames_to_bins(values, 10.0, 0.04)
    np.testing.assert_allclose(bins.sum(), 3.0)
    np.testing.assert_allclose(bins[0], [0.4, 0.4, 0.2, 0.0, 0.0, 0.8, 0.8, 0.4][: bins.shape[1]])
    # frames shorter than a bin: plain sums of the frames in each bin
    fine = frames_to_bins(np.arange(8.0), 100.0, 0.04)
    np.testing.assert_allclose(fine, [0 + 1 + 2 + 3, 4 + 5 + 6 + 7])
    # a true 7.5 Hz estimate that knows the count per frame beats one that puts it in one bin
    rng = np.random.default_rng(1)
    times = np.sort(rng.uniform(0, 400, 300))
    counts = np.bincount(np.floor(times * 7.5 + 0.5).astype(int), minlength=3000)[:3000].astype(float)
    assert spikefinder_correlation(counts, 7.5, times) > 0.45

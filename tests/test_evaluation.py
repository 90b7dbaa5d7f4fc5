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


def _spike_table(frames: np.ndarray, fs: float, start: float, jitter_s: np.ndarray):
    import pandas as pd

    return pd.DataFrame({"neuron": 0, "frame": frames, "time_s": start + frames / fs + jitter_s})


def test_a_session_with_trials_is_scored_within_its_trials_as_the_trials_alone():
    """Trials of 30 s and 20 s with a 10 s gap full of true spikes (none inferred there, the
    arrays hold 0): scored within trials, the gap's spikes are counted apart and every score is
    that of the two trials recorded back to back as one continuous recording."""
    from calcium.evaluation.scoring import (
        evaluation_summary,
        score_neurons,
        spike_times_by_neuron,
        spike_trials_by_neuron,
    )

    fs, start, rng = 10.0, 100.0, np.random.default_rng(3)
    bounds = np.array([[0, 300], [400, 600]])
    in_trials = np.r_[
        rng.choice(np.arange(3, 297), 40, replace=False), rng.choice(np.arange(403, 597), 30, False)
    ]
    true = np.sort(start + in_trials / fs + rng.uniform(-0.04, 0.04, in_trials.size))
    gap = start + rng.uniform(30.5, 39.5, 50)  # in the gap: nothing inferred there
    detected = np.sort(rng.choice(in_trials, 55, replace=False))  # 15 missed
    false = np.r_[rng.choice(np.arange(3, 297), 5, False), rng.choice(np.arange(403, 597), 4, False)]
    frames = np.sort(np.r_[detected, false])
    jitter = rng.uniform(-0.05, 0.05, frames.size)
    activity = np.zeros((1, 600))
    np.add.at(activity[0], frames, rng.uniform(0.5, 1.5, frames.size))
    table = _spike_table(frames, fs, start, jitter)
    with_trials = score_neurons(
        activity,
        fs,
        spike_times_by_neuron(table),
        {0: np.r_[true, gap]},
        start_time_s=start,
        trials=bounds,
        inferred_trials=spike_trials_by_neuron(table, bounds, 600),
    )[0]
    # the same two trials back to back (frames and times of trial 1 moved 10 s earlier)
    moved = np.where(frames >= 400, frames - 100, frames)
    alone = score_neurons(
        np.delete(activity, np.s_[300:400], axis=1),
        fs,
        spike_times_by_neuron(_spike_table(moved, fs, start, jitter)),
        {0: np.where(true >= start + 35, true - 10.0, true)},
        start_time_s=start,
    )[0]
    assert with_trials["n_true_spikes_in_gaps"] == 50 and with_trials["n_true_spikes"] == 70
    for key in ("n_true_spikes", "n_true_spikes_outside", "n_inferred_spikes", "precision", "recall", "f1"):
        assert with_trials[key] == alone[key], key
    assert with_trials["correlation_40ms"] == pytest.approx(alone["correlation_40ms"], abs=1e-12)
    assert 0.5 < with_trials["recall"] < 1 and 0.3 < with_trials["correlation_40ms"] < 1
    # ignoring the trials would count the gap's 50 spikes as missed
    ignoring = score_neurons(
        activity, fs, spike_times_by_neuron(table), {0: np.r_[true, gap]}, start_time_s=start
    )[0]
    assert ignoring["recall"] < 0.6 * with_trials["recall"]
    import pandas as pd

    summary = evaluation_summary(pd.DataFrame([with_trials]), "s", n_trials=2)
    assert summary.n_trials.iloc[0] == 2 and summary.n_true_spikes_in_gaps.iloc[0] == 50
    assert "n_trials" not in evaluation_summary(pd.DataFrame([alone]), "s").columns  # continuous: as before


def test_spikes_are_matched_only_within_their_trial():
    """Two files back to back: a true spike on trial 0's last frame is not matched by an inferred
    spike on trial 1's first frame, though within the tolerance."""
    from calcium.evaluation.scoring import score_neurons, spike_times_by_neuron, spike_trials_by_neuron

    fs, bounds = 20.0, np.array([[0, 100], [100, 200]])
    table = _spike_table(np.array([50, 100]), fs, 0.0, np.zeros(2))
    activity = np.zeros((1, 200))
    activity[0, [50, 100]] = 1.0
    truth = {0: np.array([2.5, 4.95])}
    common = {"trials": bounds, "inferred_trials": spike_trials_by_neuron(table, bounds, 200)}
    row = score_neurons(activity, fs, spike_times_by_neuron(table), truth, **common)[0]
    assert (row["precision"], row["recall"]) == (0.5, 0.5)
    across = score_neurons(activity, fs, spike_times_by_neuron(table), truth)[0]
    assert (across["precision"], across["recall"]) == (1.0, 1.0)

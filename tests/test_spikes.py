"""Unit tests for calcium.signal.spikes: thresholds, spike tables and per-neuron times."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from calcium.signal.spikes import SPIKE_METHODS, detect_spikes, spike_thresholds, spike_times_by_neuron

FS = 20.0


def _frames(table, neuron):
    return table.loc[table.neuron == neuron, "frame"].tolist()


def test_absolute_threshold_is_strict_and_ignores_non_positive_values():
    s = np.zeros((2, 50), dtype=np.float32)
    # Values exactly representable in float32: 0.25 is not strictly above 0.25.
    s[0, [3, 10, 20]] = [0.125, 0.25, 0.5]
    s[1, [5, 6]] = [-0.5, 0.375]
    np.testing.assert_array_equal(spike_thresholds(s, "absolute", absolute=0.25), [0.25, 0.25])
    table = detect_spikes(s, FS, method="absolute", absolute=0.25)
    assert _frames(table, 0) == [20]
    assert _frames(table, 1) == [6]
    # A negative threshold never makes zero or negative s a spike.
    loose = detect_spikes(s, FS, method="absolute", absolute=-1.0)
    assert _frames(loose, 0) == [3, 10, 20]
    assert _frames(loose, 1) == [6]


def test_fraction_of_max_is_per_neuron():
    s = np.zeros((2, 40), dtype=np.float32)
    s[0, [1, 2, 3]] = [2.0, 1.0, 1.5]  # threshold 0.5 * 2 = 1: frame 2 (= 1.0) is out
    s[1, [7, 8]] = [0.2, 0.09]  # threshold 0.1: frame 8 is out
    np.testing.assert_allclose(spike_thresholds(s, "fraction_of_max", fraction_of_max=0.5), [1.0, 0.1])
    table = detect_spikes(s, FS, method="fraction_of_max", fraction_of_max=0.5)
    assert _frames(table, 0) == [1, 3]
    assert _frames(table, 1) == [7]


def test_percentile_threshold():
    s = np.tile(np.arange(100, dtype=np.float32) / 100, (2, 1))
    s[1] *= 10  # another scale: its own threshold
    thresholds = spike_thresholds(s, "percentile", percentile=95.0)
    np.testing.assert_allclose(thresholds, [0.9405, 9.405], rtol=1e-5)
    table = detect_spikes(s, FS, method="percentile", percentile=95.0)
    assert _frames(table, 0) == [95, 96, 97, 98, 99]
    assert _frames(table, 1) == [95, 96, 97, 98, 99]


def test_k_sigma_threshold_separates_large_from_small_events():
    rng = np.random.default_rng(0)
    s = np.abs(rng.normal(0.0, 0.01, (3, 2000))).astype(np.float32)  # small positive jitter
    planted = [np.array([100, 700, 1500]), np.array([50]), np.array([10, 20, 1990])]
    for row, frames in enumerate(planted):
        s[row, frames] = 1.0 + row
    thresholds = spike_thresholds(s, "k_sigma", k_sigma=3.0)
    np.testing.assert_allclose(thresholds, s.mean(axis=1) + 3.0 * s.std(axis=1), rtol=1e-6)
    table = detect_spikes(s, FS, method="k_sigma", k_sigma=3.0)
    for row, frames in enumerate(planted):
        assert _frames(table, row) == frames.tolist()


def test_peaks_with_min_distance_merges_close_peaks():
    s = np.zeros((1, 100), dtype=np.float32)
    s[0, [20, 21, 22]] = [0.5, 0.1, 0.8]  # two peaks 2 frames (0.1 s) apart
    s[0, 60] = 0.05  # below min_height
    s[0, 80] = 0.3
    apart = detect_spikes(s, FS, method="peaks", min_height=0.1)
    assert _frames(apart, 0) == [20, 22, 80]
    merged = detect_spikes(s, FS, method="peaks", min_height=0.1, min_distance_s=0.25)
    assert _frames(merged, 0) == [22, 80]  # the higher one is kept
    np.testing.assert_array_equal(spike_thresholds(s, "peaks", min_height=0.1), [0.1])


def test_peaks_ignore_flat_zero_and_consecutive_frames_give_one_peak():
    s = np.zeros((2, 30), dtype=np.float32)
    s[0, 10:13] = [0.2, 0.6, 0.2]
    table = detect_spikes(s, FS, method="peaks")
    assert _frames(table, 0) == [11]
    assert _frames(table, 1) == []


def test_table_columns_times_amplitudes_and_ids():
    s = np.zeros((3, 60), dtype=np.float32)
    s[0, [5, 40]] = [0.7, 0.9]
    s[2, [0, 59]] = [1.5, 0.25]
    ids = np.array([12, 7, 30])
    table = detect_spikes(s, FS, method="absolute", absolute=0.1, neuron_ids=ids)
    assert list(table.columns) == ["neuron", "frame", "time_s", "amplitude_dff"]
    assert table.neuron.tolist() == [12, 12, 30, 30]
    assert table.frame.tolist() == [5, 40, 0, 59]
    np.testing.assert_allclose(table.time_s, table.frame / FS)
    np.testing.assert_allclose(table.amplitude_dff, [0.7, 0.9, 1.5, 0.25], rtol=1e-6)
    assert table.neuron.dtype == np.int64 and table.frame.dtype == np.int64


def test_table_is_sorted_by_neuron_then_frame():
    rng = np.random.default_rng(1)
    s = (rng.random((5, 400)) < 0.05) * rng.uniform(0.5, 1.0, (5, 400))
    table = detect_spikes(s, 7.5, method="absolute", absolute=0.1)
    keys = list(zip(table.neuron, table.frame, strict=True))
    assert keys == sorted(keys)
    assert len(table) == int(np.count_nonzero(s > 0.1))
    np.testing.assert_allclose(table.time_s, table.frame / 7.5)


def test_no_spikes_gives_an_empty_table_with_columns():
    table = detect_spikes(np.zeros((3, 20)), FS, method="absolute")
    assert len(table) == 0
    assert list(table.columns) == ["neuron", "frame", "time_s", "amplitude_dff"]
    assert len(detect_spikes(np.zeros((3, 20)), FS, method="peaks")) == 0


def test_unknown_method_raises():
    with pytest.raises(ValueError, match="unknown spike threshold method"):
        detect_spikes(np.zeros((1, 10)), FS, method="magic")
    assert "magic" not in SPIKE_METHODS


def test_spike_times_by_neuron_matches_table_including_empty_neurons():
    rng = np.random.default_rng(2)
    n_neurons = 12
    s = (rng.random((n_neurons, 300)) < 0.03).astype(np.float32)
    s[[3, 7]] = 0.0  # two silent neurons
    table = detect_spikes(s, FS, method="absolute", absolute=0.5)
    # Shuffle the table: the function must not rely on its order.
    shuffled = table.sample(frac=1.0, random_state=np.random.default_rng(3).integers(2**31))
    times = spike_times_by_neuron(shuffled, n_neurons, FS)
    assert list(times) == [f"neuron_{i:02d}" for i in range(n_neurons)]
    assert list(times) == sorted(times)
    for i in range(n_neurons):
        values = times[f"neuron_{i:02d}"]
        assert values.dtype == np.float64
        expected = np.sort(table.loc[table.neuron == i, "time_s"].to_numpy())
        np.testing.assert_array_equal(np.sort(values), expected)
        np.testing.assert_allclose(expected, np.flatnonzero(s[i]) / FS)
    assert times["neuron_03"].size == 0 and times["neuron_07"].size == 0


def test_spike_times_by_neuron_keeps_time_order_and_handles_empty_tables():
    table = pd.DataFrame({"neuron": [1, 0, 1, 1], "frame": [1, 4, 3, 6]})
    times = spike_times_by_neuron(table, 3, frame_rate_hz=2.0, start_time_s=10.0)
    np.testing.assert_array_equal(times["neuron_0"], [12.0])
    np.testing.assert_array_equal(times["neuron_1"], [10.5, 11.5, 13.0])
    assert times["neuron_2"].size == 0
    empty = spike_times_by_neuron(pd.DataFrame({"neuron": [], "frame": []}), 2, 2.0)
    assert list(empty) == ["neuron_0", "neuron_1"]
    assert all(v.size == 0 for v in empty.values())


def test_spike_times_are_on_the_recording_clock_at_full_precision():
    """time_s = start + frame / rate exactly; a frame at 324001 / 30 s is not rounded to 10800 s."""
    s = np.zeros((1, 324_002), dtype=np.float32)
    s[0, 324_001] = 1.0
    table = detect_spikes(s, 30.0, method="absolute", absolute=0.5, start_time_s=0.008)
    assert table.time_s.iloc[0] == 0.008 + 324_001 / 30.0
    times = spike_times_by_neuron(table, 1, 30.0, 0.008)
    assert times["neuron_0"][0] == table.time_s.iloc[0]


def test_noise_threshold_is_in_units_of_amplitude_noise_and_sets_the_false_positive_rate():
    from calcium.signal.spikes import noise_threshold_k

    s = np.zeros((2, 100), dtype=np.float32)
    s[0, [10, 20]] = [0.29, 0.31]
    s[1, [10, 20]] = [0.29, 0.31]
    table = detect_spikes(s, FS, method="noise", k_noise=3.0, amplitude_noise=np.array([0.1, 0.05]))
    assert _frames(table, 0) == [20]  # threshold 0.3
    assert _frames(table, 1) == [10, 20]  # threshold 0.15
    # auto: k such that pure Gaussian noise crosses it false_positive_rate_hz times per second
    assert noise_threshold_k(7.5, 0.01) == pytest.approx(3.0, abs=0.01)
    assert noise_threshold_k(122.0, 0.01) > noise_threshold_k(30.0, 0.01) > noise_threshold_k(7.5, 0.01)
    rng = np.random.default_rng(0)
    for fs in (7.5, 122.0):
        noise = rng.normal(0.0, 1.0, (20, int(fs * 2000))).astype(np.float32)
        found = detect_spikes(
            noise, fs, method="noise", amplitude_noise=np.ones(20), false_positive_rate_hz=0.05
        )
        assert len(found) / (20 * 2000) == pytest.approx(0.05, rel=0.15)
    with pytest.raises(ValueError, match="amplitude_noise"):
        detect_spikes(s, FS, method="noise")


def test_spike_times_use_the_session_clock_and_the_lag():
    s = np.zeros((1, 50), dtype=np.float32)
    s[0, 10] = 1.0
    table = detect_spikes(s, FS, method="absolute", absolute=0.5, start_time_s=100.0, lag_s=0.02)
    assert table.frame.tolist() == [10]
    assert table.time_s.iloc[0] == pytest.approx(100.0 + 10 / FS - 0.02)

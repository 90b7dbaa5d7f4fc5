"""Unit tests for calcium.signal.baseline.running_percentile."""

from __future__ import annotations

import numpy as np
import pytest

import calcium.signal.baseline as baseline_module
from calcium.signal.baseline import robust_sd, running_percentile


def _sparse_spikes(rng, n_frames, n_spikes, amplitude, width=5):
    spikes = np.zeros(n_frames)
    for onset in rng.choice(n_frames - width, n_spikes, replace=False):
        spikes[onset : onset + width] = amplitude
    return spikes


def test_low_percentile_tracks_a_ramp_and_ignores_spikes():
    rng = np.random.default_rng(0)
    n_frames, window, percentile = 4000, 201, 10.0
    slope = 1.0 / n_frames  # the ramp rises by 1 over the recording
    ramp = 2.0 + slope * np.arange(n_frames)
    spikes = _sparse_spikes(rng, n_frames, n_spikes=40, amplitude=5.0)  # ~5% of frames
    trace = (ramp + spikes)[None, :]
    result = running_percentile(trace, window, percentile)
    assert result.shape == trace.shape
    assert result.dtype == np.float32
    # Exact bounds for a linear ramp: the p-th percentile of a window lies
    # (0.5 - p/100) * window * slope below its centre; beyond the outermost
    # window centres the value is held, adding at most window/2 * slope.
    # The spikes (5 units high) would add far more if they were not ignored.
    bias = (0.5 - percentile / 100) * window * slope
    edge = window / 2 * slope
    error = np.abs(result[0] - ramp)
    assert error.max() < bias + edge + 0.01
    interior = slice(window, n_frames - window)
    assert error[interior].max() < bias + 0.01
    # The spikes barely move it: they only shift ranks within each window.
    without = running_percentile(ramp[None, :], window, percentile)
    assert np.abs(result - without).max() < 0.01


def test_values_at_window_centres_are_exact_percentiles():
    rng = np.random.default_rng(1)
    traces = rng.normal(size=(3, 1000)).astype(np.float32)
    window, step, percentile = 101, 25, 20.0
    result = running_percentile(traces, window, percentile, grid_step_frames=step)
    for start in range(0, 1000 - window + 1, step):
        centre = start + window // 2
        expected = np.percentile(traces[:, start : start + window], percentile, axis=1)
        np.testing.assert_allclose(result[:, centre], expected, rtol=1e-5, atol=1e-6)


def test_constant_levels_with_spikes_are_recovered_per_neuron():
    rng = np.random.default_rng(2)
    n_frames = 3000
    levels = np.array([1.0, 10.0, 100.0, -5.0, 0.0])
    traces = np.repeat(levels[:, None], n_frames, axis=1)
    for row in range(len(levels)):
        # Different spike times (and heights) in every row.
        traces[row] += _sparse_spikes(rng, n_frames, n_spikes=30, amplitude=3.0 * (row + 1))
    result = running_percentile(traces, 300, 8.0)
    np.testing.assert_allclose(result, np.repeat(levels[:, None], n_frames, axis=1), atol=1e-5)


def test_rows_are_independent():
    rng = np.random.default_rng(3)
    traces = np.cumsum(rng.normal(size=(6, 2000)), axis=1)
    together = running_percentile(traces, 150, 15.0)
    for row in range(traces.shape[0]):
        alone = running_percentile(traces[row : row + 1], 150, 15.0)
        np.testing.assert_array_equal(together[row], alone[0])
    # Reversing the order of neurons reverses the output rows.
    np.testing.assert_array_equal(running_percentile(traces[::-1], 150, 15.0), together[::-1])


@pytest.mark.parametrize("window", [500, 501, 10_000])
def test_window_at_least_the_trace_gives_the_global_percentile(window):
    rng = np.random.default_rng(4)
    traces = rng.gamma(2.0, size=(4, 500)).astype(np.float32)
    result = running_percentile(traces, window, 30.0)
    expected = np.percentile(traces, 30.0, axis=1)
    assert result.shape == traces.shape
    assert result.dtype == np.float32
    np.testing.assert_allclose(result, np.repeat(expected[:, None], 500, axis=1), rtol=1e-6)


def test_blocking_over_neurons_does_not_change_the_result(monkeypatch):
    rng = np.random.default_rng(5)
    traces = rng.normal(size=(7, 1200))
    whole = running_percentile(traces, 120, 10.0)
    # Force one neuron per block.
    monkeypatch.setattr(baseline_module, "_BLOCK_SAMPLES", 1)
    blocked = running_percentile(traces, 120, 10.0)
    np.testing.assert_array_equal(whole, blocked)


def test_rejects_one_dimensional_input():
    with pytest.raises(ValueError, match="2-D"):
        running_percentile(np.zeros(100), 10, 10.0)


def test_robust_sd_is_the_normal_scaled_median_absolute_deviation():
    from scipy.stats import median_abs_deviation

    rng = np.random.default_rng(6)
    traces = rng.normal(0.2, 0.5, size=(6, 2001)).astype(np.float32)
    traces[:, ::50] += 5.0  # transients barely move it
    expected = median_abs_deviation(traces.astype(np.float64), axis=1, scale="normal")
    np.testing.assert_array_equal(robust_sd(traces), expected)
    # Gaussian noise: the SD, transients or not.
    np.testing.assert_allclose(robust_sd(traces), 0.5, rtol=0.1)
    # About a given centre (e.g. zero for wavelet detail coefficients).
    zero = np.zeros(6)
    np.testing.assert_array_equal(
        robust_sd(traces, zero),
        np.median(np.abs(traces.astype(np.float64)), axis=1) / 0.6744897501960817,
    )

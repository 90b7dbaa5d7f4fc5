"""Unit tests for calcium.signal.detrend: removing slow drift, keeping transients."""

from __future__ import annotations

import numpy as np
import pytest

from calcium.signal.detrend import DETREND_METHODS, detrend, slow_trend

FS = 10.0
DURATION_S = 600.0
TAU_S = 1.0


def _planted_session(seed=0, n_neurons=4):
    """Drift (sinusoid, 0.5 ΔF/F) + transients (amplitude 1, tau 1 s) + small noise."""
    rng = np.random.default_rng(seed)
    n_frames = int(FS * DURATION_S)
    t = np.arange(n_frames) / FS
    drift = np.empty((n_neurons, n_frames))
    transients = np.zeros((n_neurons, n_frames))
    onsets = []
    kernel = np.exp(-np.arange(int(15 * FS)) / (TAU_S * FS))
    for row in range(n_neurons):
        period = rng.uniform(100.0, 200.0)
        drift[row] = 0.5 * np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi))
        # Onsets 20-40 s apart (tails have decayed to < 1e-6), away from the ends.
        times = np.cumsum(rng.uniform(20.0, 40.0, 40))
        times = times[(times > 20.0) & (times < DURATION_S - 30.0)]
        frames = np.round(times * FS).astype(int)
        for onset in frames:
            transients[row, onset : onset + kernel.size] += kernel
        onsets.append(frames)
    noise = rng.normal(0.0, 0.02, (n_neurons, n_frames))
    return drift, transients, noise, onsets


def _quiet_mask(onsets, n_frames, after_s=12.0, before_s=1.0):
    """Frames far from every transient (its tail is below exp(-12) after 12 s)."""
    quiet = np.ones((len(onsets), n_frames), dtype=bool)
    for row, frames in enumerate(onsets):
        for onset in frames:
            quiet[row, max(0, onset - int(before_s * FS)) : onset + int(after_s * FS)] = False
    return quiet


def _amplitudes(trace, frames):
    """Peak minus the median of the 2 s before onset, for each transient."""
    pre = int(2 * FS)
    return np.array(
        [trace[f : f + int(FS)].max() - np.median(trace[f - pre : f]) for f in frames],
    )


@pytest.fixture(scope="module")
def session():
    drift, transients, noise, onsets = _planted_session()
    return drift, transients, noise, onsets, (drift + transients + noise).astype(np.float32)


def test_percentile_detrend_removes_drift_and_keeps_transients(session):
    drift, transients, noise, onsets, traces = session
    out = detrend(traces, FS, method="percentile", slow_drift_s=20.0)
    assert out.shape == traces.shape and out.dtype == np.float32
    quiet = _quiet_mask(onsets, traces.shape[1])
    for row in range(traces.shape[0]):
        drift_sd = np.std(drift[row, quiet[row]])
        assert np.std(traces[row, quiet[row]]) > 0.9 * drift_sd  # the drift is there before
        assert np.std(out[row, quiet[row]]) < 0.25 * drift_sd
        # Transient amplitudes are kept within 5 %: compared with the same measure on
        # the drift-free trace (planted amplitude 1 plus this noise realisation).
        amplitudes = _amplitudes(out[row], onsets[row])
        planted = _amplitudes(transients[row] + noise[row], onsets[row])
        np.testing.assert_allclose(planted, 1.0, rtol=0.1)
        np.testing.assert_allclose(amplitudes, planted, rtol=0.05)


def test_highpass_detrend_removes_drift(session):
    drift, transients, noise, onsets, traces = session
    out = detrend(traces, FS, method="highpass", slow_drift_s=20.0)
    assert out.shape == traces.shape and out.dtype == np.float32
    quiet = _quiet_mask(onsets, traces.shape[1])
    for row in range(traces.shape[0]):
        drift_sd = np.std(drift[row, quiet[row]])
        assert np.std(out[row, quiet[row]]) < 0.25 * drift_sd
        # Sharp transients pass the high-pass filter (cut-off 0.05 Hz) mostly intact.
        amplitudes = _amplitudes(out[row], onsets[row])
        planted = _amplitudes(transients[row] + noise[row], onsets[row])
        np.testing.assert_allclose(amplitudes, planted, rtol=0.05)


def test_slow_trend_follows_the_drift(session):
    drift, transients, noise, onsets, traces = session
    trend = slow_trend(traces, FS, slow_drift_s=20.0)
    margin = int(20 * FS)
    inner = slice(margin, traces.shape[1] - margin)
    # The lower envelope sits a little below the drift (by its noise percentile and
    # lag), but varies with it: the residual is small next to the 0.5 amplitude.
    residual = trend[:, inner] - drift[:, inner]
    assert np.abs(residual - np.median(residual, axis=1, keepdims=True)).max() < 0.15
    correlations = [np.corrcoef(trend[r, inner], drift[r, inner])[0, 1] for r in range(len(drift))]
    assert min(correlations) > 0.95


def test_none_returns_an_unchanged_copy(session):
    traces = session[-1]
    out = detrend(traces, FS, method="none")
    np.testing.assert_array_equal(out, traces)
    out[0, 0] += 1.0
    assert out[0, 0] != traces[0, 0]


def test_unknown_method_raises():
    with pytest.raises(ValueError, match="unknown detrend method"):
        detrend(np.zeros((2, 100)), FS, method="polynomial")
    assert "polynomial" not in DETREND_METHODS


def test_highpass_cutoff_above_nyquist_raises():
    with pytest.raises(ValueError, match="Nyquist"):
        detrend(np.zeros((2, 100)), 1.0, method="highpass", slow_drift_s=1.5)

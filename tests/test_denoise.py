"""Unit tests for calcium.signal.denoise: wavelet shrinkage."""

from __future__ import annotations

import numpy as np
import pytest
import pywt

from calcium.signal.denoise import THRESHOLD_MODES, THRESHOLD_RULES, noise_sigma, wavelet_denoise

FS = 10.0
SIGMA = 0.1


def _clean_signal(n_frames, seed=0, n_neurons=4):
    """Smooth drifts plus smooth calcium-like transients (Gaussian rise, 1.5 s decay)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_frames) / FS
    clean = np.empty((n_neurons, n_frames))
    rise = np.exp(-0.5 * (np.arange(-8, 9) / 3.0) ** 2)
    kernel = np.convolve(np.exp(-np.arange(100) / 15.0), rise / rise.sum())
    for row in range(n_neurons):
        period = rng.uniform(15.0, 40.0)
        clean[row] = 0.5 * np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi))
        spikes = np.zeros(n_frames)
        spikes[rng.choice(n_frames - 100, 8, replace=False)] = rng.uniform(0.5, 1.5, 8)
        clean[row] += np.convolve(spikes, kernel)[:n_frames]
    return clean


def _rmse(a, b):
    return np.sqrt(np.mean((a - b) ** 2, axis=1))


@pytest.mark.parametrize("rule", THRESHOLD_RULES)
@pytest.mark.parametrize("mode", THRESHOLD_MODES)
@pytest.mark.parametrize("n_frames", [2048, 1001])
def test_denoising_reduces_error_to_clean_signal(rule, mode, n_frames):
    rng = np.random.default_rng(1)
    clean = _clean_signal(n_frames)
    noisy = clean + rng.normal(0.0, SIGMA, clean.shape)
    out = wavelet_denoise(noisy, threshold_rule=rule, threshold_mode=mode)
    assert out.shape == noisy.shape
    assert out.dtype == np.float32
    before = _rmse(noisy, clean)
    after = _rmse(out, clean)
    assert np.all(after < 0.65 * before), (before, after)


@pytest.mark.parametrize("n_frames", [1001, 1000, 999, 2049])
@pytest.mark.parametrize("wavelet", ["sym4", "db4"])
def test_noise_free_input_is_returned_in_place(n_frames, wavelet):
    # No noise: the estimated sigma is ~0 (a smooth signal leaves almost nothing in
    # the finest details of a wavelet with 4 vanishing moments), nothing is shrunk,
    # and the output must line up with the input frame for frame (odd lengths too).
    t = np.arange(n_frames) / FS
    clean = np.stack([np.sin(2 * np.pi * t / 20.0), 1.0 + 0.3 * np.cos(2 * np.pi * t / 35.0)])
    for rule in THRESHOLD_RULES:
        out = wavelet_denoise(clean, wavelet=wavelet, threshold_rule=rule)
        assert out.shape == clean.shape
        np.testing.assert_allclose(out, clean, atol=2e-3)


@pytest.mark.parametrize("mode", THRESHOLD_MODES)
@pytest.mark.parametrize("rule", THRESHOLD_RULES)
def test_flat_rows_have_no_noise_to_remove(rule, mode):
    """A row whose finest details are all zero (a flat ROI, or one flat but for a transient, as
    detrended ΔF/F of a clipped or integer trace is) has noise sigma 0: nothing is shrunk and the
    row comes back as it is. Before, PyWavelets' soft rule divided 0 by 0 there: all NaN."""
    flat = np.zeros((3, 600))
    flat[1] = 2.5
    flat[2, 200:212] = np.linspace(1.0, 0.2, 12)
    out = wavelet_denoise(flat, threshold_rule=rule, threshold_mode=mode)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, flat, atol=1e-6)


def test_rows_are_denoised_independently():
    rng = np.random.default_rng(2)
    clean = _clean_signal(1024)
    noisy = clean + rng.normal(0.0, 1.0, clean.shape) * np.array([[0.05], [0.1], [0.2], [0.4]])
    together = wavelet_denoise(noisy, threshold_rule="bayes")
    for row in range(noisy.shape[0]):
        alone = wavelet_denoise(noisy[row : row + 1], threshold_rule="bayes")
        np.testing.assert_allclose(together[row], alone[0], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("level", [None, 1, 2, 5, 50])
def test_levels_are_accepted_and_clamped(level):
    rng = np.random.default_rng(3)
    clean = _clean_signal(1001)
    noisy = clean + rng.normal(0.0, SIGMA, clean.shape)
    out = wavelet_denoise(noisy, level=level, threshold_rule="bayes")
    assert out.shape == noisy.shape
    assert np.all(_rmse(out, clean) < _rmse(noisy, clean))


def test_noise_sigma_on_pure_noise():
    rng = np.random.default_rng(4)
    sigmas = np.array([[0.05], [0.1], [0.5], [2.0]])
    noise = rng.normal(size=(4, 8000)) * sigmas
    # Directly on the samples (median |x| / 0.6745 is sigma for Gaussian noise) ...
    estimate = noise_sigma(noise)
    assert estimate.shape == (4, 1)
    np.testing.assert_allclose(estimate, sigmas, rtol=0.1)
    # ... and on the finest detail coefficients, as wavelet_denoise uses it.
    finest = pywt.wavedec(noise, "sym4", level=3, axis=-1)[-1]
    np.testing.assert_allclose(noise_sigma(finest), sigmas, rtol=0.1)


def test_noise_sigma_ignores_a_few_outliers():
    rng = np.random.default_rng(5)
    noise = rng.normal(0.0, 0.1, (1, 4000))
    noise[0, ::100] = 50.0  # 1 % huge values
    np.testing.assert_allclose(noise_sigma(noise), 0.1, rtol=0.1)


def test_unknown_rule_or_mode_raises():
    traces = np.zeros((1, 128))
    with pytest.raises(ValueError, match="threshold rule"):
        wavelet_denoise(traces, threshold_rule="sure")
    with pytest.raises(ValueError, match="threshold mode"):
        wavelet_denoise(traces, threshold_mode="garrote")
    with pytest.raises(ValueError, match="2-D"):
        wavelet_denoise(np.zeros(128))

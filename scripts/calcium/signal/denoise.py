"""Wavelet denoising (PyWavelets), vectorised across neurons."""

from __future__ import annotations

import numpy as np
import pywt

from calcium.signal.baseline import robust_sd

THRESHOLD_RULES = ("universal", "bayes")
THRESHOLD_MODES = ("soft", "hard")


def noise_sigma(finest_detail: np.ndarray) -> np.ndarray:
    """Noise SD per row from the finest detail coefficients: median(|d|) / 0.6745.

    Donoho & Johnstone's (1994) estimate: the median absolute deviation about zero (the
    detail coefficients of noise have mean zero, and about zero a few large coefficients of
    signal move it less than about their median), scaled to the SD of normal noise.
    Returns (rows, 1).
    """
    finest_detail = np.asarray(finest_detail)
    return robust_sd(finest_detail, center=np.zeros(finest_detail.shape[:-1]))[..., None]


# Depth used when the config leaves denoise.level null (scales up to 2^6 = 64 frames).
DEFAULT_MAX_LEVEL = 6


def max_denoise_level(n_frames: int, wavelet: str) -> int:
    """The deepest decomposition a recording of `n_frames` allows with `wavelet` (at least 1):
    PyWavelets' dwt_max_level, beyond which every coefficient feels the boundary."""
    return max(1, pywt.dwt_max_level(n_frames, pywt.Wavelet(wavelet).dec_len))


def denoise_level(n_frames: int, wavelet: str, level: int | None) -> int:
    """The decomposition depth actually used: `level` (None: the maximum useful depth, at most
    DEFAULT_MAX_LEVEL), never deeper than `max_denoise_level` allows (the workflow refuses a
    deeper denoise.level before any job; see calcium.settings.check_session_settings)."""
    deepest = max_denoise_level(n_frames, wavelet)
    if level is None:
        return min(deepest, DEFAULT_MAX_LEVEL)
    return max(1, min(int(level), deepest))


def wavelet_denoise(
    traces: np.ndarray,
    wavelet: str = "sym4",
    level: int | None = 3,
    threshold_rule: str = "universal",
    threshold_mode: str = "soft",
) -> np.ndarray:
    """Denoise each row of `traces` by shrinking its wavelet detail coefficients.

    Model: trace = signal + white Gaussian noise of SD sigma, with sigma estimated
    per neuron from the median absolute finest-scale detail coefficient.
    traces: (neurons, frames), any units (returned in the same units).
    wavelet: a PyWavelets discrete wavelet name (e.g. "sym4", "db4", "haar").
    level: decomposition depth (None: the maximum useful depth, capped at 6).
    threshold_rule: "universal" (VisuShrink, sigma·sqrt(2·ln N), the same at every
        level) or "bayes" (BayesShrink, sigma² / sigma_signal per level and neuron).
    threshold_mode: "soft" or "hard" thresholding.
    The approximation (coarsest) coefficients are kept as they are.
    Returns float32 (neurons, frames).
    """
    traces = np.asarray(traces, dtype=np.float64)
    if traces.ndim != 2:
        raise ValueError("traces must be 2-D (neurons, frames)")
    n_frames = traces.shape[1]
    wave = pywt.Wavelet(wavelet)
    level = denoise_level(n_frames, wavelet, level)
    coefficients = pywt.wavedec(traces, wave, level=level, axis=-1, mode="symmetric")
    sigma = noise_sigma(coefficients[-1])
    if threshold_rule not in THRESHOLD_RULES:
        raise ValueError(f"unknown threshold rule {threshold_rule!r}; choose one of {THRESHOLD_RULES}")
    if threshold_mode not in THRESHOLD_MODES:
        raise ValueError(f"unknown threshold mode {threshold_mode!r}; choose one of {THRESHOLD_MODES}")
    denoised = [coefficients[0]]
    for detail in coefficients[1:]:
        if threshold_rule == "universal":
            threshold = sigma * np.sqrt(2.0 * np.log(n_frames))
        else:
            signal_var = np.maximum(np.mean(detail**2, axis=-1, keepdims=True) - sigma**2, 0.0)
            signal_sd = np.sqrt(signal_var)
            # No signal at this level: remove the whole level (threshold = max |d|).
            threshold = np.where(
                signal_sd > 0,
                sigma**2 / np.where(signal_sd > 0, signal_sd, 1.0),
                np.max(np.abs(detail), axis=-1, keepdims=True),
            )
        # A zero threshold (no noise in the finest details: a flat row, or one flat but for a
        # transient) keeps the coefficients; PyWavelets' soft rule would divide 0 by 0 there (NaN).
        threshold = np.maximum(threshold, np.finfo(np.float64).tiny)
        with np.errstate(divide="ignore", invalid="ignore"):
            denoised.append(pywt.threshold(detail, threshold, mode=threshold_mode))
    result = pywt.waverec(denoised, wave, axis=-1, mode="symmetric")
    return result[:, :n_frames].astype(np.float32)


def noise_left_sd(
    denoised: np.ndarray, detrended: np.ndarray, noise_sd: np.ndarray, kept_share: float
) -> np.ndarray:
    """SD of the noise left in wavelet-denoised traces (the white-noise SD a model fitted to
    them, such as OASIS's noise constraint, should allow), per row.

    denoised, detrended: (neurons, frames) a trace and the same trace before denoising;
    noise_sd: (neurons,) the detrended trace's noise SD (same units); kept_share: the share of
    white noise's power in the approximation band (2^-level of the depth used, `denoise_level`).
    The denoised trace keeps the noise the shrinkage did not remove: noise_sd² less the
    variance of what it removed (robust: `robust_sd` of detrended − denoised, barely moved
    by the transients' shrunk peaks), and at least the power of white noise in the
    approximation band, which is never shrunk. A denoised trace's own
    high-frequency noise estimate reads the shrunk band and is 10-100x smaller.
    Returns (neurons,) float64.
    """
    noise_sd = np.asarray(noise_sd, dtype=np.float64)
    removed = robust_sd(np.asarray(detrended, dtype=np.float64) - np.asarray(denoised, dtype=np.float64))
    return np.sqrt(np.maximum(noise_sd**2 - removed**2, noise_sd**2 * float(kept_share)))

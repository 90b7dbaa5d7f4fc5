"""Linear interpolation from a slower scan, recognised in a trace's top octave
(`linear_interpolation_rate`: each row alone; `top_octave_evidence`: what each row's spectrum
says, pooled over a session by `calcium.signal.interpolation_session`). Used by
`calcium.signal.bandlimit.band_limits`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np

# Linear interpolation from a scan at f0 multiplies the spectrum by sinc²(f / f0) and folds
# its images back: white noise of the scan then has the density D(f) = Σ_m sinc⁴((f + m) R)
# (f in cycles per frame, R = frame rate / f0). Candidates R from 1.05 to 20 (0.5 % apart).
_RATIOS = np.geomspace(1.05, 20.0, 600)
_COARSE_RATIOS = _RATIOS[::4]  # with the scan's signal: 150 ratios, 2 % apart
_FOLDS = np.arange(-6, 7)
# What a natively sampled trace's top octave can look like: a power law (any slope: a calcium
# signal, integrated over each frame, dominating up to the Nyquist frequency), or white noise
# plus a signal falling as f^-b (b <= 4: decay and rise) at any ratio q of signal to noise at
# a quarter of the frame rate (q = 0: white noise alone).
_NATIVE_SLOPES = (1.0, 2.0, 3.0, 4.0)
_NATIVE_RATIOS = np.geomspace(1e-2, 1e4, 40)
# The scan interpolated may hold such a signal too (a clean GCaMP6 trace scanned at 7.5 Hz:
# its transients reach the scan's Nyquist frequency), and the interpolation folds its images
# into the top octave with the noise's: ratios of signal to noise at a quarter of the scan's
# rate tried (with white noise alone, 409 of 573 ground-truth recordings scanned at 7.5 Hz and
# interpolated to 30 Hz were recognised, the ratio read 4.1-4.4 for 4; with the signal, 557,
# 3.96-4.02; natively sampled ground truth reads at most 2.5 against 2.2).
_SCAN_SIGNALS = np.geomspace(1e-2, 1e3, 8)
# A row is taken as interpolated when D fits its log spectrum over the top octave (where OASIS
# reads the noise) 3x better than every native shape. Measured on scans interpolated from 4-30 Hz
# to 10-100 Hz (ν 0.1-4) and on the 2166 ground-truth traces at their own rate, 30 and 7.5 Hz.
_BETTER_THAN_NATIVE = 3.0
# At least 16 Welch segments (2176 frames): with 8 (30 s at 30 Hz) a natively sampled ground-truth
# trace reaches 2.96 (DS32 averaged to 7.5 Hz), at the threshold; with 16, 2.2 at most.
_MIN_SEGMENTS = 16
# A refined ratio within 3 % of a whole number up to 6 is taken as that number (the refinement's
# error on simulated scans: 1-4 %; 2x, 3x, 4x are what users choose); the interpolation's images then
# add coherently (`undo_linear_interpolation`). Beyond 6 they hardly reach the scan's band, and a
# 2.55 Hz scan interpolated to 30 Hz (ground truth DS40, DS41: ratio 11.8) must keep its own rate.
_WHOLE_RATIO_TOLERANCE = 0.03
_MAX_WHOLE_RATIO = 6


def _interpolation_noise(
    frequencies: np.ndarray, ratios: np.ndarray, signal: float = 0.0, slope: float = 2.0
) -> np.ndarray:
    """(ratios, frequencies) density of a scan interpolated by each ratio R (frame rate / scan
    rate), relative to the scan's noise: Σ_m sinc⁴((f + m) R) · S(u_m), f in cycles per frame,
    u_m = (f + m) R folded into the scan's band [0, 1/2] (cycles per scan frame) and
    S(u) = 1 + signal · (u / 0.25)^-slope the scan's own spectrum: white noise (signal 0)
    plus a calcium signal falling as u^-slope, whose images the interpolation folds up too."""
    folded = (np.asarray(frequencies)[None, None, :] + _FOLDS[:, None, None]) * np.atleast_1d(ratios)[
        None, :, None
    ]
    weight = np.sinc(folded) ** 4
    if signal:
        scan = np.maximum(np.abs((folded + 0.5) % 1.0 - 0.5), 1e-3)
        weight = weight * (1.0 + signal * (scan / 0.25) ** -slope)
    return np.sum(weight, axis=0)


@lru_cache(maxsize=4)
def _log_shapes(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(interpolation shapes; their (ratio, signal, slope), one row each; native shapes): ln
    power over the top octave of an n-frame segment's rfft bins, each centred (its mean
    removed). Interpolation: every ratio of _RATIOS with white scan noise, and every other one
    with each scan signal of _SCAN_SIGNALS and slope of _NATIVE_SLOPES. Computed once per n."""
    frequencies = np.fft.rfftfreq(n)
    frequencies = frequencies[(frequencies >= 0.25) & (frequencies < 0.5)]
    shapes = [np.log(_interpolation_noise(frequencies, _RATIOS) + 1e-300)]
    params = [np.c_[_RATIOS, np.zeros((_RATIOS.size, 2))]]
    ratios = _COARSE_RATIOS
    noise = _interpolation_noise(frequencies, ratios)
    for slope in _NATIVE_SLOPES:  # Σ w·(1 + q·r) = Σ w + q·Σ w·r: the sums once per slope
        signal_part = _interpolation_noise(frequencies, ratios, 1.0, slope) - noise
        for signal in _SCAN_SIGNALS:
            shapes.append(np.log(noise + signal * signal_part + 1e-300))
            params.append(np.c_[ratios, np.full(ratios.size, signal), np.full(ratios.size, slope)])
    interpolation = np.vstack(shapes)
    relative = (frequencies / 0.25)[None, :] ** -np.asarray(_NATIVE_SLOPES)[:, None]
    native = np.log1p(_NATIVE_RATIOS[None, :, None] * relative[:, None, :]).reshape(-1, frequencies.size)
    native = np.vstack([np.zeros(frequencies.size), native])
    return (
        interpolation - interpolation.mean(axis=1, keepdims=True),
        np.vstack(params),
        native - native.mean(axis=1, keepdims=True),
    )


def linear_interpolation_rate(traces: np.ndarray, frame_rate_hz: float, nperseg: int = 256) -> np.ndarray:
    """Rate (Hz) of the scan each row was linearly interpolated from; NaN where it was not.

    Users align traces to a common clock with `np.interp` and the like: the result carries
    the scan's noise through the interpolation's sinc² roll-off, so a noise estimate from
    the top of its spectrum finds far too little (2-10x the spikes). Rule: Welch PSD (Hann,
    `nperseg`-frame segments, half overlap, at least 16 of them: shorter traces are not
    judged) over the top octave; the interpolation's noise density D_R (above) and every
    native shape fitted (least squares in log power, one free level each); taken where the
    best D_R fits 3x better than the best native shape. R is then refined on a finer spectrum
    (`_refined_ratio`), taken as a whole number up to 6 when within 3 % of it, and kept only
    if the top octave lies as far below the scan's own band as D_R puts it
    (`_as_deep_as_interpolation`). Vectorised over rows but for the refinement.
    """
    traces = np.atleast_2d(np.asarray(traces, dtype=np.float64))
    evidence = top_octave_evidence(traces, nperseg)
    if evidence is None:
        return np.full(traces.shape[0], np.nan)
    return _single_rates(traces, evidence, frame_rate_hz)


def _single_rates(traces: np.ndarray, evidence: TopOctaveEvidence, frame_rate_hz: float) -> np.ndarray:
    """`linear_interpolation_rate` from the rows' `top_octave_evidence`."""
    out = np.full(traces.shape[0], np.nan)
    taken = evidence.valid & (evidence.segments >= _MIN_SEGMENTS)
    taken &= evidence.native_fit >= _BETTER_THAN_NATIVE * evidence.best_fit
    for row in np.flatnonzero(taken):
        ratio = _whole_ratio(_refined_ratio(traces[row], *evidence.params[evidence.best[row]]))
        if _as_deep_as_interpolation(evidence.density[row], evidence.frequencies, ratio):
            out[row] = frame_rate_hz / ratio
    return out


def _whole_ratio(ratio: float) -> float:
    """A refined ratio within 3 % of a whole number up to 6 taken as it (15 -> 30 Hz, 30 -> 60 Hz,
    7.5 -> 30 Hz: what users choose)."""
    if round(ratio) <= _MAX_WHOLE_RATIO and abs(ratio - round(ratio)) <= _WHOLE_RATIO_TOLERANCE * ratio:
        return float(round(ratio))
    return float(ratio)


class TopOctaveEvidence(NamedTuple):
    """What each row's top octave says about linear interpolation (`top_octave_evidence`).

    density: (rows, n // 2 + 1) Welch PSD; frequencies: its bins (cycles per frame); segments:
    (rows,) Welch segments of each row; valid: (rows,) finite, non-zero spectrum; by_ratio:
    (rows, ratios) each row's mean squared residual of log power about the best interpolation
    shape at each coarse ratio (`_COARSE_RATIOS`: with white scan noise or any scan signal),
    by_ratio_shape that shape (index into params);
    best / best_fit: each row's best shape (index into params: ratio, signal, slope) and its
    residual; native_fit: (rows,) the residual about the best native shape."""

    density: np.ndarray
    frequencies: np.ndarray
    segments: np.ndarray
    valid: np.ndarray
    by_ratio: np.ndarray
    by_ratio_shape: np.ndarray
    best: np.ndarray
    best_fit: np.ndarray
    native_fit: np.ndarray
    params: np.ndarray


def _welch_density(traces: np.ndarray, n: int) -> np.ndarray:
    """(rows, n // 2 + 1) Welch PSD of each row: Hann, n-frame segments (each's mean removed),
    half overlap, |rfft|² averaged over segments (the octave rule's and the top octave's)."""
    from numpy.lib.stride_tricks import sliding_window_view
    from scipy.signal import get_window

    window = get_window("hann", n)
    density = np.empty((traces.shape[0], n // 2 + 1))
    for row, y in enumerate(traces):  # row by row: a block's segments at once do not fit the cache
        segments = sliding_window_view(y, n)[:: n // 2]
        segments = segments - segments.mean(axis=1, keepdims=True)
        density[row] = (np.abs(np.fft.rfft(segments * window, axis=1)) ** 2).mean(axis=0)
    return density


def top_octave_evidence(
    traces: np.ndarray, nperseg: int = 256, density: np.ndarray | None = None
) -> TopOctaveEvidence | None:
    """Each row's top-octave fits (`TopOctaveEvidence`): Welch PSD (Hann, min(nperseg, frames)
    frames per segment, half overlap; `_welch_density`, or density when already computed); None
    when segments would be shorter than 32 frames.
    traces: (rows, frames). Rows are judged alone (`linear_interpolation_rate`) or pooled
    over a session (`session_interpolation_ratio`)."""
    traces = np.atleast_2d(np.asarray(traces, dtype=np.float64))
    n = min(nperseg, traces.shape[1])
    if n < 32:
        return None
    density = _welch_density(traces, n) if density is None else density
    frequencies = np.fft.rfftfreq(n)
    top = (frequencies >= 0.25) & (frequencies < 0.5)
    log_power = np.log(density[:, top] + 1e-300)
    valid = np.all(np.isfinite(log_power), axis=1) & (density.max(axis=1) > 0)
    log_power[~valid] = 0.0
    centred = log_power - log_power.mean(axis=1, keepdims=True)
    spread = np.mean(centred**2, axis=1)

    def fits(shapes):  # (rows, shapes) mean squared residual of log power about each shape
        return (
            spread[:, None]
            + np.mean(shapes**2, axis=1)[None, :]
            - 2.0 * (centred @ shapes.T) / shapes.shape[1]
        )

    interpolation, params, native = _log_shapes(n)
    by_shape = fits(interpolation)
    best = np.argmin(by_shape, axis=1)
    best_fit = by_shape[np.arange(by_shape.shape[0]), best]
    design = np.c_[np.ones(top.sum()), np.log(frequencies[top])]
    power_law = np.mean(
        (centred - (design @ np.linalg.lstsq(design, centred.T, rcond=None)[0]).T) ** 2, axis=1
    )
    native_fit = np.minimum(fits(native).min(axis=1), power_law)
    rows, coarse = by_shape.shape[0], _COARSE_RATIOS.size
    white = by_shape[:, : _RATIOS.size].reshape(rows, coarse, -1)
    with_signal = by_shape[:, _RATIOS.size :].reshape(rows, -1, coarse)
    white_best, signal_best = white.argmin(axis=2), with_signal.argmin(axis=1)
    white_fit = np.take_along_axis(white, white_best[:, :, None], axis=2)[:, :, 0]
    signal_fit = np.take_along_axis(with_signal, signal_best[:, None, :], axis=1)[:, 0, :]
    columns = np.arange(coarse)[None, :]
    shape = np.where(
        white_fit <= signal_fit,
        columns * (_RATIOS.size // coarse) + white_best,
        _RATIOS.size + signal_best * coarse + columns,
    )
    return TopOctaveEvidence(
        density,
        frequencies,
        (traces.shape[1] - n) // (n // 2) + 1 + np.zeros(rows, dtype=np.int64),
        valid,
        np.minimum(white_fit, signal_fit),
        shape,
        best,
        best_fit,
        native_fit,
        params,
    )


def _refined_ratio(
    y: np.ndarray, ratio: float, signal: float = 0.0, slope: float = 2.0, n_max: int = 1024
) -> float:
    """The interpolation ratio R refined within 0.8-1.25x of `ratio` on a finer Welch PSD
    (segments of up to n_max frames, at least 8 of them; 0.1 % steps), with the scan's
    spectrum (signal, slope) of the coarse fit: the 256-frame segments' Hann window smooths
    the interpolation's null and biases R by up to ~10 %."""
    from numpy.lib.stride_tricks import sliding_window_view
    from scipy.signal import get_window

    n = 256
    while 2 * n <= n_max and (y.size - 2 * n) // n + 1 >= 8:
        n *= 2
    segments = sliding_window_view(y, n)[:: n // 2]
    segments = segments - segments.mean(axis=1, keepdims=True)
    density = (np.abs(np.fft.rfft(segments * get_window("hann", n), axis=1)) ** 2).mean(axis=0)
    top, ratios, model = _refinement_models(n, float(ratio), float(signal), float(slope))
    residual = np.log(density[top] + 1e-300)[None, :] - model
    return float(ratios[np.argmin(np.var(residual, axis=1))])


@lru_cache(maxsize=16)
def _refinement_models(
    n: int, ratio: float, signal: float, slope: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(top-octave mask of an n-frame segment's rfft bins, ratios 0.8-1.25x `ratio`, ln density
    of each over the top octave with the scan's spectrum (signal, slope)): the same for every
    row of a session that shares the coarse fit, computed once (0.1 s each)."""
    frequencies = np.fft.rfftfreq(n)
    top = (frequencies >= 0.25) & (frequencies < 0.5)
    ratios = ratio * np.geomspace(0.8, 1.25, 447)
    return top, ratios, np.log(_interpolation_noise(frequencies[top], ratios, signal, slope) + 1e-300)


def _as_deep_as_interpolation(density: np.ndarray, frequencies: np.ndarray, ratio: float) -> bool:
    """Whether the top octave lies as far below the scan's own band (f0/4 to f0/2, f0 = 1/ratio
    cycles per frame) as the interpolation's roll-off puts it, within 10x (mean log power).
    A signal in that band only deepens the step; a natively sampled trace whose top octave
    merely ripples (DS40, DS41 at 30 Hz: a shape like R = 12's sidelobes, at the noise's own
    level) is not interpolated."""
    return bool(_depth_margin(density, frequencies, ratio) <= np.log(10.0))


def _depth_margin(density: np.ndarray, frequencies: np.ndarray, ratio: float) -> np.ndarray | float:
    """How far (ln) the top octave of `density` lies above where the interpolation by `ratio` puts
    it below the scan's own band (`_as_deep_as_interpolation`); inf where the band has < 2 bins.
    density: (bins,) one row, a float returned, or (rows, bins), an array."""
    top = (frequencies >= 0.25) & (frequencies < 0.5)
    band = (frequencies >= 0.25 / ratio) & (frequencies <= 0.5 / ratio)
    if band.sum() < 2:
        return np.full(np.shape(density)[:-1], np.inf) if np.ndim(density) > 1 else float("inf")
    model = _interpolation_noise(frequencies, ratio)[0]
    model = np.maximum(
        model, 1e-6 * model.max()
    )  # the nulls (a whole-number ratio puts them on the octave's edges)
    log_power, log_model = np.log(density + 1e-300), np.log(model)
    step = np.mean(log_power[..., top], axis=-1) - np.mean(log_power[..., band], axis=-1)
    margin = step - (np.mean(log_model[top]) - np.mean(log_model[band]))
    return margin if np.ndim(density) > 1 else float(margin)

"""Band limits of traces: the sampling rate a trace's content supports (`effective_frame_rate`).

A trace resampled to a faster rate than it was recorded at (or low-pass filtered) carries
no noise above its band limit; calcium.deconvolve deconvolves such a trace at its effective
rate, where OASIS's noise estimate (the top half of the spectrum) sees its noise.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np


def effective_frame_rate(
    traces: np.ndarray, frame_rate_hz: float, nperseg: int = 256, drop: float = 0.1
) -> np.ndarray:
    """Sampling rate that each row's content supports (Hz): frame_rate_hz unless band-limited.

    A trace resampled to a faster rate (spikefinder's 100 Hz from slower scans), or
    low-pass filtered by acquisition software, carries no noise above its band limit
    fc: its power spectral density drops by orders of magnitude there. Natively sampled
    noise is white up to the Nyquist frequency, and a calcium signal's spectrum falls
    at most ~16-fold per octave (1/f² of a decaying exponential, 1/f⁴ with the rise), so
    a drop steeper than `drop` (1/10) from one octave band to the next marks a band
    limit. Rule: Welch PSD (Hann, `nperseg`, as `noise_sd`); median density m_k of
    the octave bands [fs/2^(k+2), fs/2^(k+1)], k = 0 (the top octave) downwards; k* =
    the first k with m_k >= drop·m_(k+1) (0 for natively sampled traces); fc is located
    around band k* on the whole trace's periodogram (resolution 1/frames; `_band_edge`):
    at the cliff where the power falls >= 10x within a few bins (resampling; to a bin),
    else where it falls below half the passband's level (a filter's gradual roll-off).
    The effective rate is 2·fc (the Nyquist rate of the content), or frame_rate_hz when
    that is above 0.8 of it. Below a cliff, the content (the trace resampled to 2·fc) is
    judged again as a trace natively sampled at 2·fc, so that a resampled recording gets
    the rate its original scan gets (a slow scan whose signal falls > 10x per octave is
    flagged at both). A trace linearly interpolated from a slower scan has no cliff but the
    interpolation's roll-off (`linear_interpolation_rate`): its effective rate is the scan's.
    traces: (neurons, frames). Returns (neurons,) float64 in Hz.
    """
    return band_limits(traces, frame_rate_hz, nperseg, drop)[0]


def band_limits(
    traces: np.ndarray,
    frame_rate_hz: float,
    nperseg: int = 256,
    drop: float = 0.1,
    session_ratio: float | None = None,
    return_pooled: bool = False,
):
    """(effective rate of each row in Hz, whether the row is linearly interpolated from it):
    `effective_frame_rate`, and where no cliff was found, `linear_interpolation_rate`; a row that
    is not conclusive alone takes the interpolation its session shares (`session_followers`).
    session_ratio: that interpolation's ratio (frame rate / scan rate) pooled over all the
    session's rows (`session_ratio_of_rows` over each block, `pooled_ratio`; NaN: none); None:
    pooled over the rows given (a block of a session would then decide alone: pass the
    session's). return_pooled: also (rows,) whether a row's interpolation is the session's
    (taken by `session_followers`, not shown by the row alone)."""
    traces = np.atleast_2d(np.asarray(traces, dtype=np.float64))
    n = min(nperseg, traces.shape[1])
    density = _welch_density(traces, n) if n >= 32 else None  # the octave rule's and the top octave's
    rates, cliffs = _cliff_or_filter_rates(traces, frame_rate_hz, nperseg, drop, density)
    evidence = top_octave_evidence(traces, nperseg, density)
    if evidence is None:
        none = np.zeros(rates.shape, dtype=bool)
        return (rates, none, none) if return_pooled else (rates, none)
    scanned = _single_rates(traces, evidence, frame_rate_hz)
    interpolated = ~cliffs & np.isfinite(scanned)
    rates[interpolated] = scanned[interpolated]
    if session_ratio is None:
        session_ratio = session_interpolation_ratio(_rows_of(evidence, ~cliffs))
    follow = session_followers(evidence, session_ratio, nperseg) & ~cliffs & ~interpolated
    rates[follow] = frame_rate_hz / session_ratio
    interpolated |= follow
    return (rates, interpolated, follow) if return_pooled else (rates, interpolated)


def session_ratio_of_rows(
    traces: np.ndarray, frame_rate_hz: float, nperseg: int = 256
) -> TopOctaveEvidence | None:
    """The top-octave evidence of a block of a session's rows that can speak for the session's
    interpolation (`session_interpolation_ratio`): all but those whose band limit is a cliff
    (Fourier resampling, which `band_limits` decides by the cliff). Concatenate the blocks'
    (`concat_evidence`) and pool them (`pooled_ratio`). None: segments too short."""
    traces = np.atleast_2d(np.asarray(traces, dtype=np.float64))
    n = min(nperseg, traces.shape[1])
    if n < 32:
        return None
    density = _welch_density(traces, n)
    evidence = top_octave_evidence(traces, nperseg, density)
    cliffs = _cliff_or_filter_rates(traces, frame_rate_hz, nperseg, 0.1, density)[1]
    return _rows_of(evidence, ~cliffs)


def pooled_ratio(parts: list[TopOctaveEvidence | None]) -> float:
    """The session's interpolation ratio from its blocks' `session_ratio_of_rows` (NaN: none);
    rows shorter than a Welch segment (one segment: no evidence) left out."""
    parts = [part for part in parts if part is not None and part.valid.size]
    if not parts:
        return float("nan")
    longest = max(part.frequencies.size for part in parts)  # rows shorter than a segment: 1 of them
    return session_interpolation_ratio(concat_evidence([p for p in parts if p.frequencies.size == longest]))


def _rows_of(evidence: TopOctaveEvidence, rows: np.ndarray) -> TopOctaveEvidence:
    """The evidence of some rows (a boolean mask or indices)."""
    return evidence._replace(
        **{
            name: getattr(evidence, name)[rows]
            for name in (
                "density",
                "segments",
                "valid",
                "by_ratio",
                "by_ratio_shape",
                "best",
                "best_fit",
                "native_fit",
            )
        }
    )


def _cliff_or_filter_rates(
    traces: np.ndarray, frame_rate_hz: float, nperseg: int, drop: float, densities: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(rates, whether each was found at a cliff): the octave-band rule of `effective_frame_rate`.
    densities: the rows' `_welch_density` when already computed."""
    from scipy.signal import get_window

    traces = np.atleast_2d(np.asarray(traces, dtype=np.float64))
    fs = float(frame_rate_hz)
    n = min(nperseg, traces.shape[1])
    out = np.full(traces.shape[0], fs)
    cliffs = np.zeros(traces.shape[0], dtype=bool)
    if n < 32:
        return out, cliffs
    window = get_window("hann", n)
    frequencies = np.fft.rfftfreq(n)  # cycles per frame, 0 .. 0.5
    n_bands = int(np.floor(np.log2(n / 8)))  # the lowest band keeps >= 2 frequency bins
    uppers = 0.5 / 2.0 ** np.arange(n_bands)
    if densities is None:
        densities = _welch_density(traces, n)
    for row, y in enumerate(traces):
        density = densities[row]
        level = np.array([np.median(density[(frequencies > hi / 2) & (frequencies <= hi)]) for hi in uppers])
        if not np.all(np.isfinite(level)) or level.max() <= 0:
            continue
        k = _first_band_below_limit(level, drop)
        if k == 0:
            continue
        cut, cliff = _band_edge(y, uppers[k], level[k] / np.sum(window * window))
        if level[0] >= drop * level[1] and not cliff:
            continue  # an empty band deeper than the top octave is taken only at a cliff (resampling)
        rate = 2.0 * cut * fs
        if rate < 0.8 * fs:
            out[row], cliffs[row] = rate, cliff
            if cliff:  # below a cliff, the content is judged as a trace natively sampled at its rate
                from scipy.signal import resample

                n_low = max(2, int(round(y.size * rate / fs)))
                low_rate = n_low * fs / y.size
                inner = _cliff_or_filter_rates(resample(y, n_low)[None, :], low_rate, nperseg, drop)[0][0]
                if inner < low_rate:
                    out[row] = inner * rate / low_rate
    return out, cliffs


def _first_band_below_limit(level: np.ndarray, drop: float) -> int:
    """Index of the first octave band (0 = the top one) below a band limit; 0 if none.

    level: median PSD of the octave bands, top first. A limit within the top octave shows as
    a step of 1/drop from it to the next. A trace upsampled more than 2x (or averaged down
    from an upsampled one: spikefinder's 100 Hz taken to 30 Hz) leaves an empty floor of
    several octaves, about flat from one to the next, so the step is looked for below each
    of them too, but there it must be 1/drop³ (1000x) above every band over it: a natively
    sampled trace's top octaves hold white noise and a signal that falls at most ~16x per
    octave (16² = 256 over two), and short recordings of slow cells at 7.5 Hz show 20-60x
    steps of that kind (ground truth DS24, DS25), while a resampled trace's floor lies 10^5
    below. From there, bands that still stand 1/drop above the next are walked down (a
    filter's roll-off over octaves).
    """
    if level.size > 1 and level[0] < drop * level[1]:
        k = 1
    else:
        k = next((i for i in range(2, level.size) if level[:i].max() < drop**3 * level[i]), 0)
    if k == 0:
        return 0
    while k + 1 < level.size and level[k] < drop * level[k + 1]:
        k += 1
    return k


# A band limit from resampling is a cliff: the power drops by orders of magnitude within a
# few bins (ln step ~45 on the ground truth resampled to 100 Hz). A step of at least a
# factor 1/drop (10) between the bins just below and just above marks one, if it is also
# 6 SDs of the step that the periodogram's scatter alone makes (ln of a bin: SD π/√6; of
# the difference of two means of `width` bins: π/√6 · sqrt(2 / width)), so that short
# traces (8-bin means) make none, and if the whole band above stays 10x below (a cut; not
# a feature of the spectrum, such as linear interpolation's images); a gradual roll-off (a
# filter) does not reach it and is located at its half-power point instead.
_CLIFF_LN_STEP = np.log(10.0)
_CLIFF_SDS = 6.0


def _band_edge(y: np.ndarray, above: float, level: float) -> tuple[float, bool]:
    """(band limit of y in cycles per frame, whether it is a cliff), searched between above / 2
    and 2 · above (the octave bands around the drop that `effective_frame_rate` found).

    A cliff (`_CLIFF_LN_STEP`) is located where the log periodogram falls most steeply: the
    step at f is the mean of ln(power) over the `width` bins below f minus that over the
    `width` bins from f up (width ~1/200 of the spectrum, at least 8 bins so that the
    periodogram's own scatter, SD 1.3 in ln per bin, does not make steps): largest at the
    band limit, whatever the passband's shape below it. Half the passband level would not
    do there: a trace that a slower scan integrated over its frames (a box, sinc²: 0.4 of
    the power left at its Nyquist frequency), whose signal falls 10-20x per octave, crosses
    it 12-17 % below its band limit (the ground truth resampled to 100 Hz from 7.5-30 Hz).
    Without a cliff (a filter's gradual roll-off), the half-level crossing
    (`_half_level_edge`, level the passband density in |FFT|² / frames). Power is the
    periodogram of the whole trace (resolution 1/frames).
    """
    z = y - y.mean()
    power = np.abs(np.fft.rfft(z)) ** 2
    frequencies = np.fft.rfftfreq(z.size)
    width = max(8, power.size // 200)
    log_power = np.log(power + max(1e-300, 1e-24 * float(power.max(initial=0.0))))
    cumulative = np.concatenate([[0.0], np.cumsum(log_power)])
    i = np.arange(width, power.size - width + 1)  # step between bins [i - width, i) and [i, i + width)
    inside = (frequencies[i] > above / 2) & (frequencies[i] <= min(2 * above, 0.5)) if i.size else i > 0
    if inside.any():
        i = i[inside]
        step = ((cumulative[i] - cumulative[i - width]) - (cumulative[i + width] - cumulative[i])) / width
        best = i[np.argmax(step)]  # the first bin beyond the limit
        empty_above = np.mean(log_power[best - width : best]) - np.median(log_power[best:])
        if step.max() >= max(_CLIFF_LN_STEP, _CLIFF_SDS * np.pi / np.sqrt(6.0) * np.sqrt(2.0 / width)) and (
            empty_above >= _CLIFF_LN_STEP  # and the band above stays empty, as a cut leaves it
        ):
            return float(0.5 * (frequencies[best - 1] + frequencies[best])), True
    return _half_level_edge(y, above, level), False


def _half_level_edge(y: np.ndarray, above: float, level: float) -> float:
    """First frequency (cycles per frame) above `above` where the periodogram of y, averaged
    over ~1/200 of the band, falls below half the passband level (level: the passband's
    density in the periodogram's units, |FFT|² / frames): the band limit of a gradual
    (filter's) roll-off. 0.5 if it never does."""
    y = y - y.mean()
    power = np.abs(np.fft.rfft(y)) ** 2 / y.size
    frequencies = np.fft.rfftfreq(y.size)
    width = max(1, power.size // 200)
    smooth = np.convolve(power, np.ones(width) / width, mode="same")
    below = np.flatnonzero((frequencies > above) & (smooth < 0.5 * level))
    if below.size == 0:
        return 0.5
    # the passband just below the edge (where the signal has least power) sets the level
    just_below = (frequencies > above) & (np.arange(frequencies.size) < below[0] - width)
    if just_below.sum() >= width:
        level = float(np.mean(power[just_below]))
        below = np.flatnonzero((frequencies > above) & (smooth < 0.5 * level))
        if below.size == 0:
            return 0.5
    i = int(below[0])  # the crossing lies between bins i - 1 and i: interpolate within the bin
    before, after = smooth[i - 1], smooth[i]
    fraction = (before - 0.5 * level) / (before - after) if before > after else 1.0
    return float(frequencies[i - 1] + np.clip(fraction, 0.0, 1.0) * (frequencies[i] - frequencies[i - 1]))


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
# Pooled over a session (`session_interpolation_ratio`): at least 8 rows of at least 4 Welch
# segments (640 frames), and a shared ratio fitting 2x better than the native shapes (the median
# over rows). Natively sampled ground truth, each set's recordings of one rate as a session (at
# their rates, averaged to 30 and 7.5 Hz; and any 8 of them): 1.28 at most; 7.5 Hz scans
# interpolated to 30 Hz: 4.4 at least (3.3 in DS40, a mixed session of 2.5 and 7.5 Hz scans).
_MIN_POOLED_ROWS = 8
_MIN_POOLED_SEGMENTS = 4
_POOLED_BETTER_THAN_NATIVE = 2.0


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


def concat_evidence(parts: list[TopOctaveEvidence]) -> TopOctaveEvidence:
    """One `TopOctaveEvidence` of the rows of several (same segment length: rows of one session
    read in blocks, or recordings of different lengths measured one by one)."""
    first = parts[0]
    if any(part.frequencies.size != first.frequencies.size for part in parts):
        raise ValueError("top-octave evidence of different segment lengths cannot be pooled")
    return TopOctaveEvidence(
        *(np.concatenate([getattr(part, name) for part in parts]) for name in ("density",)),
        first.frequencies,
        *(
            np.concatenate([getattr(part, name) for part in parts])
            for name in ("segments", "valid", "by_ratio", "by_ratio_shape", "best", "best_fit", "native_fit")
        ),
        first.params,
    )


def session_interpolation_ratio(evidence: TopOctaveEvidence) -> float:
    """Ratio R (frame rate / scan rate) of the linear interpolation a session's rows share; NaN if
    the pooled evidence does not show one.

    Interpolation (resampling to a common clock) is a property of the acquisition, shared by every
    neuron of a session, so the evidence is pooled over them: one ratio R for all, each row its
    own level and scan signal. Each row's evidence at R is how much better the interpolation fits
    its top octave than its best native shape (the ratio of mean squared residuals of log power,
    as `linear_interpolation_rate` reads it); pooled, the median over rows (weighted by their
    Welch segments, whose count sets the residuals' variance), so that a few odd rows (DS21's two
    recordings whose second differences alternate) do not speak for a session, and a mixed one
    is not forced. Over at least `_MIN_POOLED_ROWS` rows of at least `_MIN_POOLED_SEGMENTS`
    segments, ratios where that median is `_POOLED_BETTER_THAN_NATIVE` or more are shown; of
    them, the one with the least summed (weighted) residual, the joint fit, is taken. R is
    then refined on the spectra of the rows that favour it (`_pooled_refined_ratio`), taken as a
    whole number up to 6 when within 3 % of it, and kept only if the rows' top octave lies (their
    weighted median) as far below the scan's band as the interpolation puts it (`_depth_margin`)."""
    used = np.flatnonzero(evidence.valid & (evidence.segments >= _MIN_POOLED_SEGMENTS))
    if used.size < _MIN_POOLED_ROWS:
        return float("nan")
    weight = evidence.segments[used].astype(float)
    log_better = np.log(
        np.maximum(evidence.native_fit[used], 1e-12)[:, None] / np.maximum(evidence.by_ratio[used], 1e-12)
    )
    shown = _weighted_median(log_better, weight) >= np.log(_POOLED_BETTER_THAN_NATIVE)
    if not shown.any():
        return float("nan")
    # among the ratios the rows show, the likeliest: a clean scan's top octave can look alike at
    # two ratios (12 Hz to 30 Hz: 2.5 and 3.85), where the median is coarse and the sum is not
    column = int(np.argmin(np.where(shown, weight @ evidence.by_ratio[used], np.inf)))
    favour = log_better[:, column] > 0.0
    ratio = _whole_ratio(
        _pooled_refined_ratio(
            evidence,
            used[favour],
            evidence.by_ratio_shape[used[favour], column],
            weight[favour],
            float(_COARSE_RATIOS[column]),
        )
    )
    margins = _depth_margin(evidence.density[used], evidence.frequencies, ratio)
    return ratio if _weighted_median(margins[:, None], weight)[0] <= np.log(10.0) else float("nan")


def _weighted_median(values: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """(columns,) weighted median of each column of values (rows, columns); weight: (rows,)."""
    order = np.argsort(values, axis=0)
    cumulative = np.cumsum(weight[order], axis=0)
    first = np.argmax(cumulative >= 0.5 * cumulative[-1], axis=0)
    return np.take_along_axis(values, order, axis=0)[first, np.arange(values.shape[1])]


def session_followers(evidence: TopOctaveEvidence, ratio: float, nperseg: int = 256) -> np.ndarray:
    """(rows,) which rows take a session's interpolation ratio (`session_interpolation_ratio`):
    valid rows of at least one full `nperseg`-frame segment whose own top octave fits the
    interpolation by that ratio better than every native shape (the session shows it; the row's
    own evidence leans to it). Measured on ground truth cut into pieces of 300, 640 and 1500
    frames and whole: of natively sampled recordings averaged to 30 Hz, 2-4 % follow R = 2.5 or
    4 (11-12 % of 300-frame pieces); the first rule tried, a row following unless its native fit
    is 3x better, took 21-100 % of them (the native neurons of a mixed session forced), and one
    asking 2x better than native took none but missed 12 Hz scans (R = 2.5; 2-70 % followed).
    Of 7.5 Hz scans interpolated to 30 Hz, 99.4-100 % follow; of 12 Hz scans, 93-99 %."""
    if not np.isfinite(ratio) or evidence.frequencies.size < nperseg // 2 + 1:
        return np.zeros(evidence.valid.shape, dtype=bool)
    column = int(np.argmin(np.abs(np.log(_COARSE_RATIOS / ratio))))
    own = evidence.by_ratio[:, column]
    return evidence.valid & (evidence.segments >= 1) & (own < evidence.native_fit)


def _pooled_refined_ratio(
    evidence: TopOctaveEvidence, rows: np.ndarray, shapes: np.ndarray, weight: np.ndarray, ratio: float
) -> float:
    """The shared ratio refined within 0.95-1.05x of the coarse one (2 % apart; 0.1 % steps) on
    the rows' Welch spectra, each with its own scan spectrum (signal, slope) at the coarse ratio:
    the least weighted sum of the rows' residual variance of log power about the model. The
    models are built as `_log_shapes` builds them (noise + signal · each slope's part)."""
    top = (evidence.frequencies >= 0.25) & (evidence.frequencies < 0.5)
    ratios = ratio * np.geomspace(0.95, 1.05, 101)
    noise = _interpolation_noise(evidence.frequencies[top], ratios)
    log_power = np.log(evidence.density[rows][:, top] + 1e-300)
    total = np.zeros(ratios.size)
    parts = {}
    for shape in np.unique(shapes):
        _, signal, slope = evidence.params[shape]
        if signal and slope not in parts:
            parts[slope] = _interpolation_noise(evidence.frequencies[top], ratios, 1.0, slope) - noise
        model = np.log(noise + signal * parts[slope] + 1e-300) if signal else np.log(noise + 1e-300)
        members = shapes == shape
        residual = log_power[members][:, None, :] - model[None]
        total += weight[members] @ np.var(residual, axis=2)
    return float(ratios[np.argmin(total)])


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

"""Band limits of traces: the sampling rate a trace's content supports (`effective_frame_rate`).

A trace resampled to a faster rate than it was recorded at (or low-pass filtered) carries
no noise above its band limit; calcium.deconvolve deconvolves such a trace at its effective
rate, where OASIS's noise estimate (the top half of the spectrum) sees its noise. A trace
linearly interpolated from a slower scan is recognised by `calcium.signal.interpolation` (each
row alone) and `calcium.signal.interpolation_session` (a session's rows pooled).
"""

from __future__ import annotations

import numpy as np

from calcium.signal.interpolation import (  # linear_interpolation_rate: re-exported, where it was
    TopOctaveEvidence,
    _single_rates,
    _welch_density,
    linear_interpolation_rate,  # noqa: F401
    top_octave_evidence,
)
from calcium.signal.interpolation_session import (
    SessionInterpolation,
    _rows_of,
    session_followers,
    session_interpolation_ratio,
)


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
    session_ratio: float | SessionInterpolation | None = None,
    return_pooled: bool = False,
):
    """(effective rate of each row in Hz, whether the row is linearly interpolated from it):
    `effective_frame_rate`, and where no cliff was found, `linear_interpolation_rate`; a row that
    is not conclusive alone takes the interpolation its session shares (`session_followers`).
    session_ratio: that interpolation's ratio (frame rate / scan rate) pooled over all the
    session's rows (`session_ratio_of_rows` over each block, `interpolation_session.pooled_ratio`;
    NaN: none); None: pooled over the rows given (a block of a session would then decide alone: pass the
    session's); a `SessionInterpolation` the session's traces prove: every row but the band-limited
    (a cliff) takes it (rows or trials under 32 frames, with no spectrum, keep the frame rate).
    return_pooled: also (rows,) whether a row's interpolation is the session's (taken by
    `session_followers` or proven, not by the row alone)."""
    proven = isinstance(session_ratio, SessionInterpolation) and session_ratio.proven
    if isinstance(session_ratio, SessionInterpolation):
        session_ratio = session_ratio.ratio
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
    if proven:  # exact: a row's own spectral estimate (1-4 % off) gives way to it
        follow = evidence.valid & ~cliffs
    else:
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
    (`interpolation_session.concat_evidence`) and pool them (`interpolation_session.pooled_ratio`).
    None: segments too short."""
    traces = np.atleast_2d(np.asarray(traces, dtype=np.float64))
    n = min(nperseg, traces.shape[1])
    if n < 32:
        return None
    density = _welch_density(traces, n)
    evidence = top_octave_evidence(traces, nperseg, density)
    cliffs = _cliff_or_filter_rates(traces, frame_rate_hz, nperseg, 0.1, density)[1]
    return _rows_of(evidence, ~cliffs)


def resampled_rows(traces: np.ndarray, frame_rate_hz: float, nperseg: int = 256) -> np.ndarray:
    """(rows,) whether each row was resampled from a slower rate (Fourier, spikefinder's 100 Hz):
    its band limit a cliff (`effective_frame_rate`). Such a trace is smooth, and fits any
    piecewise-linear basis as it fits `calcium.signal.knots`' tests: they leave it out."""
    return _cliff_or_filter_rates(traces, frame_rate_hz, nperseg, 0.1)[1]


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


def rate_reasons(
    pooled: np.ndarray, interpolated: np.ndarray, band_limited: np.ndarray, proven: bool
) -> np.ndarray:
    """(rows,) why each row is deconvolved at the rate it is (`band_limits`' rows: pooled, taking the
    session's interpolation; interpolated, by its own spectrum; band-limited; proven: the session's
    interpolation proven by its traces), for the deconvolution table."""
    pooled_reason = (
        "linearly interpolated from a scan at this rate, proven by the session's traces (exactly "
        "piecewise linear between the scan's frames); deconvolved at it, the roll-off undone"
        if proven
        else "linearly interpolated from a scan at this rate, shown by the session's neurons together "
        "(the interpolation's roll-off in their spectra; this one alone is too short or not "
        "conclusive); deconvolved at it, the roll-off undone"
    )
    return np.select(
        [pooled, interpolated, band_limited],
        [
            pooled_reason,
            "linearly interpolated from a scan at this rate (the interpolation's roll-off in its "
            "spectrum); deconvolved at it, the roll-off undone",
            "band-limited: no noise above this rate's Nyquist frequency; deconvolved at it",
        ],
        "natively sampled",
    )

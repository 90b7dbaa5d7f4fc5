"""A row whose content is band-limited or linearly interpolated from a slower scan
(`calcium.signal.bandlimit.band_limits`), at its scan's rate: the trace as the scan recorded it
(the interpolation's roll-off undone), and its spike amplitudes read back on the session's
frames over each scan frame's exposure. Used by the deconvolution, its precision bootstrap and
the expected accuracy (which measure such a neuron where its spikes are inferred).
"""

from __future__ import annotations

import numpy as np


def scan_rate_trace(
    y: np.ndarray, frame_rate_hz: float, rate_hz: float, interpolated: bool = False
) -> tuple[np.ndarray, float]:
    """A band-limited trace sampled at its own rate, as a scan at that rate would have recorded it.

    y: (frames,) at frame_rate_hz (Hz) whose content stops at rate_hz's Nyquist frequency
    (`calcium.signal.bandlimit.band_limits`); interpolated: it was linearly interpolated from a
    scan at rate_hz (the interpolation's roll-off is then undone, `undo_linear_interpolation`).
    The spectrum is resampled (scipy.signal.resample), which keeps the noise per sample.
    Returns (the trace at the new rate, that rate in Hz: a whole number of frames over the
    trace's span, so within half a frame of rate_hz)."""
    from scipy.signal import resample

    n_frames = y.size
    n_low = max(2, int(round(n_frames * rate_hz / frame_rate_hz)))
    low = resample(y, n_low)
    if interpolated:
        low = undo_linear_interpolation(low, frame_rate_hz / rate_hz)
    return low, n_low * frame_rate_hz / n_frames


def undo_linear_interpolation(y: np.ndarray, ratio: float) -> np.ndarray:
    """A trace linearly interpolated from a scan, brought back to the scan's rate (y: at that
    rate, band-limited to it; ratio: the trace's frame rate / the scan's): its spectrum divided
    by the interpolation's gain, which gives back the scan's spectrum and white noise. The gain
    at u cycles per scan frame is sinc²(u) plus the images folded onto u from u + m·ratio: for
    a whole-number ratio (15 -> 30 Hz) they carry the same scan frequency and add in amplitude
    (Σ sinc², 0.5 at the Nyquist frequency for ratio 2), otherwise other ones, whose noise
    adds in power (sqrt Σ sinc⁴, ~0.41)."""
    frequencies = np.fft.rfftfreq(y.size)[None, :] + np.arange(-8, 9)[:, None] * ratio
    if abs(ratio - round(ratio)) < 1e-9:
        gain = np.sum(np.sinc(frequencies) ** 2, axis=0)
    else:
        gain = np.sqrt(np.sum(np.sinc(frequencies) ** 4, axis=0))
    return np.fft.irfft(np.fft.rfft(y) / gain, y.size)


def spread_over_exposure(spikes: np.ndarray, frame_rate_hz: float, rates_hz: np.ndarray) -> np.ndarray:
    """Each row's s spread evenly over the exposure of the frame it was deconvolved in.

    A row deconvolved at a lower rate (`deconvolve_traces`' effective_rate_hz: band-limited or
    interpolated) has one amplitude per frame of its scan, put in the session frame nearest that
    frame's centre; the scan does not say where within its exposure (1 / rate long) the spike
    was. A natively sampled frame's value stands for its whole exposure (how the activity is
    read, e.g. `calcium.evaluation.scoring.frames_to_bins`); this reads the mapped-back value
    the same way: a box of 1 / rate seconds around the frame it sits in (session frames that
    the box covers partly get their share), so that the activity of a trace interpolated from a
    scan is the scan's activity, not a spike train claiming the session's finer timing.
    spikes: (neurons, frames) at frame_rate_hz (Hz); rates_hz: (neurons,) the rate each row was
    deconvolved at (rows at frame_rate_hz are returned as they are). Keeps each row's sum (but
    for the box's reach at the ends). Returns float32 (neurons, frames).
    """
    from scipy.ndimage import convolve1d

    spikes = np.asarray(spikes, dtype=np.float32)
    rates = np.broadcast_to(np.asarray(rates_hz, dtype=float), spikes.shape[:1])
    out = spikes.copy()
    widths = float(frame_rate_hz) / rates  # session frames per frame of the row's own grid
    for width in np.unique(widths[widths > 1.0 + 1e-9]):
        rows = np.flatnonzero(widths == width)
        reach = int(np.ceil(width / 2 - 0.5))
        offsets = np.arange(-reach, reach + 1)
        weights = np.minimum(offsets + 0.5, width / 2) - np.maximum(offsets - 0.5, -width / 2)
        weights = np.clip(weights, 0.0, None) / width
        out[rows] = convolve1d(spikes[rows], weights.astype(np.float32), axis=1, mode="constant")
    return out


def file_interpolation_ratio(
    path, n_neurons: int, n_frames: int, frame_rate_hz: float, trials: np.ndarray | None = None
) -> float:
    """The linear interpolation (frame rate / scan rate) a session's rows share, pooled over all of
    them (`calcium.signal.bandlimit.session_interpolation_ratio`): NaN where the pooled evidence
    shows none. path: the session's (neurons, frames) .npy at frame_rate_hz (Hz), read in blocks of
    ~10^7 samples (bounded memory); trials: a session cut into trials, (trials, 2) first and
    one-past-last frame: their frames back to back (the gaps' zeros left out), None: all frames.
    The workflow computes it once per session, as the detrend rule writes its blocks
    (`interpolation_evidence`, `save_interpolation`, with the knot test's exact ratio,
    `session_interpolation`), so that every block and every rule (deconvolve, events,
    expected_accuracy) takes the same decision, whatever the number of processes; this reads a
    file for the spectral evidence alone."""
    from calcium.io import load_npy
    from calcium.signal.interpolation_session import pooled_ratio

    rows = max(1, 10_000_000 // max(n_frames, 1))
    return pooled_ratio(
        [
            interpolation_evidence(
                load_npy(path, slice(first, min(first + rows, n_neurons))), frame_rate_hz, trials
            )
            for first in range(0, n_neurons, rows)
        ]
    )


def interpolation_evidence(traces: np.ndarray, frame_rate_hz: float, trials: np.ndarray | None = None):
    """What a block of a session's rows says of the session's linear interpolation
    (`calcium.signal.bandlimit.session_ratio_of_rows`): its rows without NaN, on the trials' frames
    back to back (trials as in `file_interpolation_ratio`); None when no row is finite. The
    session's ratio is that of all its blocks pooled (`calcium.signal.interpolation_session.pooled_ratio`),
    whatever the blocks."""
    from calcium.signal.bandlimit import session_ratio_of_rows

    block = np.asarray(traces, dtype=np.float64)
    if trials is not None:
        block = block[:, trial_frame_index(trials)]
    finite = np.all(np.isfinite(block), axis=1)
    return session_ratio_of_rows(block[finite], frame_rate_hz) if finite.any() else None


def session_interpolation(ratio: float, knots: tuple[float, float] | None):
    """A session's `calcium.signal.interpolation_session.SessionInterpolation` from the spectral
    ratio pooled over its rows (`calcium.signal.interpolation_session.pooled_ratio`; NaN: none)
    and the knot test's (ratio, contrast) (`calcium.signal.knots.knot_ratio`; None: not run):
    a ratio the knot test proves (exact) wins, unless the spectra show another (more than 5 %
    away: smooth resampling, a cubic spline from 7.5 Hz, fits a fine piecewise-linear basis
    exactly at a ratio commensurate with the scan's, 8/7 for its 4, where the spectra read 4);
    else the spectral one, not proven."""
    from calcium.signal.interpolation_session import SessionInterpolation

    spectral = float(ratio)
    if knots is not None and np.isfinite(knots[0]):
        if not np.isfinite(spectral) or abs(np.log(knots[0] / spectral)) <= np.log(1.05):
            return SessionInterpolation(float(knots[0]), True)
    return SessionInterpolation(spectral, False)


def save_interpolation(path, ratio: float, frame_rate_hz: float, knots: tuple[float, float] | None = None):
    """Write a session's linear interpolation (`session_interpolation`) as JSON: the ratio (frame
    rate / scan rate) and the scan's rate in Hz (both null where none was found), how it was found
    ("knots": the traces are exactly piecewise linear between the scan's frames; "spectrum": the
    interpolation's roll-off in the pooled spectra) and the knot test's contrast (its best ratio's
    residual against its neighbours'; null: not run). Returns the `SessionInterpolation` written."""
    from calcium.io import save_json

    session = session_interpolation(ratio, knots)
    found = bool(np.isfinite(session.ratio))
    save_json(
        path,
        {
            "interpolation_ratio": session.ratio if found else None,
            "scan_rate_hz": float(frame_rate_hz) / session.ratio if found else None,
            "found_by": ("knots" if session.proven else "spectrum") if found else None,
            "knot_contrast": None if knots is None or not np.isfinite(knots[1]) else float(knots[1]),
        },
    )
    return session


def read_interpolation(path):
    """The interpolation `save_interpolation` wrote, as a
    `calcium.signal.interpolation_session.SessionInterpolation` (ratio NaN: none; proven: found
    by the knot test)."""
    from calcium.io import load_json
    from calcium.signal.interpolation_session import SessionInterpolation

    saved = load_json(path)
    ratio = saved["interpolation_ratio"]
    return SessionInterpolation(
        float("nan") if ratio is None else float(ratio), saved.get("found_by") == "knots"
    )


def trial_frame_index(trials: np.ndarray) -> np.ndarray:
    """The frames of a session's trials ((trials, 2) first and one-past-last frame), in order:
    the trials back to back, gaps left out."""
    bounds = np.asarray(trials, dtype=np.int64).reshape(-1, 2)
    return np.concatenate([np.arange(a, b, dtype=np.int64) for a, b in bounds] or [np.zeros(0, np.int64)])

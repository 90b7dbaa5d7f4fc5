"""Calcium events: supra-threshold transients of each neuron's (cleaned) ΔF/F.

A neuron's threshold is baseline + k·σ, with the baseline its median and σ a
robust SD (1.4826 · median absolute deviation), raised if needed to
baseline + min_amplitude_dff (an absolute floor for neurons that are barely
active, whose σ is tiny). Each local maximum above the threshold whose
prominence exceeds `min_prominence_sd`·σ is an event, so a compound transient
holding several peaks yields one event per peak.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.signal import find_peaks, peak_widths

from calcium.signal.baseline import robust_sd

EVENT_COLUMNS = [
    "neuron",
    "onset_frame",
    "onset_s",
    "peak_frame",
    "peak_s",
    "end_frame",
    "end_s",
    "amplitude_dff",
    "prominence_dff",
    "fwhm_s",
    "area_dff_s",
    "exceeds_max_fwhm",
    "below_min_fwhm",
]


def narrow_large_events(
    events: pd.DataFrame, thresholds: pd.DataFrame, min_snr: float = 20.0
) -> tuple[int, float]:
    """(number, fraction flagged below_min_fwhm) of the events at least `min_snr` noise SDs high.

    Large transients narrower than a calcium transient can be mean that the kinetics used
    (deconvolution.tau_*_s or the indicator's) are too slow for this recording.
    """
    noise = thresholds.set_index("neuron").noise_sd_dff.reindex(events.neuron).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        large = events.amplitude_dff.to_numpy() / noise >= min_snr
    n = int(large.sum())
    return n, float(events.below_min_fwhm.to_numpy()[large].mean()) if n else 0.0


def robust_baseline_and_sd(traces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-neuron median and robust SD (1.4826 · MAD) of (neurons, frames) traces."""
    traces = np.asarray(traces, dtype=np.float64)
    baseline = np.median(traces, axis=1)
    return baseline, robust_sd(traces, baseline)


def event_thresholds(
    traces: np.ndarray,
    k_sigma: float = 5.0,
    min_amplitude_dff: float = 0.0,
    frame_rate_hz: float | None = None,
    scan_rates_hz: np.ndarray | None = None,
) -> pd.DataFrame:
    """Per-neuron detection threshold (ΔF/F): max(baseline + k·σ, baseline + min_amplitude_dff).

    scan_rates_hz: (neurons,) the rate (Hz) of the scan a row was linearly interpolated from
    (`calcium.signal.bandlimit.band_limits`), NaN where it was not; frame_rate_hz: the rows'
    rate. An interpolated row's peaks are the scan's samples (interpolation never exceeds
    them) but its values in between average two samples' noise: the SD of its values is
    0.82-0.87x the scan's (ratios 2 to 4 and more), so k·σ taken from them would cut the
    scan's noise at 0.82-0.87·k SD (pure noise interpolated from 7.5 to 30 Hz: 13 events in
    40 neurons over 15 min, none at 7.5 Hz). Its σ is measured on the scan's samples
    (`calcium.signal.scan_rate.scan_rate_trace`) instead.
    Returns columns baseline_dff, noise_sd_dff, threshold_dff (one row per neuron).
    """
    baseline, sd = robust_baseline_and_sd(traces)
    if scan_rates_hz is not None:
        from calcium.signal.scan_rate import scan_rate_trace

        for row in np.flatnonzero(np.isfinite(scan_rates_hz)):
            row_trace = np.asarray(traces[row], dtype=float)
            low, _ = scan_rate_trace(row_trace, frame_rate_hz, scan_rates_hz[row], interpolated=True)
            sd[row] = robust_sd(low[None, :], baseline[row : row + 1])[0]
    threshold = baseline + np.maximum(k_sigma * sd, min_amplitude_dff)
    return pd.DataFrame({"baseline_dff": baseline, "noise_sd_dff": sd, "threshold_dff": threshold})


def detect_events(
    traces: np.ndarray,
    frame_rate_hz: float,
    k_sigma: float = 5.0,
    min_amplitude_dff: float = 0.0,
    min_prominence_sd: float = 3.0,
    min_prominence_fraction: float = 0.25,
    max_fwhm_s: float = 5.0,
    onset_sd: float = 1.0,
    neuron_ids: np.ndarray | None = None,
    start_time_s: float = 0.0,
    min_fwhm_s: float = 0.0,
    scan_rates_hz: np.ndarray | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Detect calcium events in each row of `traces` (ΔF/F).

    frame_rate_hz: sampling rate (Hz).
    k_sigma, min_amplitude_dff: threshold (see `event_thresholds`; scan_rates_hz: rows
        linearly interpolated from a scan at that rate, NaN for the others, get the scan's σ).
    min_prominence_sd: a peak must rise at least this many σ above the deeper of
        the troughs that separate it from higher peaks (scipy's prominence).
    min_prominence_fraction: ... and at least this fraction of its own height
        above the baseline (keeps noise wiggles on plateaus and decays from
        becoming events; a second spike's peak stands out by far more).
    max_fwhm_s: events whose full width at half maximum (half the prominence)
        exceeds this are flagged (exceeds_max_fwhm), not dropped: a single
        GCaMP6s transient lasts < 5 s, so wider ones are merged bursts,
        plateaus or artefacts worth a look.
    min_fwhm_s: events narrower than this (s) are flagged (below_min_fwhm), not
        dropped: shorter than one spike's transient of the indicator (see
        `calcium.signal.kernels.plausible_min_fwhm_s`); 0 = no flag.
    onset_sd: the trace is "at rest" at or below baseline + onset_sd·σ; an
        event starts at the first frame of its rise out of rest (or at the
        trough after the previous peak of a compound transient).
    start_time_s: time of frame 0 (s); `_s` columns are start_time_s + frame / rate.
    Returns (events, thresholds). events: one row per event with EVENT_COLUMNS
    (amplitude = peak − baseline; area = ∫(trace − baseline) from onset to the
    end of the event, in ΔF/F·s). thresholds: one row per neuron (neuron,
    baseline_dff, noise_sd_dff, threshold_dff, n_events).
    """
    traces = np.asarray(traces, dtype=np.float64)
    n_neurons, n_frames = traces.shape
    ids = np.arange(n_neurons) if neuron_ids is None else np.asarray(neuron_ids)
    thresholds = event_thresholds(traces, k_sigma, min_amplitude_dff, frame_rate_hz, scan_rates_hz)
    rows = []
    counts = np.zeros(n_neurons, dtype=np.int64)
    for row in range(n_neurons):
        x = traces[row]
        baseline = thresholds.baseline_dff.iat[row]
        sd = thresholds.noise_sd_dff.iat[row]
        prominence = max(min_prominence_sd * sd, np.finfo(float).eps)
        peaks, props = find_peaks(x, height=thresholds.threshold_dff.iat[row], prominence=prominence)
        # Noise wiggles on a long plateau or a decay reach a few SD of prominence;
        # a real peak of a compound transient stands out by a fraction of its height.
        keep = props["prominences"] >= min_prominence_fraction * (x[peaks] - baseline)
        peaks = peaks[keep]
        props = {key: value[keep] for key, value in props.items()}
        if peaks.size == 0:
            continue
        # FWHM at half the height above the baseline, or half the prominence for
        # a peak riding on an earlier one (scipy's prominence alone reaches down
        # to the deepest noise sample anywhere around, not to the baseline).
        height_above = np.minimum(props["prominences"], x[peaks] - baseline)
        half = peak_widths(
            x,
            peaks,
            rel_height=0.5,
            prominence_data=(height_above, props["left_bases"], props["right_bases"]),
        )
        onset, end = _event_bounds(x, peaks, baseline + onset_sd * sd)
        excess = np.concatenate([[0.0], np.cumsum(np.maximum(x - baseline, 0.0))])
        area = (excess[end + 1] - excess[onset]) / frame_rate_hz
        fwhm_s = half[0] / frame_rate_hz
        counts[row] = peaks.size
        rows.append(
            pd.DataFrame(
                {
                    "neuron": ids[row],
                    "onset_frame": onset,
                    "onset_s": start_time_s + onset / frame_rate_hz,
                    "peak_frame": peaks,
                    "peak_s": start_time_s + peaks / frame_rate_hz,
                    "end_frame": end,
                    "end_s": start_time_s + end / frame_rate_hz,
                    "amplitude_dff": x[peaks] - baseline,
                    "prominence_dff": props["prominences"],
                    "fwhm_s": fwhm_s,
                    "area_dff_s": area,
                    "exceeds_max_fwhm": fwhm_s > max_fwhm_s,
                    "below_min_fwhm": fwhm_s < min_fwhm_s,
                }
            )
        )
    events = pd.concat(rows, ignore_index=True) if rows else empty_events()
    thresholds.insert(0, "neuron", ids)
    thresholds["n_events"] = counts
    return events, thresholds


def _event_bounds(x: np.ndarray, peaks: np.ndarray, rest_level: float) -> tuple[np.ndarray, np.ndarray]:
    """Onset and end frame of each peak's event.

    Onset: the first frame of the rise, i.e. just after the last frame at or
    below `rest_level` before the peak, but no earlier than the trough that
    separates it from the previous peak (compound transients). End: the last
    frame before the trace is back at `rest_level`, but no later than the trough
    before the next peak.
    """
    frames = np.arange(x.size)
    at_rest = x <= rest_level
    last_rest = np.maximum.accumulate(np.where(at_rest, frames, -1))
    next_rest = np.minimum.accumulate(np.where(at_rest, frames, x.size)[::-1])[::-1]
    onset = last_rest[peaks] + 1
    end = next_rest[peaks] - 1
    troughs = np.array([a + int(np.argmin(x[a : b + 1])) for a, b in zip(peaks[:-1], peaks[1:], strict=True)])
    if troughs.size:
        onset[1:] = np.maximum(onset[1:], troughs)
        end[:-1] = np.minimum(end[:-1], troughs)
    return np.clip(onset, 0, peaks), np.clip(end, peaks, x.size - 1)


def empty_events() -> pd.DataFrame:
    """An events table with its columns and no rows."""
    return pd.DataFrame({c: pd.Series(dtype=float) for c in EVENT_COLUMNS}).astype(
        {
            "neuron": np.int64,
            "onset_frame": np.int64,
            "peak_frame": np.int64,
            "end_frame": np.int64,
            "exceeds_max_fwhm": bool,
            "below_min_fwhm": bool,
        }
    )

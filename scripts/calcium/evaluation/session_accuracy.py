"""The expected accuracy of one workflow session: its own spike inference as a pipeline, the noise
of its neurons, and its tables with the status and the sentence saying what was used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pandas as pd

from calcium.evaluation.accuracy import Pipeline, expected_accuracy
from calcium.evaluation.references import References, load_references, reference_set
from calcium.evaluation.resampling import noise_level_nu


def workflow_pipeline(
    deconvolution: dict,
    spike_times: dict,
    prepare: Callable[[np.ndarray, float], np.ndarray] | None = None,
    denoise: dict | None = None,
) -> Pipeline:
    """The workflow's spike inference as one function, for ground truth made to look like a session.

    deconvolution: resolved settings (calcium.signal.deconvolution_settings.default_settings): ar_order,
        tau_decay_s, tau_rise_s, penalty, s_min, optimize_g, seed, smoothing_s, lag_s (with
        `timing`, smoothing and lag where not given in the config follow the rate a recording
        is scored at, `neuron_timing`: a reference scored at a slower scan's rate gets what the
        session's rows at that rate get; at the session's own rate they are smoothing_s, lag_s).
    spike_times: the config's spike_times section (method, k_noise, ...).
    prepare: what the workflow does to ΔF/F before deconvolving it (e.g. detrending),
        (traces, frame_rate_hz) -> traces; None = nothing.
    denoise: the denoise settings when the trace deconvolved is the prepared one wavelet-denoised
        (`deconvolution.input: denoised`: its rates and noise read from the prepared trace, as the
        deconvolve rule reads them from the detrended one); None = the prepared trace itself.
    Returns pipeline(traces, frame_rate_hz, start_time_s, session_ratio=None) -> (activity,
    spike times per row), as `score_recordings` takes it (session_ratio: the interpolation the
    rows' session shares, `calcium.signal.deconvolve.deconvolve_block`).
    """
    from calcium.signal.deconvolution_settings import neuron_timing
    from calcium.signal.deconvolve import deconvolve_block
    from calcium.signal.denoise import wavelet_denoise
    from calcium.signal.spikes import detect_spikes

    oasis_keys = ("ar_order", "tau_decay_s", "tau_rise_s", "penalty", "s_min", "optimize_g", "seed")

    timing = deconvolution.get("timing")

    def run(
        traces: np.ndarray, frame_rate_hz: float, start_time_s: float, session_ratio: float | None = None
    ):
        x = prepare(traces, frame_rate_hz) if prepare is not None else traces
        noise_traces = None
        if denoise:
            noise_traces, x = x, wavelet_denoise(x, **denoise)
        smoothing, lag = deconvolution["smoothing_s"], deconvolution["lag_s"]
        if timing is not None:  # at the rate scored at, as a session at it (or a slower scan's rows) gets
            smoothing, lag = (
                float(v[0]) for v in neuron_timing(timing, np.array([float(frame_rate_hz)]), smoothing, lag)
            )
        block = deconvolve_block(
            slice(0, x.shape[0]),
            x,
            frame_rate_hz,
            smoothing,
            lag,
            timing,
            session_ratio,
            noise_traces=noise_traces,
            denoise=denoise or None,
            **{k: deconvolution[k] for k in oasis_keys},
        )
        _, spikes, activity = block.arrays
        neurons = block.tables[0]
        table = detect_spikes(
            spikes,
            frame_rate_hz,
            amplitude_noise=neurons["spike_amplitude_noise_dff"].to_numpy(dtype=float),
            lag_s=neurons["lag_s"].to_numpy(dtype=float),
            effective_rate_hz=neurons["effective_rate_hz"].to_numpy(dtype=float),
            start_time_s=start_time_s,
            **spike_times,
        )
        times = [table.time_s[table.neuron == row].to_numpy() for row in range(x.shape[0])]
        return activity, times

    return run


def trace_preparation(trace: str, detrend_settings: dict) -> Callable:
    """What the workflow does to ΔF/F before deconvolving it or denoising it for deconvolution, as
    (traces, frame_rate_hz) -> traces: nothing (trace "dff") or detrending with the config's
    settings ("detrended"; "denoised": `workflow_pipeline`'s denoise then denoises it)."""
    from calcium.signal.detrend import detrend

    def prepare(traces: np.ndarray, rate: float) -> np.ndarray:
        return traces if trace == "dff" else detrend(traces, rate, **detrend_settings)

    return prepare


class SessionNoise(NamedTuple):
    """What a session's neurons look like to the expected accuracy, each at the rate its ΔF/F
    supports: nu (`noise_level_nu`, %·Hz^-1/2), skewness (`transient_skewness`), rate_hz (the
    rate of each neuron's content, `calcium.signal.bandlimit.band_limits`; the frame rate when
    natively sampled) and interpolated (bool: linearly interpolated from a scan at rate_hz)."""

    nu: np.ndarray
    skewness: np.ndarray
    rate_hz: np.ndarray
    interpolated: np.ndarray


def session_noise(
    dff_path,
    n_neurons: int,
    n_frames: int,
    frame_rate_hz: float,
    trials: np.ndarray | None = None,
    ratio: float | None = None,
) -> SessionNoise:
    """ν and skewness of every neuron of a session's ΔF/F .npy (neurons x frames), measured where
    the spike inference works: a neuron whose trace is band-limited or linearly interpolated
    (resampled to the frame rate from a slower scan) is deconvolved at its scan's rate
    (`calcium.signal.scan_rate.scan_rate_trace`), and measured there too; at the frame rate its
    empty or attenuated top band reads as a cleaner trace than the scan gave (a GCaMP6f scan at
    7.5 Hz interpolated to 30 Hz: ν 2.5x too low). Read in blocks of ~0.1 GB of float64:
    bounded memory. NaN frames are ignored by ν and replaced by the row's median for the rest.
    trials: a session cut into trials, (trials, 2) first and one-past-last frame: measured on
    the trials' frames back to back (`trial_frame_index`), the gaps' zeros left out; None: all
    frames. ratio: the session's linear interpolation, pooled over all its neurons (frame rate /
    scan rate, NaN: none; the detrend rule's `calcium.signal.scan_rate.save_interpolation`); None:
    pooled here (`calcium.signal.scan_rate.file_interpolation_ratio`)."""
    from calcium.io import load_npy
    from calcium.signal.scan_rate import file_interpolation_ratio, trial_frame_index

    frames = None if trials is None else trial_frame_index(trials)
    if ratio is None:
        ratio = file_interpolation_ratio(dff_path, n_neurons, n_frames, frame_rate_hz, trials)
    rows = max(1, 10_000_000 // n_frames)
    parts = [
        noise_at_scan_rates(
            _frames_of(load_npy(dff_path, slice(first, first + rows)), frames), frame_rate_hz, ratio
        )
        for first in range(0, n_neurons, rows)
    ]
    return SessionNoise(*(np.concatenate(column) for column in zip(*parts, strict=True)))


def noise_at_scan_rates(
    traces: np.ndarray, frame_rate_hz: float, session_ratio: float | None = None
) -> SessionNoise:
    """`SessionNoise` of (neurons, frames) ΔF/F at frame_rate_hz (Hz), each row measured at the
    rate its content supports (see `session_noise`); NaN frames ignored by ν, replaced by the
    row's median for the rest. session_ratio: the linear interpolation the rows' session shares
    (`calcium.signal.bandlimit.band_limits`; None: pooled over these rows)."""
    from calcium.evaluation.carry import transient_skewness
    from calcium.signal.bandlimit import band_limits
    from calcium.signal.scan_rate import scan_rate_trace

    fs = float(frame_rate_hz)
    block = np.atleast_2d(np.asarray(traces, dtype=float))
    nu = noise_level_nu(block, fs)
    fill = np.nanmedian(block, axis=1, keepdims=True) if np.isnan(block).any() else 0.0
    filled = np.where(np.isnan(block), fill, block)
    skewness = transient_skewness(filled, fs)
    rates, interpolated = band_limits(filled, fs, session_ratio=session_ratio)
    for row in np.flatnonzero(rates < fs):
        low, rates[row] = scan_rate_trace(filled[row], fs, rates[row], bool(interpolated[row]))
        nu[row] = noise_level_nu(low, rates[row])
        skewness[row] = transient_skewness(low[None, :], rates[row])[0]
    return SessionNoise(nu, skewness, rates, interpolated)


def session_scoring_rate(noise: SessionNoise, frame_rate_hz: float) -> float:
    """The rate (Hz) a session's references are scored at: the frame rate, unless most of its
    neurons' traces are band-limited or interpolated from a slower scan; then the median of their
    scans' rates, where the workflow deconvolves them (references faster than a session are
    averaged down to its rate: at the frame rate they would be scored at a resolution the
    session's spikes are never inferred at)."""
    slower = noise.rate_hz < float(frame_rate_hz)
    return float(np.median(noise.rate_hz[slower])) if slower.sum() * 2 > slower.size else float(frame_rate_hz)


def _frames_of(block: np.ndarray, frames: np.ndarray | None) -> np.ndarray:
    return block if frames is None else np.asarray(block)[:, frames]


def session_expected_accuracy(
    noise: SessionNoise,
    frame_rate_hz: float,
    session: str,
    indicator: str,
    folders: list[str],
    settings: dict,
    evaluation: dict,
    pipeline: Pipeline,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, str, str]:
    """A session's expected accuracy from the reference sets in `folders`.

    noise: the session's neurons' ν and skewness at their scans' rates (`session_noise`); the
    references are scored at `session_scoring_rate` and carried to the neurons' skewness.
    settings: the config's expected_accuracy section (recordings_per_set, excerpt_s, seed,
    n_noise_bands); evaluation: its evaluation section (bin_s, tolerance_s); pipeline:
    `workflow_pipeline`.
    Returns (bands with session, indicator, frame_rate_hz, scoring_rate_hz,
    reference_indicators, reference_match, status and note columns; neurons; reference
    scores; status; note), as `expected_accuracy` and `accuracy_note` give them. Without
    reference data the tables say so.
    """
    rate = session_scoring_rate(noise, frame_rate_hz)
    references = load_references(folders, indicator, settings["recordings_per_set"], settings["excerpt_s"])
    bands, neurons, scores = expected_accuracy(
        noise.nu,
        rate,
        references.recordings,
        pipeline,
        seed=settings["seed"],
        n_bands=settings["n_noise_bands"],
        bin_s=evaluation["bin_s"],
        tolerance_s=evaluation["tolerance_s"],
        session_skewness=noise.skewness,
    )
    folder = " and ".join(folders)
    status, note = accuracy_note(references, bands, indicator, folder, rate, settings["excerpt_s"])
    if rate < frame_rate_hz and status == "ok":
        note += (
            f" Most neurons' traces are band-limited or interpolated from a scan at {rate:.3g} Hz"
            f" (not {frame_rate_hz:g} Hz): their spikes are inferred at that rate, and their ν and"
            " skewness measured there."
        )
    bands.insert(0, "session", session)
    bands.insert(1, "indicator", indicator)
    bands.insert(2, "frame_rate_hz", frame_rate_hz)
    bands.insert(3, "scoring_rate_hz", rate)
    bands["reference_indicators"] = ";".join(references.indicators)
    bands["reference_match"] = references.match
    bands["status"] = status
    bands["note"] = note
    return bands, neurons, scores, status, note


def accuracy_note(
    references: References,
    bands: pd.DataFrame,
    indicator: str,
    folder,
    frame_rate_hz: float,
    excerpt_s: float,
) -> tuple[str, str]:
    """(status, note) of a session's expected accuracy: "ok", "no_reference_data" (no
    ground-truth folder) or "no_matching_indicator", with a sentence saying what was used."""
    if not references.folder_found:
        return "no_reference_data", (
            f"no ground-truth folder at {folder} (config key expected_accuracy.ground_truth_dir): "
            "no expected accuracy for this session."
        )
    if not references.recordings:
        return "no_matching_indicator", (
            f"{folder} holds no ground truth of {indicator} or of indicators with similar kinetics: "
            "no expected accuracy for this session."
        )
    n_sets = len({reference_set(rec.name) for rec in references.recordings})
    note = (
        f"{len(references.recordings)} recordings of {n_sets} sets of {', '.join(references.indicators)} "
        f"({'same indicator and family' if references.match == 'indicator' else 'same indicator family'}), "
        f"excerpts of at most {excerpt_s} s, resampled to {frame_rate_hz:g} Hz and to each band's noise."
    )
    if len(bands) and np.isfinite(bands.skewness_median).any():
        note += (
            f" Carried to the session's skewness of ΔF/F by r + {bands.skewness_slope.iloc[0]:.2f}"
            " · Δln(1 + skewness) (the slope across ground-truth sets)."
        )
    slower = int(bands.n_slower_references.max()) if len(bands) else 0
    if slower:
        note += (
            f" {slower} reference recordings slower than {bands.reference_rate_hz.iloc[0]:g} Hz are scored"
            " at their own rate and carried up by the faster references' slope of r against ln rate."
        )
    noisier = int(bands.n_noisier_references.max()) if len(bands) else 0
    if noisier:
        note += (
            f" Up to {noisier} reference recordings are noisier than a band: carried to its noise by the "
            "references' slope of r against ln ν."
        )
    return "ok", note

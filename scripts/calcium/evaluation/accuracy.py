"""Expected spike-inference accuracy of a session, from ground truth made to look like it.

Ground-truth recordings (ΔF/F with simultaneously recorded spike times) of the
session's indicator are resampled to the session's frame rate (`resample_traces`)
and brought to the session's noise level (`match_noise_level`), then run through
the session's own deconvolution and spike-time settings and scored: the spread of
those scores over recordings is what the session can expect.

Noise level (Rupprecht et al. 2021, CASCADE): ν = median_t |ΔF/F_{t+1} − ΔF/F_t| /
sqrt(frame rate), in %·Hz^-1/2 (ΔF/F as a fraction, × 100). For white noise of SD σ
it is 100 · 0.6745 · √2 · σ / √fs, so the same ν means the same noise per second of
recording at any frame rate.

Time base: frame k is centred at start_time_s + k / fs and integrates the signal
over its exposure [centre − ½/fs, centre + ½/fs) (see calcium.evaluation.scoring).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from calcium.evaluation.scoring import precision_recall_f1, spikefinder_correlation, split_by_span

SCORE_COLUMNS = [
    "recording",
    "neuron",
    "indicator",
    "native_rate_hz",
    "nu_reference",
    "nu",
    "n_true_spikes",
    "correlation_40ms",
    "f1",
    "status",
]

# median |N(0, 2)| = 0.6745 * sqrt(2): the ν of unit-SD white noise at 1 Hz, in fractions.
_MEDIAN_ABS_DIFF_PER_SD = 0.6744897501960817 * np.sqrt(2.0)


def noise_level_nu(traces: np.ndarray, frame_rate_hz: float) -> np.ndarray:
    """CASCADE's standardised noise ν of each row of ΔF/F `traces` (fraction), in %·Hz^-1/2.

    ν = 100 · median_t |y_{t+1} − y_t| / sqrt(frame_rate_hz), ignoring NaN.
    traces: (neurons, frames) or (frames,). Returns (neurons,) or a float.
    """
    traces = np.asarray(traces, dtype=float)
    return 100.0 * np.nanmedian(np.abs(np.diff(traces, axis=-1)), axis=-1) / np.sqrt(frame_rate_hz)


def white_noise_sd_for_nu(nu: float, frame_rate_hz: float) -> float:
    """SD per frame (ΔF/F) of white Gaussian noise whose ν is `nu` (%·Hz^-1/2) at frame_rate_hz."""
    return nu / 100.0 * np.sqrt(frame_rate_hz) / _MEDIAN_ABS_DIFF_PER_SD


def resample_traces(
    traces: np.ndarray, frame_rate_hz: float, new_rate_hz: float, start_time_s: float = 0.0
) -> tuple[np.ndarray, float]:
    """Traces as a recording at new_rate_hz of the same neurons would have given them.

    Model: input frame k is the mean of the signal over its exposure, centred at
    start_time_s + k / frame_rate_hz.
    - Slower (new_rate_hz < frame_rate_hz): each new frame is the mean of the input
      over the new frame's own exposure (1 / new_rate_hz long), input frames that the
      exposure only partly covers weighted by the overlap: what a slower scan would
      integrate, and a box anti-aliasing filter before decimation. New frames are
      centred at new_start + j / new_rate_hz, new_start = the input's first exposure
      start + half a new frame, and lie wholly inside the input's imaged span.
    - Faster: linear interpolation between input frame centres, from start_time_s to
      the last centre (no information is added; the noise becomes correlated).
    - Equal rates: a copy.
    Spike times need no change: they stay on the same clock.
    traces: (neurons, frames) or (frames,) in any units. Returns (resampled float64
    array of the same rank, start time in seconds of its frame 0).
    """
    traces = np.asarray(traces, dtype=float)
    if frame_rate_hz <= 0 or new_rate_hz <= 0:
        raise ValueError("frame rates must be > 0")
    n_frames = traces.shape[-1]
    if np.isclose(new_rate_hz, frame_rate_hz, rtol=1e-9, atol=0):
        return traces.copy(), float(start_time_s)
    if new_rate_hz > frame_rate_hz:
        span_s = (n_frames - 1) / frame_rate_hz
        n_new = int(np.floor(span_s * new_rate_hz + 1e-9)) + 1
        position = np.arange(n_new) * (frame_rate_hz / new_rate_hz)  # in input frames
        left = np.minimum(np.floor(position).astype(np.int64), n_frames - 1)
        right = np.minimum(left + 1, n_frames - 1)
        weight = position - left
        return traces[..., left] * (1 - weight) + traces[..., right] * weight, float(start_time_s)
    ratio = frame_rate_hz / new_rate_hz  # input frames per new frame (> 1)
    n_new = int(np.floor(n_frames / ratio + 1e-9))
    if n_new < 1:
        raise ValueError(f"a {n_frames}-frame trace is shorter than one frame at {new_rate_hz} Hz")
    edges = np.clip(np.arange(n_new + 1) * ratio, 0, n_frames)  # exposure edges, in input frames
    frame = np.minimum(np.floor(edges).astype(np.int64), n_frames - 1)
    cumulative = np.concatenate([np.zeros(traces.shape[:-1] + (1,)), np.cumsum(traces, axis=-1)], axis=-1)
    at_edges = cumulative[..., frame] + (edges - frame) * traces[..., frame]
    first_exposure_s = start_time_s - 0.5 / frame_rate_hz
    return np.diff(at_edges, axis=-1) / ratio, float(first_exposure_s + 0.5 / new_rate_hz)


def match_noise_level(
    traces: np.ndarray,
    frame_rate_hz: float,
    target_nu: float | np.ndarray,
    rng: np.random.Generator,
    shot_noise: bool = True,
    n_iterations: int = 40,
) -> tuple[np.ndarray, np.ndarray]:
    """Add Gaussian noise to each row of ΔF/F `traces` until its ν equals target_nu.

    Model: y + a · w_t · n_t with n_t ~ N(0, 1) white, w_t = sqrt(|1 + y_t|) divided by
    its median (shot noise grows with brightness; CASCADE's choice) or 1 if
    shot_noise is False, and the per-row scale a found by bisection on one fixed draw
    so that ν(y + a·w·n) = target (to within 0.1 %). Noise can only be added: rows
    already noisier than their target are returned unchanged.
    traces: (neurons, frames) ΔF/F (fraction). target_nu: %·Hz^-1/2, scalar or per row.
    rng: numpy Generator (the only source of randomness).
    Returns (noisy traces float64, matched (neurons,) bool: False where the row's own
    ν was already above the target).
    """
    traces = np.atleast_2d(np.asarray(traces, dtype=float))
    target = np.broadcast_to(np.asarray(target_nu, dtype=float), traces.shape[:1]).copy()
    own = noise_level_nu(traces, frame_rate_hz)
    matched = own <= target
    draw = rng.standard_normal(traces.shape)
    if shot_noise:
        weight = np.sqrt(np.abs(1.0 + traces))
        weight /= np.maximum(np.median(weight, axis=1, keepdims=True), 1e-12)
        draw *= weight
    low = np.zeros(traces.shape[0])
    high = np.full(traces.shape[0], 4.0 * white_noise_sd_for_nu(1.0, frame_rate_hz)) * np.maximum(
        target, 1e-6
    )
    # Make sure `high` overshoots (rare with the 4x start).
    for _ in range(20):
        too_low = noise_level_nu(traces + high[:, None] * draw, frame_rate_hz) < target
        if not np.any(too_low & matched):
            break
        high = np.where(too_low, 2 * high, high)
    for _ in range(n_iterations):
        middle = 0.5 * (low + high)
        above = noise_level_nu(traces + middle[:, None] * draw, frame_rate_hz) > target
        high = np.where(above, middle, high)
        low = np.where(above, low, middle)
    scale = np.where(matched, 0.5 * (low + high), 0.0)
    return traces + scale[:, None] * draw, matched


@dataclass(frozen=True)
class Recording:
    """One ground-truth recording: ΔF/F of one neuron with its true spike times (same clock)."""

    name: str
    indicator: str
    frame_rate_hz: float
    start_time_s: float
    dff: np.ndarray
    spike_times_s: np.ndarray
    neuron: str = ""


def excerpt(recording: Recording, max_s: float) -> Recording:
    """The middle `max_s` seconds of a recording (all of it if shorter), spikes on the same clock."""
    n = recording.dff.size
    keep = min(n, max(1, int(round(max_s * recording.frame_rate_hz))))
    first = (n - keep) // 2
    start = recording.start_time_s + first / recording.frame_rate_hz
    truth, _ = split_by_span(recording.spike_times_s, keep, recording.frame_rate_hz, start)
    return Recording(
        recording.name,
        recording.indicator,
        recording.frame_rate_hz,
        start,
        recording.dff[first : first + keep],
        truth,
        recording.neuron,
    )


def choose_recordings(recordings: Sequence[Recording], max_recordings: int) -> list[Recording]:
    """At most max_recordings, spread over the neurons: one per neuron in turn, in name order."""
    by_neuron: dict[str, list[Recording]] = {}
    for rec in sorted(recordings, key=lambda r: r.name):
        by_neuron.setdefault(rec.neuron or rec.name, []).append(rec)
    chosen: list[Recording] = []
    round_ = 0
    while len(chosen) < max_recordings and any(len(v) > round_ for v in by_neuron.values()):
        for neuron in sorted(by_neuron):
            if round_ < len(by_neuron[neuron]) and len(chosen) < max_recordings:
                chosen.append(by_neuron[neuron][round_])
        round_ += 1
    return chosen


Pipeline = Callable[[np.ndarray, float, float], tuple[np.ndarray, list[np.ndarray]]]


def score_recordings(
    recordings: Sequence[Recording],
    frame_rate_hz: float,
    target_nu: float,
    pipeline: Pipeline,
    rng: np.random.Generator,
    bin_s: float = 0.04,
    tolerance_s: float = 0.1,
) -> pd.DataFrame:
    """Score `pipeline` on recordings resampled to frame_rate_hz and brought to noise target_nu.

    pipeline(traces (n, frames) ΔF/F, frame_rate_hz, start_time_s) -> (activity (n,
    frames), list of n arrays of spike times in s on the same clock): the session's
    own settings. Recordings whose own noise after resampling is above target_nu are
    kept out (noise can only be added) and reported with status "too_noisy";
    target_nu = inf scores the recordings as they are.
    Returns one row per recording: recording, neuron, indicator, nu_reference
    (after resampling), nu, n_true_spikes, correlation_40ms, f1, status.
    """
    rows = []
    for rec in recordings:
        y, start = resample_traces(rec.dff, rec.frame_rate_hz, frame_rate_hz, rec.start_time_s)
        if np.isfinite(target_nu):
            noisy, matched = match_noise_level(y[None, :], frame_rate_hz, target_nu, rng)
        else:  # no noise added
            noisy, matched = y[None, :], np.array([True])
        truth, _ = split_by_span(rec.spike_times_s, y.size, frame_rate_hz, start)
        row = {
            "recording": rec.name,
            "neuron": rec.neuron,
            "indicator": rec.indicator,
            "native_rate_hz": float(rec.frame_rate_hz),
            "nu_reference": float(noise_level_nu(y, frame_rate_hz)),
            "nu": float(noise_level_nu(noisy[0], frame_rate_hz)),
            "n_true_spikes": int(truth.size),
            "correlation_40ms": np.nan,
            "f1": np.nan,
            "status": "ok",
        }
        if not matched[0]:
            row["status"] = "too_noisy"
        elif truth.size == 0:
            row["status"] = "no_spikes"
        else:
            activity, times = pipeline(noisy, frame_rate_hz, start)
            row["correlation_40ms"] = spikefinder_correlation(activity[0], frame_rate_hz, truth, bin_s, start)
            row["f1"] = precision_recall_f1(times[0], truth, tolerance_s)["f1"]
        rows.append(row)
    return pd.DataFrame(rows, columns=SCORE_COLUMNS)


def noise_bands(nu: np.ndarray, n_bands: int) -> tuple[np.ndarray, np.ndarray]:
    """Split neurons into n_bands bands of equal count by their ν (finite values only).

    Returns (band index per neuron, -1 for non-finite ν; band edges (n_bands + 1,)
    in %·Hz^-1/2 from the quantiles of ν). Fewer bands when there are fewer
    distinct neurons than bands.
    """
    nu = np.asarray(nu, dtype=float)
    finite = np.isfinite(nu)
    band = np.full(nu.size, -1, dtype=np.int64)
    if not finite.any():
        return band, np.zeros(0)
    n_bands = int(max(1, min(n_bands, finite.sum())))
    edges = np.quantile(nu[finite], np.linspace(0, 1, n_bands + 1))
    band[finite] = np.clip(np.searchsorted(edges, nu[finite], side="right") - 1, 0, n_bands - 1)
    return band, edges


# The interval (docs/accuracy.md, "Expected accuracy", calibrated by
# benchmarks/expected_accuracy_calibration.py: each ground-truth set treated as a session,
# its references chosen without it): sets of one indicator from different labs differ more
# than their noise explains, so the interval is the spread between reference sets, with
# this floor on its SD (set a priori, not fitted).
BETWEEN_SET_SD_FLOOR = 0.10
# d r / d ln ν of the references (the median of the slopes measured on the 32 sets treated
# as sessions, benchmarks/expected_accuracy_calibration.py), used to carry a reference
# recording noisier than a session down to the session's noise when the session's own
# references give no slope.
DEFAULT_NU_SLOPE = -0.02
_Z90 = 1.2815515655446004  # the 90th percentile of the standard normal


def reference_set(recording_name: str) -> str:
    """The set (folder) a reference recording comes from: its name up to the first '/'."""
    return recording_name.split("/", 1)[0]


def summarise(scores: pd.DataFrame, low: float = 10.0, high: float = 90.0) -> dict:
    """Expected correlation and F1 with their [low, high] interval, from per-set medians.

    Each reference set (`reference_set`) counts once: its median over its recordings. The
    expected value is the median over sets; the interval is expected ± z·S with z the
    normal quantile of `high` and S = max(SD between the sets' medians,
    BETWEEN_SET_SD_FLOOR): sessions are recorded in other labs than the references, and
    they differ from each other as the reference sets do, not as recordings of one set do.
    """
    from statistics import NormalDist

    ok = scores[scores.status.isin(["ok", "ok_noisier"])] if len(scores) else scores
    out = {
        "n_reference_recordings": int(len(ok)),
        "n_reference_sets": int(ok.recording.map(reference_set).nunique()) if len(ok) else 0,
    }
    z = NormalDist().inv_cdf(high / 100.0) if (low, high) != (10.0, 90.0) else _Z90
    for column, name in (("correlation_40ms", "correlation"), ("f1", "f1")):
        values = ok[["recording", column]].dropna() if len(ok) else pd.DataFrame()
        if len(values):
            per_set = values.groupby(values.recording.map(reference_set))[column].median().to_numpy()
            centre = float(np.median(per_set))
            spread = float(np.std(per_set, ddof=1)) if per_set.size >= 3 else np.nan
            used = max(spread, BETWEEN_SET_SD_FLOOR) if np.isfinite(spread) else BETWEEN_SET_SD_FLOOR
            out[f"expected_{name}"] = centre
            out[f"{name}_p{low:g}"] = float(max(-1.0, centre - z * used))
            out[f"{name}_p{high:g}"] = float(min(1.0, centre + z * used))
            if name == "correlation":
                out["between_set_sd"] = spread
        else:
            out[f"expected_{name}"] = out[f"{name}_p{low:g}"] = out[f"{name}_p{high:g}"] = float("nan")
            if name == "correlation":
                out["between_set_sd"] = float("nan")
    return out


def nu_slope(as_is: pd.DataFrame, matched: pd.DataFrame) -> float:
    """d r / d ln ν of the references: median over recordings scored both as they are and with
    noise added (at least 10 % more ν); DEFAULT_NU_SLOPE when no recording gives one."""
    if not len(as_is) or not len(matched):
        return DEFAULT_NU_SLOPE
    pairs = matched[matched.status == "ok"].merge(
        as_is[as_is.status == "ok"], on="recording", suffixes=("", "_own")
    )
    pairs = pairs[np.log(pairs.nu / pairs.nu_own) > 0.1]
    if not len(pairs):
        return DEFAULT_NU_SLOPE
    slopes = (pairs.correlation_40ms - pairs.correlation_40ms_own) / np.log(pairs.nu / pairs.nu_own)
    return float(min(0.0, np.median(slopes)))


def workflow_pipeline(
    deconvolution: dict,
    spike_times: dict,
    prepare: Callable[[np.ndarray, float], np.ndarray] | None = None,
) -> Pipeline:
    """The workflow's spike inference as one function, for ground truth made to look like a session.

    deconvolution: resolved settings (calcium.signal.deconvolve.default_settings): ar_order,
        tau_decay_s, tau_rise_s, penalty, s_min, optimize_g, seed, smoothing_s, lag_s.
    spike_times: the config's spike_times section (method, k_noise, ...).
    prepare: what the workflow does to ΔF/F before deconvolving it (e.g. detrending),
        (traces, frame_rate_hz) -> traces; None = nothing.
    Returns pipeline(traces, frame_rate_hz, start_time_s) -> (activity, spike times
    per row), as `score_recordings` takes it.
    """
    from calcium.signal.deconvolve import deconvolve_block
    from calcium.signal.spikes import detect_spikes

    oasis_keys = ("ar_order", "tau_decay_s", "tau_rise_s", "penalty", "s_min", "optimize_g", "seed")

    def run(traces: np.ndarray, frame_rate_hz: float, start_time_s: float):
        x = prepare(traces, frame_rate_hz) if prepare is not None else traces
        block = deconvolve_block(
            slice(0, x.shape[0]),
            x,
            frame_rate_hz,
            deconvolution["smoothing_s"],
            deconvolution["lag_s"],
            deconvolution.get("timing"),
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


def select_references(available: Sequence[tuple[str, str]], indicator: str) -> tuple[list[str], str]:
    """Which ground-truth folders stand in for a session's indicator.

    available: (folder, indicator) pairs, e.g. from calcium.evaluation.groundtruth.groundtruth_folders.
    The folders of the session's own indicator and of the other indicators of its family
    (calcium.signal.indicators.indicator_family: slow GCaMP, fast GCaMP, jGCaMP8, synthetic dye,
    red GECI): one indicator measured in one lab says little about another lab's
    recordings of it, so the family's sets give the spread the estimate needs.
    Returns (folders, match) with match "indicator" (sets of the indicator itself among
    them), "family" or "none".
    """
    from calcium.signal.indicators import canonical_indicator, indicator_family

    def canonical(name: str) -> str:
        try:
            return canonical_indicator(name)
        except KeyError:
            return name.strip()

    own = canonical(indicator)
    family = indicator_family(own)
    same = [folder for folder, ind in available if canonical(ind) == own]
    related = [
        folder
        for folder, ind in available
        if family and canonical(ind) != own and indicator_family(canonical(ind)) == family
    ]
    if same:
        return same + related, "indicator"
    if related:
        return related, "family"
    return [], "none"


def expected_accuracy(
    session_nu: np.ndarray,
    frame_rate_hz: float,
    recordings: Sequence[Recording],
    pipeline: Pipeline,
    seed: int = 0,
    n_bands: int = 3,
    bin_s: float = 0.04,
    tolerance_s: float = 0.1,
    percentiles: tuple[float, float] = (10.0, 90.0),
    quality_floor: float = 0.2,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Expected correlation and F1 of a session's spike inference, per noise band of its neurons.

    session_nu: (neurons,) ν of the session's ΔF/F (`noise_level_nu`), %·Hz^-1/2.
    recordings: ground-truth recordings of the session's indicator family, already cut to
        the excerpts to use (see `excerpt`, `load_references`); a recording's set is the
        part of its name before '/'.
    pipeline: the session's own settings (`workflow_pipeline`).
    Neurons are split into n_bands bands of equal count by ν (`noise_bands`). Every
    recording is resampled to frame_rate_hz and scored as it is; for each band it is
    brought to the band's median ν (`match_noise_level`, seeded by seed and band) and
    scored again. A recording already noisier than a band (noise can only be added) is
    carried down to the band's ν by the references' own model of r against ν: its
    as-is score plus slope · ln(ν_band / ν_own), the slope the median d r / d ln ν of the
    recordings scored at both (`nu_slope`). So a session cleaner than every reference is
    not capped at the references' level. Per band, `summarise` gives the expected
    values and an interval that spans the spread between reference sets.
    Returns (bands: one row per band with nu_low, nu_high, nu_median, n_neurons,
    n_reference_recordings, n_reference_sets, expected_correlation and its percentiles,
    between_set_sd, expected_f1 and its percentiles, n_noisier_references, nu_slope;
    neurons: neuron, nu, band, expected_correlation, quality_flag (expected r below
    quality_floor) and quality_reason; scores: one row per (band, recording)).
    """
    nu = np.asarray(session_nu, dtype=float)
    band, edges = noise_bands(nu, n_bands)
    rows, scores = [], []
    rng_own = np.random.default_rng([int(seed), 1_000_003])
    as_is = score_recordings(recordings, frame_rate_hz, np.inf, pipeline, rng_own, bin_s, tolerance_s)
    matched_by_band = []
    for b in range(max(0, edges.size - 1)):
        target = float(np.median(nu[band == b]))
        rng = np.random.default_rng([int(seed), b])
        matched_by_band.append(
            score_recordings(recordings, frame_rate_hz, target, pipeline, rng, bin_s, tolerance_s)
        )
    slope = nu_slope(as_is, pd.concat(matched_by_band, ignore_index=True)) if matched_by_band else np.nan
    for b, table in enumerate(matched_by_band):
        members = nu[band == b]
        target = float(np.median(members))
        noisier = table.status == "too_noisy"
        if noisier.any():  # carried down to the band's noise by the references' slope
            own = as_is.set_index("recording").loc[table.recording[noisier]]
            carried = own.reset_index()
            ok = carried.status == "ok"
            carried.loc[ok, "correlation_40ms"] = np.clip(
                carried.correlation_40ms[ok] + slope * np.log(target / carried.nu[ok]),
                carried.correlation_40ms[ok],
                1.0,
            )
            carried["status"] = np.where(ok, "ok_noisier", carried.status)
            table = pd.concat([table[~noisier], carried], ignore_index=True)
        table.insert(0, "band", b)
        scores.append(table)
        rows.append(
            {
                "band": b,
                "nu_low": float(edges[b]),
                "nu_high": float(edges[b + 1]),
                "nu_median": target,
                "n_neurons": int(members.size),
                **summarise(table, *percentiles),
                "n_noisier_references": int(noisier.sum()),
                "nu_slope": slope,
            }
        )
    bands = pd.DataFrame(rows)
    expected = np.full(nu.size, np.nan)
    if len(bands):
        expected[band >= 0] = bands.expected_correlation.to_numpy()[band[band >= 0]]
    flag = np.isfinite(expected) & (expected < quality_floor)
    neurons = pd.DataFrame(
        {
            "neuron": np.arange(nu.size),
            "nu": nu,
            "band": band,
            "expected_correlation": expected,
            "quality_flag": flag,
            "quality_reason": np.where(
                flag,
                [
                    f"expected spike-inference r {e:.2f} < {quality_floor:g} at noise ν {v:.2f}"
                    for e, v in zip(expected, nu, strict=True)
                ],
                "",
            ),
        }
    )
    return bands, neurons, (pd.concat(scores, ignore_index=True) if scores else pd.DataFrame())


@dataclass
class References:
    """Ground-truth recordings standing in for a session (see `load_references`).

    recordings: excerpts to score; indicators: the indicators they are of; match:
    "indicator", "family" or "none" (`select_references`); folder_found: whether the
    ground-truth folder exists at all.
    """

    recordings: list[Recording]
    indicators: list[str]
    match: str
    folder_found: bool


def load_references(
    folders, indicator: str, per_set: int, excerpt_s: float, exclude: Sequence[str] = ()
) -> References:
    """The ground-truth recordings standing in for a session of `indicator`.

    folders: one folder of ground-truth sets or a list of them
        (`calcium.evaluation.groundtruth.groundtruth_folders`), e.g. the workflow's shipped excerpts
        (resources/groundtruth) and a user's own; a set (folder name) found in several is
        taken from the last, so a fuller copy of a set replaces its excerpt.
    The sets of the session's indicator family (`select_references`); at most per_set
    recordings of each, spread over its neurons (`choose_recordings`), each cut to its
    middle excerpt_s seconds (`excerpt`). Recording names are '<set>/<recording>'.
    exclude: set folder names left out (to score a set with references chosen without it).
    """
    from pathlib import Path

    from calcium.evaluation.groundtruth import (
        groundtruth_folders,
        read_groundtruth_recordings,
        read_groundtruth_table,
    )

    roots = [folders] if isinstance(folders, str | Path) else list(folders)
    by_name: dict[str, tuple[str, str]] = {}
    for root in roots:
        for path, ind in groundtruth_folders(root):
            if path.name not in exclude:
                by_name[path.name] = (str(path), ind)
    available = sorted(by_name.values())
    chosen, match = select_references(available, indicator)
    indicator_of = dict(available)
    found = any(Path(root).is_dir() for root in roots)
    recordings = []
    for path in chosen:
        index = read_groundtruth_table(Path(path) / "recordings.csv")
        neuron = index.source_file if "source_file" in index.columns else index.recording
        stubs = [
            Recording(str(r), "", 1.0, 0.0, np.zeros(0), np.zeros(0), str(n))
            for r, n in zip(index.recording, neuron, strict=True)
        ]
        names = [stub.name for stub in choose_recordings(stubs, per_set)]
        for rec in read_groundtruth_recordings(path, names):
            recording = Recording(
                rec["name"],
                indicator_of[path],
                rec["frame_rate_hz"],
                rec["start_time_s"],
                rec["dff"],
                rec["spike_times_s"],
                rec["neuron"],
            )
            recordings.append(excerpt(recording, excerpt_s))
    return References(recordings, sorted({indicator_of[path] for path in chosen}), match, found)


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
    noisier = int(bands.n_noisier_references.max()) if len(bands) else 0
    if noisier:
        note += (
            f" Up to {noisier} reference recordings are noisier than a band: carried to its noise by the "
            "references' slope of r against ln ν."
        )
    return "ok", note

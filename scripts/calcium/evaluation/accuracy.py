"""Expected spike-inference accuracy of a session, from ground truth made to look like it: scoring
per noise band, the interval between reference sets, and each neuron's expected quality.

Ground-truth recordings (ΔF/F with simultaneously recorded spike times) of the
session's indicator are resampled to the session's frame rate (`resample_traces`)
and brought to the session's noise level (`match_noise_level`), then run through
the session's own deconvolution and spike-time settings and scored: the spread of
those scores over recordings is what the session can expect.

The noise level ν, resampling and noise matching are in `calcium.evaluation.resampling`; the
reference recordings in `calcium.evaluation.references`; the workflow's own pipeline and a
session's tables in `calcium.evaluation.session_accuracy`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from calcium.evaluation.carry import (
    RATE_TOLERANCE,
    SKEW_SLOPE,
    carry_to_rate,
    carry_to_skewness,
    rate_plan,
    rate_slope,
    skewness_shift,
    transient_skewness,
)
from calcium.evaluation.references import Recording, reference_set
from calcium.evaluation.resampling import match_noise_level, noise_level_nu, resample_traces
from calcium.evaluation.scoring import precision_recall_f1, spikefinder_correlation, split_by_span

SCORE_COLUMNS = [
    "recording",
    "neuron",
    "indicator",
    "native_rate_hz",
    "rate_hz",
    "nu_reference",
    "nu",
    "n_true_spikes",
    "correlation_40ms",
    "f1",
    "rate_gain",
    "skewness",
    "skewness_gain",
    "status",
]


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
    """Score `pipeline` on recordings brought to frame_rate_hz (never faster than their own rate)
    and to noise target_nu.

    pipeline(traces (n, frames) ΔF/F, frame_rate_hz, start_time_s) -> (activity (n,
    frames), list of n arrays of spike times in s on the same clock): the session's
    own settings. A recording is averaged down to frame_rate_hz when it is faster, and
    scored at its own rate when it is slower (`scoring_rate`): upsampling adds no
    information, so a slow recording upsampled says nothing about a fast session
    (`expected_accuracy` carries its score to the session's rate). Recordings whose own
    noise after resampling is above target_nu are kept out (noise can only be added) and
    reported with status "too_noisy"; target_nu = inf scores the recordings as they are.
    Returns one row per recording: recording, neuron, indicator, native_rate_hz,
    rate_hz (scored at), nu_reference (after resampling), nu, n_true_spikes,
    correlation_40ms, f1, rate_gain (0 here), skewness (`transient_skewness` of the trace
    scored), skewness_gain (0 here), status.
    """
    rows = []
    for rec in recordings:
        rate = scoring_rate(rec.frame_rate_hz, frame_rate_hz)
        y, start = resample_traces(rec.dff, rec.frame_rate_hz, rate, rec.start_time_s)
        if np.isfinite(target_nu):
            noisy, matched = match_noise_level(y[None, :], rate, target_nu, rng)
        else:  # no noise added
            noisy, matched = y[None, :], np.array([True])
        truth, _ = split_by_span(rec.spike_times_s, y.size, rate, start)
        row = {
            "recording": rec.name,
            "neuron": rec.neuron,
            "indicator": rec.indicator,
            "native_rate_hz": float(rec.frame_rate_hz),
            "rate_hz": float(rate),
            "nu_reference": float(noise_level_nu(y, rate)),
            "nu": float(noise_level_nu(noisy[0], rate)),
            "n_true_spikes": int(truth.size),
            "correlation_40ms": np.nan,
            "f1": np.nan,
            "rate_gain": 0.0,
            "skewness": float(transient_skewness(noisy[0], rate)),
            "skewness_gain": 0.0,
            "status": "ok",
        }
        if not matched[0]:
            row["status"] = "too_noisy"
        elif truth.size == 0:
            row["status"] = "no_spikes"
        else:
            activity, times = pipeline(noisy, rate, start)
            row["correlation_40ms"] = spikefinder_correlation(activity[0], rate, truth, bin_s, start)
            row["f1"] = precision_recall_f1(times[0], truth, tolerance_s)["f1"]
        rows.append(row)
    return pd.DataFrame(rows, columns=SCORE_COLUMNS)


def scoring_rate(native_rate_hz: float, session_rate_hz: float) -> float:
    """The rate (Hz) a reference recorded at native_rate_hz is scored at for a session at
    session_rate_hz: the session's when the reference is at least as fast (averaging down is
    what a slower scan does), its own otherwise (upsampling adds no information)."""
    return float(min(native_rate_hz, session_rate_hz))


def noise_bands(nu: np.ndarray, n_bands: int) -> tuple[np.ndarray, np.ndarray]:
    """Split neurons into n_bands bands of equal count by their ν (finite, positive values only: a
    flat trace has ν 0, no noise to match and no signal).

    Returns (band index per neuron, -1 for other ν; band edges (n_bands + 1,)
    in %·Hz^-1/2 from the quantiles of ν). Fewer bands when there are fewer
    distinct neurons than bands.
    """
    nu = np.asarray(nu, dtype=float)
    finite = np.isfinite(nu) & (nu > 0)
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


def prediction_factor(n_sets: int, high: float = 90.0) -> float:
    """t_{n-1}(high / 100) · sqrt(1 + 1/n): the half-width, in SDs of n sets, of the interval one
    more set falls in with probability 2·high/100 − 1 (normal sets, mean and SD estimated)."""
    from scipy.stats import t

    return float(t.ppf(high / 100.0, n_sets - 1) * np.sqrt(1.0 + 1.0 / n_sets))


def summarise(scores: pd.DataFrame, low: float = 10.0, high: float = 90.0) -> dict:
    """Expected correlation and F1 with their [low, high] interval, from per-set medians.

    Each reference set (`reference_set`) counts once: its median over its recordings. The
    expected value is the median over sets; the interval is the prediction interval of one
    more set drawn like the n reference sets: expected ± t·s·sqrt(1 + 1/n), s the SD
    between the sets' medians and t Student's quantile of `high` with n − 1 degrees of
    freedom (`prediction_factor`), at least ± z·BETWEEN_SET_SD_FLOOR (z the normal
    quantile; the floor alone below 3 sets). Sessions are recorded in other labs than the
    references and differ from them as the reference sets differ from each other, not as
    recordings of one set do; a handful of sets says little about that spread, so few
    sets give a wide interval.
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
            used = (
                max(spread * prediction_factor(per_set.size, high) / z, BETWEEN_SET_SD_FLOOR)
                if np.isfinite(spread)
                else BETWEEN_SET_SD_FLOOR
            )
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


# At least this many recordings scored both as they are and with noise added before their
# median slope is trusted (`nu_slope`): one or two pairs, with ν raised by as little as 10 %,
# are one draw of noise each, and their slope can be anything (−1.4 per ln ν for a Cal-520
# session at 500 Hz, carrying OGB-1 references to r 1.0).
MIN_NU_SLOPE_PAIRS = 3


def nu_slope(as_is: pd.DataFrame, matched: pd.DataFrame) -> float:
    """d r / d ln ν of the references: median over recordings scored both as they are and with
    noise added (at least 10 % more ν); DEFAULT_NU_SLOPE when fewer than MIN_NU_SLOPE_PAIRS
    recordings give one."""
    if not len(as_is) or not len(matched):
        return DEFAULT_NU_SLOPE
    pairs = matched[matched.status == "ok"].merge(
        as_is[as_is.status == "ok"], on="recording", suffixes=("", "_own")
    )
    pairs = pairs[np.log(pairs.nu / pairs.nu_own) > 0.1]
    if len(pairs) < MIN_NU_SLOPE_PAIRS:
        return DEFAULT_NU_SLOPE
    slopes = (pairs.correlation_40ms - pairs.correlation_40ms_own) / np.log(pairs.nu / pairs.nu_own)
    return float(min(0.0, np.median(slopes)))


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
    session_skewness: np.ndarray | None = None,
    skew_slope: float = SKEW_SLOPE,
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
    skew = np.full(nu.size, np.nan) if session_skewness is None else np.asarray(session_skewness, dtype=float)
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
    top_rate, low_rate, fast = rate_plan([rec.frame_rate_hz for rec in recordings], frame_rate_hz)
    per_rate = np.nan
    if np.isfinite(low_rate):  # the fast references averaged down to the slow ones' rate
        rng_rate = np.random.default_rng([int(seed), 2_000_003])
        fast_recordings = [rec for rec, f in zip(recordings, fast, strict=True) if f]
        down = score_recordings(fast_recordings, low_rate, np.inf, pipeline, rng_rate, bin_s, tolerance_s)
        per_rate = rate_slope(as_is, down)
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
        table = carry_to_rate(table, per_rate, top_rate)
        band_skewness = float(np.nanmedian(skew[band == b])) if np.isfinite(skew[band == b]).any() else np.nan
        table = carry_to_skewness(table, skew_slope, band_skewness)
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
                "n_slower_references": int((table.rate_hz < top_rate / RATE_TOLERANCE).sum()),
                "reference_rate_hz": top_rate,
                "rate_slope": per_rate,
                "rate_slope_from_hz": low_rate,
                "skewness_median": band_skewness,
                "skewness_slope": skew_slope,
            }
        )
    bands = pd.DataFrame(rows)
    return (
        bands,
        neuron_quality(nu, band, bands, quality_floor, skew),
        (pd.concat(scores, ignore_index=True) if scores else pd.DataFrame()),
    )


def neuron_quality(
    nu: np.ndarray,
    band: np.ndarray,
    bands: pd.DataFrame,
    quality_floor: float,
    skewness: np.ndarray | None = None,
) -> pd.DataFrame:
    """Each neuron's expected spike-inference quality: its band's expected correlation, carried to
    the neuron's own skewness of ΔF/F when known, flagged below quality_floor.

    nu: (neurons,) %·Hz^-1/2; band: (neurons,) band index (-1: none, `noise_bands`); bands: the
    bands table of `expected_accuracy`; skewness: (neurons,) `transient_skewness` or None.
    A neuron's expected r is its band's plus `skewness_shift`(skewness_slope, s_neuron,
    s_band): within a band, a neuron whose transients stand out less than the
    band's typical neuron's is expected to do worse. A flat trace (ν 0: a dead or saturated ROI)
    is flagged, with no expected r. Returns neuron, nu, skewness, band, expected_correlation,
    quality_flag and quality_reason (a sentence for flagged neurons, else "").
    """
    skew = np.full(nu.size, np.nan) if skewness is None else np.asarray(skewness, dtype=float)
    expected = np.full(nu.size, np.nan)
    if len(bands):
        member = band >= 0
        expected[member] = bands.expected_correlation.to_numpy()[band[member]]
        if "skewness_median" in bands:
            shift = skewness_shift(
                bands.skewness_slope.to_numpy()[band[member]],
                skew[member],
                bands.skewness_median.to_numpy()[band[member]],
            )
            rows = np.flatnonzero(member)[np.isfinite(shift)]
            expected[rows] = np.clip(expected[rows] + shift[np.isfinite(shift)], -1.0, 1.0)
    flat = np.asarray(nu, dtype=float) == 0
    expected[flat] = np.nan
    flag = (np.isfinite(expected) & (expected < quality_floor)) | flat
    neurons = pd.DataFrame(
        {
            "neuron": np.arange(nu.size),
            "nu": nu,
            "skewness": skew,
            "band": band,
            "expected_correlation": expected,
            "quality_flag": flag,
            "quality_reason": np.where(
                flag,
                [
                    "flat ΔF/F (no noise and no signal: a dead or saturated ROI): no spikes to infer"
                    if v == 0
                    else f"expected spike-inference r {e:.2f} < {quality_floor:g} at noise ν {v:.2f}"
                    + (f", skewness {k:.2f}" if np.isfinite(k) else "")
                    for e, v, k in zip(expected, nu, skew, strict=True)
                ],
                "",
            ),
        }
    )
    return neurons

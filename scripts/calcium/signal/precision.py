"""How precisely each neuron's spikes can be placed, and the smoothing its activity gets from that.

A parametric bootstrap of the deconvolution: the neuron's fitted calcium (baseline + c) plus
fresh white noise of the neuron's own noise SD is deconvolved again with the same model. Where
the two spike trains agree frame by frame, a spike is placed to within its frame, and the
activity is smoothed only by the frame and the indicator's rise (`neuron_timing`); where they
do not (noise large against a single spike's signal, whatever the frame rate), the activity is
smoothed by the smallest extra Gaussian of EXTRA_SMOOTHING_S at which the two smoothed
activities correlate to at least REPRODUCIBILITY_TARGET (Pearson r over frames). The extra
smoothing is combined with the base smoothing in quadrature. Nothing about the recording's
origin is used: only its fit and its noise. docs/accuracy.md says how the target was chosen.

A recording longer than BOOTSTRAP_WINDOW_S is measured on BOOTSTRAP_SEGMENTS parts of it
(`calcium.signal.bootstrap_parts`), so that the second deconvolution costs at most that
much per neuron however long the recording: a correlation over frames needs enough spikes and
decay times, not every frame.
"""

from __future__ import annotations

import numpy as np

from calcium.signal.bootstrap_parts import (
    bootstrap_margins,
    bootstrap_parts,
    bootstrap_segments,
    deconvolve_parts,
    rows_of,
)

# Extra smoothing SDs tried, in seconds, smallest first.
EXTRA_SMOOTHING_S = (0.0, 0.01, 0.02, 0.035, 0.05, 0.08)

# The re-inferred activity must correlate with the activity to at least this (chosen on the
# 32 ground-truth sets leaving each paper's sets out; see docs/accuracy.md).
REPRODUCIBILITY_TARGET = 0.85

# A neuron whose decay was lengthened from its own trace (`calcium.signal.decay_estimate.longer_decay_s`)
# must reach this instead: one exponential stands for the indicator's fast decay and the cell's
# slower one, a misfit that fresh noise alone does not show, so its spikes are placed less
# precisely than the bootstrap says (chosen leaving each paper out: 0.95 in all 13 folds, from
# "the same target", 0.9, 0.95 and 0.97; docs/accuracy.md).
LONGER_DECAY_TARGET = 0.95


def redrawn_traces(
    calcium: np.ndarray,
    baseline: np.ndarray,
    noise_sd: np.ndarray,
    rates_hz: np.ndarray,
    frame_rate_hz: float,
    seed: int = 0,
    neuron_ids: np.ndarray | None = None,
) -> np.ndarray:
    """The fitted traces (baseline + calcium) with fresh white noise of each neuron's noise SD.

    calcium: (neurons, frames) fitted c; baseline, noise_sd: (neurons,) b and sn (sn at the
    rate the neuron was deconvolved at, rates_hz); frame_rate_hz: the frames' rate (Hz). A
    band-limited neuron's sn is per sample at its lower rate: the noise drawn at frame_rate_hz
    has SD sn·sqrt(frame_rate_hz / rate), so that it is sn once resampled to that rate.
    Seeded per neuron with [seed, neuron id] (independent of blocks). Returns float64.
    """
    calcium = np.asarray(calcium, dtype=np.float64)
    ids = np.arange(calcium.shape[0]) if neuron_ids is None else np.asarray(neuron_ids)
    rates = np.asarray(rates_hz, dtype=float)
    sd = np.asarray(noise_sd, dtype=float) * np.sqrt(
        frame_rate_hz / np.where(rates > 0, rates, frame_rate_hz)
    )
    out = calcium + np.asarray(baseline, dtype=float)[:, None]
    for row in range(out.shape[0]):
        rng = np.random.default_rng([int(seed), int(ids[row]), 1])
        out[row] += rng.normal(0.0, float(np.nan_to_num(sd[row])), out.shape[1])
    return out


def _smoothed_parts(
    spikes: np.ndarray, frame_rate_hz: float, smoothing_s: np.ndarray, segments: np.ndarray | None
) -> np.ndarray:
    """Rows of s smoothed by a Gaussian of SD smoothing_s (one per row), float64, on the frames of
    `segments` (concatenated; None: every frame). Each part is smoothed with the frames within the
    Gaussian's reach (4 SD) around it: the same values as smoothing the whole row."""
    from calcium.signal.activity_smoothing import smooth_activity_per_neuron

    zeros = np.zeros(spikes.shape[0])
    if segments is None:
        return smooth_activity_per_neuron(spikes, frame_rate_hz, smoothing_s, zeros).astype(np.float64)
    reach = int(4.0 * float(np.max(smoothing_s, initial=0.0)) * frame_rate_hz + 0.5) + 1
    parts = []
    for lo, hi in segments:
        a, b = max(int(lo) - reach, 0), min(int(hi) + reach, spikes.shape[1])
        part = smooth_activity_per_neuron(spikes[:, a:b], frame_rate_hz, smoothing_s, zeros)
        parts.append(part[:, lo - a : hi - a].astype(np.float64))
    return np.concatenate(parts, axis=1)


def _correlation(
    spikes: np.ndarray,
    again: np.ndarray,
    frame_rate_hz: float,
    smoothing_s: np.ndarray,
    segments: np.ndarray | None = None,
) -> np.ndarray:
    """(neurons,) Pearson r over frames (those of `segments`, None: all) of the two activities,
    each smoothed by a Gaussian of SD smoothing_s (s, one per neuron); NaN where either is constant."""
    a = _smoothed_parts(spikes, frame_rate_hz, smoothing_s, segments)
    b = _smoothed_parts(again, frame_rate_hz, smoothing_s, segments)
    a -= a.mean(axis=1, keepdims=True)
    b -= b.mean(axis=1, keepdims=True)
    norm = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    out = np.full(spikes.shape[0], np.nan)
    out[norm > 0] = (a * b).sum(axis=1)[norm > 0] / norm[norm > 0]
    return out


def reproducibility_curve(
    spikes: np.ndarray,
    spikes_again: np.ndarray,
    frame_rate_hz: float,
    base_smoothing_s: np.ndarray,
    extra_s: tuple[float, ...] = EXTRA_SMOOTHING_S,
    segments: np.ndarray | None = None,
) -> np.ndarray:
    """(neurons, len(extra_s)) Pearson r over frames of the two activities, each smoothed by a
    Gaussian of SD hypot(base, e) for each extra SD e (s); NaN where either is constant.

    spikes, spikes_again: (neurons, frames) s of the recording and of `redrawn_traces`;
    base_smoothing_s: (neurons,) the frame-and-rise smoothing (s); segments: (parts, 2) the
    frames correlated (`bootstrap_segments`; spikes_again need only be right within the
    smoothing's reach of them), None: all.
    """
    spikes = np.asarray(spikes, dtype=np.float32)
    again = np.asarray(spikes_again, dtype=np.float32)
    base = np.asarray(base_smoothing_s, dtype=float)
    return np.stack(
        [_correlation(spikes, again, frame_rate_hz, np.hypot(base, e), segments) for e in extra_s], axis=1
    ).reshape(spikes.shape[0], len(extra_s))


def choose_extra_smoothing(
    curve: np.ndarray,
    target: float | np.ndarray = REPRODUCIBILITY_TARGET,
    extra_s: tuple[float, ...] = EXTRA_SMOOTHING_S,
) -> tuple[np.ndarray, np.ndarray]:
    """Per neuron, the first extra smoothing (s) whose reproducibility (`reproducibility_curve`)
    reaches target (one value, or one per neuron), the largest if none does, 0 where the
    activity is constant (NaN throughout); and the reproducibility there. Returns two
    (neurons,) float64 arrays."""
    curve = np.atleast_2d(np.asarray(curve, dtype=float))
    target = np.broadcast_to(np.asarray(target, dtype=float), curve.shape[:1])[:, None]
    reached = np.concatenate([curve >= target, np.ones((curve.shape[0], 1), bool)], axis=1)
    index = np.minimum(np.argmax(reached, axis=1), len(extra_s) - 1)
    silent = np.all(np.isnan(curve), axis=1)
    extra = np.where(silent, 0.0, np.asarray(extra_s, dtype=float)[index])
    return extra, curve[np.arange(curve.shape[0]), index]


def reproducible_smoothing(
    spikes: np.ndarray,
    spikes_again: np.ndarray,
    frame_rate_hz: float,
    base_smoothing_s: np.ndarray,
    target: float | np.ndarray = REPRODUCIBILITY_TARGET,
    extra_s: tuple[float, ...] = EXTRA_SMOOTHING_S,
    segments: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per neuron, the smallest extra smoothing (s) at which its activity and the re-inferred
    one correlate to at least target, and that correlation (`reproducibility_curve` on the
    frames of `segments`, `choose_extra_smoothing`). Each extra SD is tried only for the neurons
    that have not reached the target with a smaller one (the same choice as from the whole
    curve). Returns (extra_s, reproducibility), (neurons,) float64 each."""
    spikes = np.asarray(spikes, dtype=np.float32)
    again = np.asarray(spikes_again, dtype=np.float32)
    base = np.asarray(base_smoothing_s, dtype=float)
    goal = np.broadcast_to(np.asarray(target, dtype=float), base.shape)
    curve = np.full((spikes.shape[0], len(extra_s)), np.nan)
    pending = np.arange(spikes.shape[0])
    for column, e in enumerate(extra_s):
        if pending.size == 0:
            break
        r = _correlation(spikes[pending], again[pending], frame_rate_hz, np.hypot(base[pending], e), segments)
        curve[pending, column] = r
        pending = pending[~(r >= goal[pending])]
    return choose_extra_smoothing(curve, target, extra_s)


def precision_smoothing(
    result,
    frame_rate_hz: float,
    smoothing_s: np.ndarray,
    neuron_ids: np.ndarray,
    timing,
    floor,
    oasis: dict,
    longer_decay: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(smoothing in s, extra smoothing in s, reproducibility) per neuron of a `deconvolve_traces` result.

    smoothing_s: (neurons,) the frame-and-rise smoothing. Where timing (`default_settings`'
    "timing") has a reproducibility_target, the fitted traces with fresh noise
    (`redrawn_traces`) are deconvolved again with the same model (`oasis`: the keyword
    arguments of `deconvolve_traces`, and the decay floor `floor` in frames), each neuron at
    the rate it was deconvolved at, and `reproducible_smoothing` adds its extra smoothing
    in quadrature; else smoothing_s is returned with no extra and NaN reproducibility.
    longer_decay: (neurons,) bool, where the decay was lengthened from the neuron's trace:
    those neurons must reach LONGER_DECAY_TARGET instead.
    """
    from calcium.signal.deconvolve import deconvolve_traces
    from calcium.signal.scan_rate import spread_over_exposure

    smoothing_s = np.asarray(smoothing_s, dtype=float)
    target = None if timing is None else timing.get("reproducibility_target")
    if target is None:
        return smoothing_s, np.zeros(smoothing_s.shape), np.full(smoothing_s.shape, np.nan)
    neuron_ids = np.asarray(neuron_ids)
    traces = redrawn_traces(
        result.calcium,
        result.baseline,
        result.noise_sd,
        result.rate_hz,
        frame_rate_hz,
        oasis.get("seed", 0),
        neuron_ids,
    )
    if longer_decay is not None:
        target = np.where(np.asarray(longer_decay, dtype=bool), LONGER_DECAY_TARGET, float(target))
    target = np.broadcast_to(np.asarray(target, dtype=float), smoothing_s.shape)
    n_frames = traces.shape[1]
    rates = np.asarray(result.rate_hz, dtype=float)
    candidates = bootstrap_segments(n_frames, frame_rate_hz)
    extra, reproducibility = np.zeros(smoothing_s.shape), np.full(smoothing_s.shape, np.nan)
    whole = np.ones(smoothing_s.shape, dtype=bool)

    def measured(rows, again, parts=None):  # both activities read over each frame's exposure
        return reproducible_smoothing(
            spread_over_exposure(result.spikes[rows], frame_rate_hz, rates[rows]),
            spread_over_exposure(again, frame_rate_hz, rates[rows]),
            frame_rate_hz,
            smoothing_s[rows],
            target[rows],
            segments=parts,
        )

    if not (candidates.shape[0] == 1 and candidates[0, 0] == 0 and candidates[0, 1] == n_frames):
        # each neuron's parts (`bootstrap_parts`), each with MARGIN_DECAYS of its decay and the
        # smoothing's reach around it
        margins = bootstrap_margins(result.g, rates, smoothing_s, frame_rate_hz, max(EXTRA_SMOOTHING_S))
        whole = margins < 0  # no decay to set a margin: the whole recording
        chosen = bootstrap_parts(result.spikes, candidates)
        _, group = np.unique(chosen.reshape(len(chosen), -1), axis=0, return_inverse=True)
        group = group.ravel()
        for g in np.unique(group[~whole]):
            rows = np.flatnonzero((group == g) & ~whole)
            parts = np.unique(chosen[rows[0]], axis=0)  # in time order, each once
            again = deconvolve_parts(
                traces[rows],
                frame_rate_hz,
                parts,
                margins[rows],
                neuron_ids[rows],
                rates[rows],
                floor,
                rows_of(oasis, rows),
            )
            extra[rows], reproducibility[rows] = measured(rows, again, parts)
            # no spike in the parts (constant there) but some in the recording: the whole recording
            whole[rows] = np.isnan(reproducibility[rows]) & np.any(result.spikes[rows] != 0, axis=1)
    if whole.any():
        rows = np.flatnonzero(whole)
        again = deconvolve_traces(
            traces[rows],
            frame_rate_hz,
            neuron_ids=neuron_ids[rows],
            effective_rate_hz=rates[rows],
            min_decay_frames=floor,
            **rows_of(oasis, rows),
        ).spikes
        extra[rows], reproducibility[rows] = measured(rows, again)
    return np.hypot(smoothing_s, extra), extra, reproducibility

"""The parts of a long recording that the precision bootstrap (`calcium.signal.precision`)
measures each neuron on, and their deconvolution with margins: a recording longer than
BOOTSTRAP_WINDOW_S is measured on BOOTSTRAP_SEGMENTS parts of it, so that the second
deconvolution costs at most that much per neuron however long the recording.
"""

from __future__ import annotations

import numpy as np

# A recording longer than this (s) is redrawn and deconvolved again on BOOTSTRAP_SEGMENTS parts
# of BOOTSTRAP_WINDOW_S / BOOTSTRAP_SEGMENTS seconds each (300 s: longer than 92 % of the 733
# ground-truth recordings the targets were chosen on, median 160 s), spread over the recording
# and including the one where the neuron is most active (`bootstrap_parts`). All but 7 of the
# 733 are at most 900 s long and are measured whole. On 60-min synthetic sessions the extra
# smoothing is the whole recording's for 94 % of the neurons, within one step for all
# (docs/performance.md).
BOOTSTRAP_WINDOW_S = 900.0
BOOTSTRAP_SEGMENTS = 3

# Each part is deconvolved with this many of the neuron's decay times (and the smoothing's
# reach) before and after it: OASIS starts a trace with a free calcium level, whose effect on
# the spikes fades as exp(-t / decay) (5 decays: 0.7 %).
MARGIN_DECAYS = 5.0


def bootstrap_segments(
    n_frames: int,
    frame_rate_hz: float,
    window_s: float = BOOTSTRAP_WINDOW_S,
    segments: int = BOOTSTRAP_SEGMENTS,
) -> np.ndarray:
    """(parts, 2) first and one-past-last frame of the parts of a recording the bootstrap may
    measure reproducibility on: the whole recording ([[0, n_frames]]) when it lasts at most
    window_s seconds; else the recording cut into as many equal slices as hold a part of
    window_s / segments seconds (rounded to frames), one such part centred in each slice
    (`bootstrap_parts` picks `segments` of them per neuron). Depends on the recording's length
    and rate only (not on the neurons or blocks)."""
    n_frames = int(n_frames)
    length = int(round(window_s * frame_rate_hz / segments))
    if n_frames <= segments * length:
        return np.array([[0, n_frames]], dtype=np.int64)
    slices = n_frames // length
    centres = (np.arange(slices) + 0.5) * n_frames / slices
    first = np.round(centres - length / 2).astype(np.int64)
    return np.stack([first, first + length], axis=1)


def bootstrap_parts(
    spikes: np.ndarray, candidates: np.ndarray, segments: int = BOOTSTRAP_SEGMENTS
) -> np.ndarray:
    """(neurons, segments, 2) per neuron `segments` of the parts `candidates` ((parts, 2) frames,
    `bootstrap_segments`, in time order): evenly spread over the recording (one centred in each
    of `segments` equal stretches of the candidates), but the part where the neuron's spikes s
    have the most energy (sum of s², what a Pearson r over frames weighs most) always among
    them, in place of the nearest one, so that a neuron active in one stretch of the recording
    is measured where it is active. Ties go to the earlier part. From the neuron's own s only."""
    candidates = np.asarray(candidates, dtype=np.int64)
    count = len(candidates)
    spread = np.floor((np.arange(segments) + 0.5) * count / segments).astype(np.int64)
    energy = np.stack(
        [np.square(spikes[:, a:b], dtype=np.float64).sum(axis=1) for a, b in candidates], axis=1
    )
    busiest = np.argmax(energy, axis=1)
    index = np.tile(spread, (len(energy), 1))
    active = np.flatnonzero(energy.max(axis=1) > 0)  # a silent neuron keeps the even spread
    nearest = np.argmin(np.abs(spread[None, :] - busiest[active, None]), axis=1)
    index[active, nearest] = busiest[active]
    return candidates[index]


def _slowest_decay_s(g: np.ndarray, rates_hz: np.ndarray) -> np.ndarray:
    """(neurons,) the slowest time constant (s) of each row's AR(1) or AR(2) coefficients g
    (neurons, 2) at its rate; NaN where it is no decaying exponential."""
    g1, g2 = np.asarray(g, dtype=float)[:, 0], np.asarray(g, dtype=float)[:, 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        disc = g1 * g1 + 4 * g2
        root = np.where(disc >= 0, (g1 + np.sqrt(np.abs(disc))) / 2, np.sqrt(np.abs(g2)))
        ok = np.isfinite(root) & (root > 0) & (root < 1)
        return np.where(
            ok, -1.0 / (np.asarray(rates_hz, dtype=float) * np.log(np.where(ok, root, 0.5))), np.nan
        )


def bootstrap_margins(
    g: np.ndarray, rates_hz: np.ndarray, smoothing_s: np.ndarray, frame_rate_hz: float, max_extra_s: float
) -> np.ndarray:
    """(neurons,) frames deconvolved before and after each part of the bootstrap: MARGIN_DECAYS of
    the slowest decay of the neuron's model (AR coefficients g, (neurons, 2), at rates_hz) and
    the reach (4 SD) of its largest smoothing (smoothing_s, s, with the largest extra
    max_extra_s); -1 where the model has no decay."""
    decays = _slowest_decay_s(g, rates_hz) * frame_rate_hz
    reach = 4.0 * np.hypot(np.asarray(smoothing_s, dtype=float), max_extra_s) * frame_rate_hz
    margins = np.ceil(MARGIN_DECAYS * np.nan_to_num(decays) + reach + 2.0)
    return np.where(np.isfinite(decays), margins, -1).astype(np.int64)


def rows_of(oasis: dict, rows: np.ndarray) -> dict:
    """`deconvolve_traces`' keyword arguments for these rows (a decay per neuron taken at them)."""
    return {k: np.asarray(v)[rows] if k == "tau_decay_s" and np.ndim(v) == 1 else v for k, v in oasis.items()}


def deconvolve_parts(
    traces: np.ndarray,
    frame_rate_hz: float,
    segments: np.ndarray,
    margins: np.ndarray,
    neuron_ids: np.ndarray,
    rates_hz: np.ndarray,
    floor,
    oasis: dict,
) -> np.ndarray:
    """(neurons, frames) float32 s of `deconvolve_traces` run on each part of `segments` with
    `margins` frames (one per neuron) before and after it (parts that then overlap, one run);
    0 elsewhere."""
    from calcium.signal.deconvolve import deconvolve_traces

    n_neurons, n_frames = traces.shape
    spikes = np.zeros((n_neurons, n_frames), dtype=np.float32)
    for margin in np.unique(margins):
        rows = np.flatnonzero(margins == margin)
        spans: list[list[int]] = []
        for lo, hi in segments:
            a, b = max(int(lo) - int(margin), 0), min(int(hi) + int(margin), n_frames)
            if spans and a <= spans[-1][1]:
                spans[-1][1] = max(spans[-1][1], b)
            else:
                spans.append([a, b])
        settings = rows_of(oasis, rows)
        for a, b in spans:
            spikes[rows, a:b] = deconvolve_traces(
                traces[rows, a:b],
                frame_rate_hz,
                neuron_ids=neuron_ids[rows],
                effective_rate_hz=rates_hz[rows],
                min_decay_frames=floor,
                **settings,
            ).spikes
    return spikes

"""Each ensemble's p-value against the circular-shift null, whatever method found it.

The statistic is the number of bins in which enough of the ensemble's members are coactive;
the null shifts every member's event frames circularly by its own offset (each keeps its
events and rate, coincidences become chance); Bonferroni over the candidates examined. Where the
population has a lasting state (`calcium.population.state`), the shifts are rotations in
operational time: each member keeps its events and follows the state as closely as its own events
do (its coupling, `calcium.population.state.state_coupling`), and only coincidences beyond the
state count.
"""

from __future__ import annotations

import numpy as np

from calcium.population.coactivity import frame_bins, statistic_scale
from calcium.population.null import circular_shift_null
from calcium.population.state import coupled_weights
from calcium.population.trial_coactivity import trial_shift_null
from calcium.progress import Progress, track


def ensemble_p_values(
    neurons: np.ndarray,
    frames: np.ndarray,
    n_frames: int,
    frame_rate_hz: float,
    bin_s: float,
    jitter_bins: int,
    members: list[np.ndarray],
    thresholds: list[int],
    observed: list[int],
    n_shuffles: int = 1000,
    seed: int = 0,
    n_candidates: int = 1,
    counted: np.ndarray | None = None,
    layout=None,
    state: np.ndarray | None = None,
) -> np.ndarray:
    """P-value of each ensemble against the circular-shift null, (ensembles,).

    Statistic: the number of bins in which at least `thresholds[e]` of `members[e]` (the neurons
    whose coactivity defines its activations) are active
    within ± jitter_bins (`observed[e]` in the data). Null: `n_shuffles` surrogates in which
    every member's event frames are circularly shifted by its own offset
    (`calcium.population.null.circular_shift_null`: each keeps its events and rate). p = (1 + surrogates
    at least as large) / (1 + n_shuffles), times n_candidates (Bonferroni over the candidate
    ensembles examined), capped at 1.
    neurons, frames: one entry per event of the session.
    counted: (n_bins,) bool, the bins that count in the null (e.g. outside stimulus
        presentations and holding frames; `observed` must count the same); None: all.
    layout: a session cut into trials (`calcium.population.trial_coactivity.TrialBins`): members shifted
        within each trial (`calcium.population.trial_coactivity.trial_shift_null`); None: one recording.
    state: (n_bins,) > 0, the population's state in each bin (`calcium.population.state.raster_state`),
        or None (flat): the shifts are rotations in each member's operational time, the
        cumulative sum of state ** its coupling (`calcium.population.state.state_coupling`, over the
        counted frames; `calcium.population.null.circular_shift_null`'s frame_weights, a row per
        member). One recording only (a
        session cut into trials keeps the shifts within trials).
    """
    out = np.ones(len(members))
    neurons = np.asarray(neurons, dtype=np.int64)
    frames = np.asarray(frames, dtype=np.int64)
    weights = None
    if state is not None and layout is None:
        bin_of_frame = frame_bins(np.arange(n_frames), frame_rate_hz, bin_s)
        weights = np.asarray(state, dtype=np.float64)[bin_of_frame]
        in_counted = np.ones(n_frames, bool) if counted is None else np.asarray(counted, bool)[bin_of_frame]
    with Progress(len(members), "ensembles tested against the circular-shift null", "ensembles") as progress:
        for e, (member_ids, k, count) in enumerate(
            track(zip(members, thresholds, observed, strict=True), progress)
        ):
            ids = np.asarray(member_ids, dtype=np.int64)
            position = np.full(max(int(neurons.max(initial=-1)), int(ids.max(initial=-1))) + 1, -1)
            position[ids] = np.arange(ids.size)
            chosen = position[neurons] >= 0 if neurons.size else np.zeros(0, bool)
            if weights is not None:  # each member follows the state as closely as its events do
                member_weights = coupled_weights(
                    weights, position[neurons[chosen]], frames[chosen], ids.size, in_counted
                )
            null = (circular_shift_null if layout is None else trial_shift_null)(
                position[neurons[chosen]],
                frames[chosen],
                ids.size,
                *((n_frames,) if layout is None else (layout,)),
                frame_rate_hz,
                bin_s,
                n_shuffles,
                seed=seed + e,
                jitter_bins=jitter_bins,
                **({} if weights is None else {"frame_weights": member_weights}),
            )
            window = null // statistic_scale(ids.size, jitter_bins)
            if counted is not None:
                window = window[:, np.asarray(counted, dtype=bool)]
            as_large = ((window >= k).sum(axis=1) >= count).sum()
            out[e] = min(1.0, (1 + as_large) / (1 + n_shuffles) * max(n_candidates, 1))
    return out

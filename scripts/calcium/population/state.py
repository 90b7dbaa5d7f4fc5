"""The population's state: how active the population is around each bin, relative to the session.

Neurons independent but for a state they share (arousal or locomotion raise most neurons' rates
together; up and down states) coincide more often than their rates predict, and a null that keeps
each neuron's rate alone (the circular shifts) takes them for ensembles. The `refined` method
expects each neuron's activity in the population's state around each bin instead
(`population_state`): the dense-set seeds' pair expectations, and the activations' threshold and
the membership test's chance in refinement (`calcium.population.activations.state_thresholds`).
The test of each ensemble, whatever the method, shifts each member's events in the state's
operational time (`calcium.population.null.circular_shift_null`'s frame_weights): each keeps its
events and follows the state as closely as its own events do (`state_coupling`: some neurons swing
further than the population, some not at all). Where no state lasts beyond chance
the state is exactly 1 (None where passed on) and nothing changes.
"""

from __future__ import annotations

import numpy as np

from calcium.population.coactivity import ActiveBins, sorted_unique

# The reaches tried (held bins either side); each session takes the one that predicts its own
# counts best from the bins around them (`state_reach`). Set beforehand, not tuned: from a few
# frames to ~a minute at 1 Hz, steps of ~1.5x.
STATE_REACHES = (3, 5, 8, 12, 20, 30, 45)
_STATES: list = []  # the last raster's state: (its neurons array, n_bins, jitter_bins, state)


def _around(counts: np.ndarray, gap_bins: int, reach: int) -> tuple[np.ndarray, np.ndarray]:
    """(the mean count over the bins within ± reach of each bin, the bins within ± gap left out;
    how many bins that mean holds)."""
    kernel = np.ones(2 * reach + 1)
    gap = min(gap_bins, reach - 1)
    kernel[reach - gap : reach + gap + 1] = 0.0
    weights = np.convolve(np.ones(counts.size), kernel, mode="same")
    return np.convolve(counts, kernel, mode="same") / weights, weights


def state_reach(counts: np.ndarray, jitter_bins: int) -> int:
    """The reach (held bins either side) of `STATE_REACHES` whose mean around each bin, that bin's
    neighbourhood of ± 2·jitter_bins left out, predicts the bin's own count best (least squares:
    a cross-validation, since no bin enters its own prediction). Short where the state switches
    often against many counts per bin, the longest where there is no state to follow."""
    counts = np.asarray(counts, dtype=np.float64)
    errors = [
        float(np.mean((counts - _around(counts, 2 * jitter_bins, reach)[0]) ** 2))
        for reach in STATE_REACHES
        if counts.size > 2 * reach + 1
    ]
    return STATE_REACHES[int(np.argmin(errors))] if errors else STATE_REACHES[0]


def population_state(counts: np.ndarray, jitter_bins: int, reach: int | None = None) -> np.ndarray:
    """(bins,) the population's activity around each bin relative to its mean (1 where flat): the
    mean number of active neurons over the bins within ± reach of it, the bins within ± 2·jitter_bins
    left out (an assembly's own activation does not raise its expectation), over the session's
    mean. A state is taken to last where this varies beyond what counts varying from bin to bin
    alone would give by 3 SDs of a variance ratio, else it is 1 (independent neurons' counts: not
    1 in 2 sessions of 3600). It is not shrunk towards 1: expected coincidences of k neurons
    grow as the state's k-th power, and a state shrunk by its noise share (James-Stein, tried)
    left 5 more chance ensembles of up-state neurons in 15 sessions. counts: (bins,)
    active neurons per held bin (those holding frames); jitter_bins and reach in held bins (the
    left-out neighbourhood is at most reach - 1); reach None: the session's own (`state_reach`).
    Never 0: where no bin averaged holds an event, what half an event would give."""
    counts = np.asarray(counts, dtype=np.float64)
    reach = state_reach(counts, jitter_bins) if reach is None else reach
    if counts.size <= 2 * reach + 1 or counts.sum() <= 0:
        return np.ones(counts.size)
    around, weights = _around(counts, 2 * jitter_bins, reach)
    # Where no neuron was active in any bin averaged, the state is what half an event there would
    # give (never 0: a silent minute, focus lost, is not a rate of zero, and a state of 0 gives
    # the operational time of the test of each ensemble no length there).
    state = np.maximum(around, 0.5 / weights) / counts.mean()
    # The variance counts independent beyond the left-out bins would give this mean: half the mean
    # squared difference of counts 2·gap + 1 bins apart (von Neumann's estimate, which a lasting
    # state hardly enters; an assembly's activation, spread over its window, does) over the bins
    # averaged. A state persists; chance and activations do not.
    lag = 2 * min(2 * jitter_bins, reach - 1) + 1
    from_bin_to_bin = 0.5 * float(np.mean((counts[lag:] - counts[:-lag]) ** 2))
    chance_variance = float(np.mean(from_bin_to_bin / weights)) / counts.mean() ** 2
    ratio = float(state.var()) / max(chance_variance, 1e-300)
    # A lasting state only where the ratio stands 3 SDs above 1, the SD of a variance ratio over
    # counts.size / (bins averaged) independent stretches (sqrt(2 / stretches)): chance alone
    # exceeded 1 in half the sessions and moved their thresholds by a level.
    stretches = counts.size / float(np.median(weights))
    if ratio <= 1.0 + 3.0 * np.sqrt(2.0 / stretches):
        return np.ones(counts.size)
    return state


# The couplings a neuron may have to the state (`state_coupling`): from following its -8th power to
# its 8th; beyond, a neuron is all but confined to the extreme states either way (neurons silenced
# 20x in the up states of a population that rises 2x couple at about -4.8: a review's measurement).
COUPLINGS = np.linspace(-8.0, 8.0, 1601)


def state_coupling(
    frame_state: np.ndarray,
    neurons: np.ndarray,
    frames: np.ndarray,
    n_neurons: int,
    counted: np.ndarray | None = None,
) -> np.ndarray:
    """(n_neurons,) each neuron's coupling to the population's state, beta in a rate proportional
    to state ** beta: 1 follows the population, 0 ignores it, 2 swings twice as far (on a log
    scale), < 0 is silenced by it. Neurons differ (locomotion excites some, suppresses others);
    a test that moved every neuron with the population took sets of strongly modulated neurons
    for ensembles. The maximum-likelihood beta of the neuron's event frames under a rate
    proportional to state ** beta over `frame_state`'s frames: the one whose state-weighted mean of
    ln state equals the mean over its events (that mean rises with beta), within `COUPLINGS`'
    range. frame_state: (n_frames,) > 0; neurons, frames: one entry per event (a frame counted
    once per neuron); counted: (n_frames,) bool, the frames that count (both sides), None: all. A
    neuron with no event counted gets 1, and so does every neuron where the state is one value over
    the counted frames (or none counts): no coupling can be measured there."""
    log_state = np.log(np.asarray(frame_state, dtype=np.float64))
    counted = np.ones(log_state.size, bool) if counted is None else np.asarray(counted, bool)
    frames = np.asarray(frames, np.int64)
    keep = counted[frames]
    values, frames_at = np.unique(log_state[counted], return_counts=True)
    if values.size < 2:  # nothing to follow (a state varying only where nothing counts)
        return np.ones(n_neurons)
    exponent = COUPLINGS[:, None] * values[None, :]
    weights = frames_at * np.exp(exponent - exponent.max(axis=1, keepdims=True))
    expected = weights @ values / weights.sum(axis=1)  # nondecreasing in beta
    keys = np.unique(np.asarray(neurons, np.int64)[keep] * log_state.size + frames[keep])
    owner = keys // log_state.size
    events = np.bincount(owner, minlength=n_neurons)
    mean = np.bincount(owner, log_state[keys % log_state.size], minlength=n_neurons) / np.maximum(events, 1)
    expected, first = np.unique(expected, return_index=True)  # strictly rising, for interp
    coupling = np.interp(mean, expected, COUPLINGS[first])
    return np.where(events > 0, coupling, 1.0)


# A neuron's lightest frame in its own operational time, relative to its mean (one coupled strongly
# to the state hardly fires in the down states; a weight of 0 would be none at all).
_LIGHTEST = 1e-9


def coupled_weights(
    frame_state: np.ndarray,
    neurons: np.ndarray,
    frames: np.ndarray,
    n_neurons: int,
    counted: np.ndarray | None = None,
) -> np.ndarray:
    """(n_neurons, n_frames) each neuron's frame weights for the test's rotations: frame_state **
    its `state_coupling`, relative to their mean (at least 1e-9 of it). Arguments as there."""
    coupling = state_coupling(frame_state, neurons, frames, n_neurons, counted)
    weights = np.exp(coupling[:, None] * np.log(np.asarray(frame_state, dtype=np.float64))[None, :])
    weights /= weights.mean(axis=1, keepdims=True)
    return np.maximum(weights, _LIGHTEST, out=weights)


def held_jitter(jitter_bins: int, held: np.ndarray) -> int:
    """± jitter_bins of a raster's bins in its held bins (those holding frames): at 1 Hz with
    0.5 s bins every other bin holds a frame, and ± 2 bins are ± 1 held bin."""
    return int(np.ceil(jitter_bins * float(np.mean(held)))) if np.size(held) else int(jitter_bins)


def raster_state(raster: ActiveBins, jitter_bins: int) -> np.ndarray:
    """(n_bins,) `population_state` of a raster's bins holding frames (active neurons per bin), 1 in
    the others."""
    if _STATES and _STATES[0][0] is raster.neurons and _STATES[0][1:3] == (raster.n_bins, jitter_bins):
        return _STATES[0][3]  # a session refines hundreds of member sets on one raster
    held = raster.held_bins
    keep = held[raster.bins]
    keys = sorted_unique(raster.neurons[keep].astype(np.int64) * raster.n_bins + raster.bins[keep])
    per_bin = np.bincount(keys % raster.n_bins, minlength=raster.n_bins)
    state = np.ones(raster.n_bins)
    state[held] = population_state(per_bin[held], held_jitter(jitter_bins, held))
    _STATES[:] = [(raster.neurons, raster.n_bins, jitter_bins, state)]
    return state


def session_state(raster: ActiveBins, jitter_bins: int) -> np.ndarray | None:
    """`raster_state`, or None where the population has no lasting state (exactly 1 everywhere)."""
    state = raster_state(raster, jitter_bins)
    return None if np.all(state == 1.0) else state

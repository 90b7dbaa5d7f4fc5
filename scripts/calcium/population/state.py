"""The population's state: how active the population is around each bin, relative to the session.

Neurons independent but for a state they share (arousal or locomotion raise most neurons' rates
together; up and down states) coincide more often than their rates predict, and a null that keeps
each neuron's rate alone (the circular shifts) takes them for ensembles. The `refined` method
expects each neuron's activity in the state around each bin instead (`population_state`): the
dense-set seeds' pair expectations, and the activations' threshold and the membership test's
chance in refinement (`calcium.population.activations.state_thresholds`). The test of each
ensemble keeps the circular-shift null of each neuron's rate: a threshold per bin there, against
surrogates that the shifts take out of the state, was far too strict (a planted ensemble at p
0.8). Where no state lasts beyond chance the state is exactly 1 and nothing changes.
"""

from __future__ import annotations

import numpy as np

from calcium.population.coactivity import ActiveBins, sorted_unique

STATE_REACH = 20
_STATES: list = []  # the last raster's state: (its neurons array, n_bins, jitter_bins, state)


def population_state(counts: np.ndarray, jitter_bins: int, reach: int | None = None) -> np.ndarray:
    """(bins,) the population's activity around each bin relative to its mean (1 where flat): the
    mean number of active neurons over the bins within ± reach of it, the bins within ± 2·jitter_bins
    left out (an assembly's own activation does not raise its expectation), over the session's
    mean. A state is taken to last where this varies beyond what counts varying from bin to bin
    alone would give by 3 SDs of a variance ratio; it is then shrunk towards 1 by that share of
    its variance (James-Stein), else it is 1 (independent neurons' counts: not 1 in 1 session of
    600, and 3 of 4800 in a review; with the shrinkage alone, in 12-49 % of them). Bins are the held bins
    (those holding frames): `STATE_REACH` (20) is 10 s at the default bin_s, 20 s at 1 Hz, set
    beforehand, not tuned. counts: (bins,) active neurons per held bin."""
    reach = STATE_REACH if reach is None else reach
    counts = np.asarray(counts, dtype=np.float64)
    if counts.size <= 2 * reach + 1 or counts.sum() <= 0:
        return np.ones(counts.size)
    kernel = np.ones(2 * reach + 1)
    gap = min(2 * jitter_bins, reach - 1)
    kernel[reach - gap : reach + gap + 1] = 0.0
    weights = np.convolve(np.ones(counts.size), kernel, mode="same")
    state = np.convolve(counts, kernel, mode="same") / weights / counts.mean()
    # Shrunk towards 1 by the share of its variance that counts independent beyond the left-out
    # bins would give: half the mean squared difference of counts 2·gap + 1 bins apart (von
    # Neumann's estimate, which a lasting state hardly enters; an assembly's activation, spread
    # over its window, does) over the bins averaged. A state persists; chance and activations do not.
    lag = 2 * gap + 1
    from_bin_to_bin = 0.5 * float(np.mean((counts[lag:] - counts[:-lag]) ** 2))
    chance_variance = float(np.mean(from_bin_to_bin / weights)) / counts.mean() ** 2
    ratio = float(state.var()) / max(chance_variance, 1e-300)
    # A lasting state only where the ratio stands 3 SDs above 1, the SD of a variance ratio over
    # counts.size / (bins averaged) independent stretches (sqrt(2 / stretches)): chance alone
    # exceeded 1 in half the sessions and moved their thresholds by a level.
    stretches = counts.size / float(kernel.sum())
    if ratio <= 1.0 + 3.0 * np.sqrt(2.0 / stretches):
        return np.ones(counts.size)
    return 1.0 + (1.0 - 1.0 / ratio) * (state - 1.0)


def raster_state(raster: ActiveBins, jitter_bins: int) -> np.ndarray:
    """(n_bins,) `population_state` of a raster's bins holding frames (active neurons per bin), 1 in
    the others."""
    if _STATES and _STATES[0][0] is raster.neurons and _STATES[0][1:3] == (raster.n_bins, jitter_bins):
        return _STATES[0][3]  # a session refines hundreds of member sets on one raster
    held = np.ones(raster.n_bins, bool) if raster.frames_per_bin is None else raster.frames_per_bin > 0
    keep = held[raster.bins]
    keys = sorted_unique(raster.neurons[keep].astype(np.int64) * raster.n_bins + raster.bins[keep])
    per_bin = np.bincount(keys % raster.n_bins, minlength=raster.n_bins)
    state = np.ones(raster.n_bins)
    state[held] = population_state(per_bin[held], jitter_bins)
    _STATES[:] = [(raster.neurons, raster.n_bins, jitter_bins, state)]
    return state

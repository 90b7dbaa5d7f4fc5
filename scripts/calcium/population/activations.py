"""Activations of a member set and the test of its members: a bin is an activation when more of
the set's members are active than their own rates make likely (Poisson-binomial tail), and a
neuron is a member when it is active at the activations more often than its rate predicts
(binomial, Holm-corrected)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from calcium.population.coactivity import ActiveBins, group_ensemble_events, window_activity
from calcium.population.membership import holm


def poisson_binomial_survival(p: np.ndarray) -> np.ndarray:
    """P(X >= k) for k = 0..len(p), X the number of successes of independent Bernoulli(p_i); p
    (..., members): one such distribution per row, (..., members + 1)."""
    p = np.asarray(p, dtype=np.float64)
    pmf = np.zeros(p.shape[:-1] + (p.shape[-1] + 1,))
    pmf[..., 0] = 1.0
    for i in range(p.shape[-1]):
        q = p[..., i, None]
        pmf[..., 1 : i + 2] = pmf[..., 1 : i + 2] * (1 - q) + pmf[..., : i + 1] * q
        pmf[..., 0] *= 1 - q[..., 0]
    return np.cumsum(pmf[..., ::-1], axis=-1)[..., ::-1]


def coactivity_threshold(p: np.ndarray, alpha: float, min_active: int = 2) -> int:
    """Fewest coactive members k (>= min_active) with P(X >= k) <= alpha, X as in
    `poisson_binomial_survival`: under the circular-shift null each member's activity in a
    window is Bernoulli(its window activity), independently of the others. len(p) + 1 if none."""
    return int(coactivity_thresholds(np.asarray(p)[None, :], alpha, min_active)[0])


def coactivity_thresholds(p: np.ndarray, alpha: float, min_active: int = 2) -> np.ndarray:
    """`coactivity_threshold` of each row of p (rows, members): (rows,) int."""
    passing = poisson_binomial_survival(p) <= alpha
    k = np.where(passing.any(axis=-1), np.argmax(passing, axis=-1), p.shape[-1] + 1)
    return np.maximum(k, min_active)


class Activations(NamedTuple):
    """Activations of one member set: peak, first and last bin of each (merged runs of bins
    whose windows overlap), the members active at each peak (count), and the threshold k (one, or
    (activations,) each one's where it follows the population's state)."""

    peak: np.ndarray
    first: np.ndarray
    last: np.ndarray
    n_active: np.ndarray
    threshold: int | np.ndarray


def _levels(state: np.ndarray, step: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """The population state (`calcium.population.state`) rounded to `step`: (levels, index of
    each entry's level)."""
    rounded = np.maximum(np.round(np.asarray(state, dtype=float) / step), 1) * step
    return np.unique(rounded, return_inverse=True)


def state_thresholds(chance: np.ndarray, alpha: float, state: np.ndarray | None) -> int | np.ndarray:
    """`coactivity_threshold` of neurons whose window activity `chance` rises and falls with the
    population's state: (bins,) k of each bin's state (rounded, `_levels`), or one k where the
    state is flat (or None)."""
    if state is None:
        return coactivity_threshold(chance, alpha)
    levels, at = _levels(state)
    if levels.size == 1 and levels[0] == 1.0:
        return coactivity_threshold(chance, alpha)
    return coactivity_thresholds(np.clip(chance[None, :] * levels[:, None], 0, 1), alpha)[at]


def member_activations(
    windows: np.ndarray,
    members: np.ndarray,
    chance: np.ndarray,
    alpha: float,
    jitter_bins: int,
    state: np.ndarray | None = None,
) -> Activations:
    """Bins where at least k members are active within ± jitter_bins, k from `coactivity_threshold`
    (each bin's from the members' chance scaled by the population's `state` there, where one lasts:
    `state_thresholds`; `threshold` is then each activation's k).

    windows: (bins, neurons) from `window_matrix`; members: (neurons,) bool; chance: (neurons,)
    each neuron's window activity (`calcium.population.coactivity.window_activity`). Bins whose windows
    overlap (at most 2·jitter_bins apart) form one activation, placed at its bin with the
    most members active (the earliest of ties).
    """
    index = np.flatnonzero(members)
    count = windows[:, index].sum(axis=1)
    k = state_thresholds(chance[index], alpha, state)  # each bin's, in a lasting state
    peak, first, last = group_ensemble_events(count >= k, count, jitter_bins)
    return Activations(peak, first, last, count[peak], k[peak] if np.ndim(k) else k)


def membership_test(
    windows: np.ndarray,
    members: np.ndarray,
    activations: Activations,
    chance: np.ndarray,
    alpha: float,
    chance_alpha: float,
    most_present: np.ndarray | None = None,
    sizes: tuple[np.ndarray, np.ndarray] | None = None,
    explained: np.ndarray | None = None,
    least_chance: float = 0.0,
    state: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Who takes part in the activations more often than chance: (member, participation, p_value).

    Neuron i takes part in an activation when it is active within its peak ± jitter_bins.
    Its count is tested against Binomial(activations, chance_i), one-sided, Holm-corrected
    over neurons (p < alpha). A current member counts only the activations that are
    activations without it (the others reach the threshold for the set without it).
    state: (n_bins,) the population's state (`calcium.population.state`) or None: chance_i, the
    event sizes' presence and the others' threshold follow the state at the activations counted.
    sizes: (levels (activations, neurons), null pmf (neurons, levels)) of the neurons' event sizes
    (`calcium.population.event_sizes.WindowLevels`): a neuron nominally above chance (binomial p
    < alpha) is tested by the sum of its levels at the counted activations instead
    (`calcium.population.event_sizes.size_tail`); its p-value is that test's.
    explained: (activations, neurons) bool, activations a neuron does not count (another
    assembly of which it is a member is active there); None: none.
    least_chance: the chance presence a recruit (a neuron not in `members`) with none away from
    the activations (chance 0) is tested against (`member_sets`: half an event's share of the
    windows): it is not known to be silent there, and against chance 0 one presence gave p 0
    and membership. Such a neuron keeps the binomial test: the size test has no events of its
    away from them to draw its null from. Every other neuron is tested against its own chance
    (a core neuron's activations are counted without it: it was seeded, not recruited).
    """
    from scipy.special import bdtrc

    n_neurons = windows.shape[1]
    present = windows[activations.peak]  # (activations, neurons)
    counted = np.ones(present.shape, dtype=bool)
    index = np.flatnonzero(members)
    others = present[:, index].sum(axis=1)
    states, at = _levels(np.ones(present.shape[0]) if state is None else np.asarray(state)[activations.peak])
    for position, i in enumerate(index):
        rest = np.delete(index, position)
        k = coactivity_thresholds(np.clip(chance[rest][None, :] * states[:, None], 0, 1), chance_alpha)
        counted[:, i] = (others - present[:, i]) >= k[at]
    if explained is not None:
        counted &= ~np.asarray(explained, dtype=bool)
    taken = (present & counted).sum(axis=0)
    trials = counted.sum(axis=0)
    participation = np.divide(taken, trials, out=np.zeros(n_neurons), where=trials > 0)
    chance = np.asarray(chance, dtype=float)
    unknown = (chance <= 0) & ~np.asarray(members, dtype=bool)  # a recruit never active away
    in_state = np.ones(n_neurons)  # the mean population state (rounded) at the activations each counts
    if state is not None:
        in_state = np.divide(states[at] @ counted, trials, out=in_state, where=trials > 0)
    tested = np.clip(np.where(unknown, least_chance, chance) * in_state, 0, 1)
    p_value = np.where(taken > 0, bdtrc(np.maximum(taken - 1, 0), trials, tested), 1.0)
    if sizes is not None:
        from calcium.population.event_sizes import size_tail

        levels, pmf = sizes
        screened = np.flatnonzero((p_value < alpha) & (taken > 0) & ~unknown)
        if state is not None:  # presence (levels above 0) as likely as the state makes it
            pmf = pmf[screened].copy()
            present_mass = pmf[:, 1:].sum(axis=1)
            scale = np.minimum(in_state[screened], 1 / np.maximum(present_mass, 1e-300))
            pmf[:, 1:] *= scale[:, None]
            pmf[:, 0] = np.maximum(1 - pmf[:, 1:].sum(axis=1), 0)
        else:
            pmf = pmf[screened]
        observed = np.where(counted[:, screened], levels[:, screened], 0).sum(axis=0)
        p_value[screened] = size_tail(pmf, trials[screened], observed)
    if most_present is None:
        member = (holm(p_value) < alpha) & (taken > 0)
        return member, participation, p_value
    # Tarone (1990): a neuron that could not reach significance even if present at every
    # activation it can reach (its active bins: activations lie more than 2·jitter bins apart,
    # so one active bin serves at most one) is not a test; Holm over those that are.
    best = np.minimum(np.asarray(most_present), trials)
    floor = np.where(best > 0, bdtrc(np.maximum(best - 1, 0), trials, tested), 1.0)
    testable = tarone_testable(floor, alpha)
    member = np.zeros(n_neurons, dtype=bool)
    if testable.any():
        member[testable] = holm(p_value[testable]) < alpha
    return member & (taken > 0), participation, p_value


def tarone_testable(floor: np.ndarray, alpha: float) -> np.ndarray:
    """(neurons,) bool: the hypotheses Tarone's (1990) procedure counts: with K the smallest
    number such that at most K hypotheses have a smallest attainable p-value (floor) at or below
    alpha / K, those hypotheses; the others cannot be rejected at that level."""
    floor = np.asarray(floor, dtype=float)
    if floor.size == 0:
        return np.zeros(0, dtype=bool)
    k = np.arange(1, floor.size + 1)
    below = np.searchsorted(np.sort(floor), alpha / k, side="right")  # hypotheses at or below alpha / k
    smallest = int(k[np.argmax(below <= k)])  # below[-1] <= n always holds
    return floor <= alpha / smallest


def chance_outside(raster: ActiveBins, peaks: np.ndarray, jitter_bins: int) -> np.ndarray:
    """Each neuron's window activity away from the given activations (bins within
    ± 2·jitter_bins of their peaks left out), (neurons,)."""
    reach = np.arange(-2 * jitter_bins, 2 * jitter_bins + 1)
    near = (np.asarray(peaks, dtype=np.int64)[:, None] + reach[None, :]).ravel()
    exclude = np.zeros(raster.n_bins, dtype=bool)
    exclude[near[(near >= 0) & (near < raster.n_bins)]] = True
    return window_activity(raster, jitter_bins, exclude)


def jaccard_index(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0

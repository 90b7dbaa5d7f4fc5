"""The `refined` method's membership test counts only the neurons that could be members (Tarone 1990)."""

from __future__ import annotations

import numpy as np

from calcium.population.activations import Activations, membership_test, tarone_testable
from calcium.population.membership import holm


def test_tarone_counts_the_hypotheses_that_can_reach_the_level():
    """Smallest attainable p-values 1e-5, 1e-3, 0.02, 0.5, 0.5, 1: at K = 1 and 2 three lie at or
    below 0.05 / K, at K = 3 two do (<= 0.0167): those two are the tests, the rest cannot reject."""
    floor = np.array([1e-5, 1e-3, 0.02, 0.5, 0.5, 1.0])
    assert tarone_testable(floor, 0.05).tolist() == [True, True, False, False, False, False]
    assert tarone_testable(np.full(100, 1e-6), 0.05).all()  # every one attainable: all counted
    assert not tarone_testable(np.array([0.04, 0.04]), 0.05).any()  # 0.04 > 0.05 / 2


def _session():
    """200 neurons, 30 activations (every 20th of 600 bins). Core neurons 1-3 active at all of them;
    neuron 0 at 7 (chance 0.05: p = 5.7e-4); neurons 4-19 active in 30 bins each, at the
    activations by chance; neurons 20-199 silent (no active bin: never members, whatever the test)."""
    rng = np.random.default_rng(0)
    n_bins, n = 600, 200
    windows = np.zeros((n_bins, n), dtype=bool)
    peaks = np.arange(10, n_bins, 20)
    windows[peaks[:, None], [1, 2, 3]] = True
    windows[peaks[:7], 0] = True
    for neuron in range(4, 20):
        windows[rng.choice(n_bins, 30, replace=False), neuron] = True
    activations = Activations(peaks, peaks, peaks, windows[peaks][:, 1:4].sum(axis=1), 2)
    chance = np.where(np.arange(n) < 20, 0.05, 0.0)
    active_bins = np.where(np.arange(n) < 20, 30, 0)
    core = np.zeros(n, dtype=bool)
    core[[1, 2, 3]] = True
    return windows, core, activations, chance, active_bins


def test_silent_neurons_do_not_dilute_the_correction():
    """Holm over all 200 neurons asks neuron 0 for p < 0.05 / 197 (2.5e-4) and misses it; 180 of them
    could not be members even if present at every activation they can reach (no active bin), so
    the correction runs over the 20 that could: 0.05 / 17 = 2.9e-3, and neuron 0 is a member. The
    background neurons 4-19 stay out, the p-values are the same."""
    windows, core, activations, chance, active_bins = _session()
    before, _, p_before = membership_test(windows, core, activations, chance, 0.05, 0.01)
    member, _, p_value = membership_test(windows, core, activations, chance, 0.05, 0.01, active_bins)
    assert 2.5e-4 < p_value[0] < 0.05 / 17
    assert np.flatnonzero(before).tolist() == [1, 2, 3]  # all neurons counted: neuron 0 missed
    assert np.flatnonzero(member).tolist() == [0, 1, 2, 3]
    np.testing.assert_array_equal(p_value, p_before)
    assert (holm(p_value) >= 0.05)[0]  # what the plain correction over every neuron says

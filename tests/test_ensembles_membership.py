"""The `refined` method's membership test counts only the neurons that could be members (Tarone 1990)."""

from __future__ import annotations

import numpy as np
import pytest

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


def test_a_recruit_never_active_away_from_the_activations_is_tested_against_least_chance():
    """Neuron 20's one active bin lies at an activation and neuron 21's 12 at 12 of them; neither is
    active away from them (chance 0). Against chance 0 one presence is p 0 and neuron 20 joined
    (three strangers with one event each in a 15-member ensemble, noise 0.08, 30 Hz); against one
    event's share of the windows (3 of 600 bins) its p is 1 - (1 - 0.005)^30 = 0.14 and it stays
    out, while neuron 21 (p ~ 1e-19) and the core are members. With sizes, neither draws a size
    null from activity it does not have: neuron 20 keeps the binomial p."""
    windows, core, activations, chance, active_bins = _session()
    peaks = activations.peak
    windows[peaks[0], 20] = True
    windows[peaks[:12], 21] = True
    active_bins[20], active_bins[21] = 1, 12
    loose, _, p_loose = membership_test(windows, core, activations, chance, 0.05, 0.01, active_bins)
    member, _, p_value = membership_test(
        windows, core, activations, chance, 0.05, 0.01, active_bins, least_chance=3 / 600
    )
    assert loose[20] and p_loose[20] == 0.0
    assert not member[20] and p_value[20] == pytest.approx(1 - (1 - 0.005) ** 30)
    assert member[21] and p_value[21] < 1e-15
    assert np.flatnonzero(member).tolist() == [0, 1, 2, 3, 21]
    levels = np.zeros((peaks.size, 200), dtype=np.int64)
    levels[windows[peaks]] = 4
    pmf = np.zeros((200, 33))
    pmf[:, 0], pmf[:, 4] = 1 - chance, chance
    sized, _, p_sized = membership_test(
        windows, core, activations, chance, 0.05, 0.01, active_bins, (levels, pmf), least_chance=3 / 600
    )
    assert not sized[20] and p_sized[20] == pytest.approx(p_value[20])
    # Neuron 21 has no events away from the activations for a size null: its binomial p stands.
    assert sized[21] and p_sized[21] == pytest.approx(p_value[21], rel=1e-6, abs=0)
    # A neuron with activity away from them, however little (chance 0.001, below one event's
    # share), is tested against its own chance: the same p-values as without least_chance.
    chance[22] = 0.001
    windows[peaks[:2], 22] = True
    active_bins[22] = 3
    _, _, p_own = membership_test(windows, core, activations, chance, 0.05, 0.01, active_bins)
    _, _, p_least = membership_test(
        windows, core, activations, chance, 0.05, 0.01, active_bins, least_chance=3 / 600
    )
    assert p_least[22] == p_own[22] and p_least[0] == p_own[0]
    # A core neuron was seeded, not recruited: never active away from the activations, it keeps
    # its own chance (its activations are counted without it).
    chance[1] = 0.0
    _, _, p_core = membership_test(windows, core, activations, chance, 0.05, 0.01, active_bins)
    _, _, p_core_least = membership_test(
        windows, core, activations, chance, 0.05, 0.01, active_bins, least_chance=3 / 600
    )
    assert p_core_least[1] == p_core[1]


def test_refinement_leaves_out_a_neuron_whose_one_event_lies_at_an_activation():
    """Four neurons coactive every 40th bin (30 times), each also active once between; neuron 4's
    only event lies at the first activation. The refined set is the four: neuron 4, never active
    away from the activations, is tested against half an event's share of the windows (Jeffreys'
    0.5 events: 1.5 / 1200 bins, p 0.04 before the correction), not chance 0 (p 0)."""
    from calcium.population.coactivity import ActiveBins
    from calcium.population.components import window_matrix
    from calcium.population.member_sets import AssemblySettings, refine_members

    n_bins, n = 1200, 30
    active = np.zeros((n_bins, n), dtype=bool)
    peaks = np.arange(20, n_bins, 40)
    active[peaks[:, None], [0, 1, 2, 3]] = True
    active[peaks[:4] + 20, [0, 1, 2, 3]] = True
    active[peaks[0], 4] = True
    rng = np.random.default_rng(3)
    for neuron in range(5, n):
        active[rng.choice(n_bins, 40, replace=False), neuron] = True
    neurons, bins = np.nonzero(active.T)
    raster = ActiveBins(neurons, bins, n, n_bins)
    windows = window_matrix(raster, 1)
    seed = np.zeros(n, dtype=bool)
    seed[[0, 1, 2, 3]] = True
    found = refine_members(raster, windows, seed, seed / 2.0, AssemblySettings())
    assert found is not None and found.activations.peak.size == 30
    assert np.flatnonzero(found.member).tolist() == [0, 1, 2, 3]
    assert found.p_value[4] == pytest.approx(1 - (1 - 1.5 / n_bins) ** 30)


def test_size_tail_is_the_binomial_tail_when_every_event_has_one_size():
    """Every event one size (level 4): the sum of levels is 4 x the count, and the test of sizes is
    the binomial test of presence exactly."""
    from scipy.special import bdtrc

    from calcium.population.event_sizes import TOP, size_tail

    chance = np.array([0.05, 0.15, 0.3])
    pmf = np.zeros((3, TOP + 1))
    pmf[:, 0], pmf[:, 4] = 1 - chance, chance
    for count in (1, 5, 9, 14):
        expected = bdtrc(count - 1, 30, chance)
        np.testing.assert_allclose(
            size_tail(pmf, np.full(3, 30), np.full(3, 4 * count)), expected, rtol=1e-6, atol=1e-13
        )


def test_size_tail_is_the_convolution_of_the_draws():
    """Three draws from {0: 0.5, 1: 0.3, 3: 0.2}: P(sum >= s) by enumerating the 27 outcomes."""
    import itertools

    from calcium.population.event_sizes import size_tail

    pmf = np.array([0.5, 0.3, 0.0, 0.2])
    outcomes = [(sum(c), np.prod(pmf[list(c)])) for c in itertools.product([0, 1, 3], repeat=3)]
    for s in range(0, 11):
        expected = sum(p for total, p in outcomes if total >= s) if s > 0 else 1.0
        assert size_tail(pmf[None, :], np.array([3]), np.array([s]))[0] == pytest.approx(expected, abs=1e-12)


def test_members_firing_larger_at_the_activations_pass_where_presence_alone_does_not():
    """Neurons 4 and 5 are present at 9 of the 30 activations (chance 0.15: binomial p 0.02, above
    Holm's 0.05 / 17 over the 20 neurons that could be members; the core's chance stays 0.05).
    Neuron 4's events there are twice its usual size, neuron 5's its usual size: by their sizes
    neuron 4 is a member (p < 1e-5) and neuron 5 keeps the binomial p-value. Without sizes neither
    is a member."""
    windows, core, activations, chance, active_bins = _session()
    peaks = activations.peak
    windows[:, 4:6] = False
    windows[peaks[:9], 4] = windows[peaks[:9], 5] = True
    chance[4:20] = 0.15
    levels = np.zeros((peaks.size, 200), dtype=np.int64)
    levels[windows[peaks]] = 4
    levels[:9, 4] = 8
    pmf = np.zeros((200, 33))
    pmf[:, 0], pmf[:, 4] = 1 - chance, chance
    plain, _, p_plain = membership_test(windows, core, activations, chance, 0.05, 0.01, active_bins)
    member, _, p_value = membership_test(
        windows, core, activations, chance, 0.05, 0.01, active_bins, (levels, pmf)
    )
    assert not plain[4] and not plain[5]
    assert 0.01 < p_plain[4] == p_plain[5] < 0.05
    assert member[4] and not member[5] and p_value[4] < 1e-5
    assert p_value[5] == pytest.approx(p_plain[5], rel=1e-9)
    assert member[[1, 2, 3]].all()


def test_the_test_of_sizes_holds_its_level_when_sizes_ignore_the_activations():
    """2000 neurons whose events (rate 0.1 per window, log-normal sizes) fall anywhere, 30
    activations: the p-values of the test of sizes reach 0.01 in at most ~1 % of the neurons."""
    from calcium.population.event_sizes import TOP, size_tail

    rng = np.random.default_rng(1)
    n_neurons, n_bins = 2000, 3000
    active = rng.random((n_bins, n_neurons)) < 0.1
    size = np.clip(np.rint(rng.lognormal(0.0, 0.6, (n_bins, n_neurons)) / 0.25), 1, TOP).astype(np.int64)
    levels = np.where(active, size, 0)
    peaks = rng.choice(n_bins, 30, replace=False)
    away = np.setdiff1d(np.arange(n_bins), peaks)
    keys = (np.arange(n_neurons)[None, :] * (TOP + 1) + levels[away]).ravel()
    pmf = np.bincount(keys, minlength=n_neurons * (TOP + 1)).reshape(n_neurons, TOP + 1) / away.size
    p = size_tail(pmf, np.full(n_neurons, 30), levels[peaks].sum(axis=0))
    assert (p <= 0.01).mean() <= 0.015
    assert (p <= 0.2).mean() > 0.1  # not a test that never rejects


def test_event_sizes_are_each_pairs_largest_event_over_the_neurons_median():
    """Neuron 0's events 1, 2, 2 and 4 (median 2): pairs (0, bin 3) holding 1 and 4, (0, bin 5)
    holding 2 and 2: sizes 2 and 1; neuron 1's one event is its median (1); an event in no pair
    of the raster (a bin left out) does not count."""
    from calcium.population.coactivity import ActiveBins
    from calcium.population.event_sizes import with_event_sizes

    raster = ActiveBins(np.array([0, 0, 1]), np.array([3, 5, 2]), 2, 8)
    sized = with_event_sizes(
        raster, np.array([0, 0, 0, 0, 1, 1]), np.array([3, 3, 5, 5, 2, 7]), np.array([1.0, 4, 2, 2, 3, 30])
    )
    np.testing.assert_allclose(sized.sizes, [2.0, 1.0, 1.0])
    assert with_event_sizes(raster, np.array([0]), np.array([3]), np.array([np.nan])).sizes is None


def test_activations_where_a_neurons_other_assembly_is_active_do_not_count_for_it():
    """Neuron 4 is present at 9 of the 30 activations, at each because its own assembly is active
    there: with those activations explained it has none left to count (p 1, not a member); neuron
    0 (present at 7, nothing explained) keeps its p-value."""
    windows, core, activations, chance, active_bins = _session()
    windows[:, 4] = False
    windows[activations.peak[:9], 4] = True
    explained = np.zeros((activations.peak.size, 200), dtype=bool)
    explained[:9, 4] = True
    plain, _, p_plain = membership_test(windows, core, activations, chance, 0.05, 0.01, active_bins)
    member, _, p_value = membership_test(
        windows, core, activations, chance, 0.05, 0.01, active_bins, explained=explained
    )
    assert plain[4] and not member[4] and p_value[4] == 1.0
    assert member[0] and p_value[0] == p_plain[0]


def test_another_assembly_is_active_where_half_its_own_members_are():
    """Assembly B = neurons 1, 2 (shared with this core) and 5-8. At peak 0, 5-8 are present (B is
    active: its members count nothing there); at peak 1 only the shared 1, 2 (B's activations
    can hold this one's: not B)."""
    from calcium.population.coactivity import ActiveBins
    from calcium.population.member_sets import _WindowChance

    windows = np.zeros((40, 10), dtype=bool)
    windows[10, [1, 2, 3, 5, 6, 7, 8]] = True
    windows[20, [1, 2, 3]] = True
    raster = ActiveBins(*np.nonzero(windows.T), 10, 40)
    other = Activations(np.array([10]), np.array([10]), np.array([10]), np.array([6]), 3)
    b = np.isin(np.arange(10), [1, 2, 5, 6, 7, 8])
    assembly = type("Other", (), {"member": b, "activations": other})()
    core = np.isin(np.arange(10), [1, 2, 3])
    explained = _WindowChance(raster, windows, 1).explained(np.array([10, 20]), [assembly], core)
    assert explained[0].tolist() == b.tolist()
    assert not explained[1].any()


def test_settling_with_the_others_known_weighs_event_sizes():
    """A core of 6 neurons coactive at 30 activations (every 13th bin of 400); neuron 10 fires
    there 9 times with events twice its usual size and 12 times elsewhere; 89 other neurons fire
    20 times each at random. By presence (chance ~0.15, p ~0.03) neuron 10 stays out; refined with the
    other assemblies known (none here) its sizes make it a member, and no stranger joins."""
    from calcium.population.coactivity import ActiveBins
    from calcium.population.components import window_matrix
    from calcium.population.event_sizes import with_event_sizes
    from calcium.population.member_sets import AssemblySettings, refine_members

    rng = np.random.default_rng(3)
    n_bins, n = 400, 100
    peaks = np.arange(6, 396, 13)
    neurons, bins, sizes = [], [], []
    for i in range(6):
        neurons += [i] * peaks.size
        bins += peaks.tolist()
        sizes += [1.0] * peaks.size
    away = np.setdiff1d(np.arange(n_bins), (peaks[:, None] + np.arange(-2, 3)).ravel())
    for i in range(10, n):
        chosen = rng.choice(away, 12, replace=False) if i == 10 else rng.choice(n_bins, 20, replace=False)
        neurons += [i] * chosen.size
        bins += chosen.tolist()
        sizes += [1.0] * chosen.size
    neurons += [10] * 9
    bins += peaks[::3][:9].tolist()
    sizes += [2.0] * 9
    order = np.lexsort((bins, neurons))
    neurons, bins, sizes = np.array(neurons)[order], np.array(bins)[order], np.array(sizes)[order]
    keys = np.unique(neurons * n_bins + bins)
    raster = ActiveBins(keys // n_bins, keys % n_bins, n, n_bins)
    raster = with_event_sizes(raster, neurons, bins, sizes)
    windows = window_matrix(raster, 1)
    seed = np.isin(np.arange(n), range(6))
    plain = refine_members(raster, windows, seed, seed / np.sqrt(6), AssemblySettings())
    sized = refine_members(raster, windows, seed, seed / np.sqrt(6), AssemblySettings(), elsewhere=[])
    assert np.flatnonzero(plain.member).tolist() == [0, 1, 2, 3, 4, 5]
    assert np.flatnonzero(sized.member).tolist() == [0, 1, 2, 3, 4, 5, 10]

"""Two overlapping small ensembles refined into one set are split (calcium.population.overlap_split)."""

from __future__ import annotations

import numpy as np

from calcium.population.activations import jaccard_index
from calcium.population.coactivity import ActiveBins
from calcium.population.components import window_matrix
from calcium.population.member_sets import AssemblySettings, refine_members
from calcium.population.overlap_split import split_overlaps

N_NEURONS = 120


def _raster(seed: int, groups: list[list[int]], participation: float = 0.6) -> ActiveBins:
    """120 neurons × 1800 bins, background 3 % of bins; each group fires in `participation` of
    30 activations, each member within ± 1 bin."""
    rng = np.random.default_rng(seed)
    active = rng.random((N_NEURONS, 1800)) < 0.03
    for group in groups:
        for onset in rng.choice(np.arange(5, 1795), 30, replace=False):
            fires = np.asarray(group)[rng.random(len(group)) < participation]
            active[fires, onset + rng.integers(-1, 2, fires.size)] = True
    return ActiveBins(*np.nonzero(active), *active.shape)


def _refined(raster: ActiveBins, windows: np.ndarray, neurons: list[int]):
    seed = np.zeros(N_NEURONS, dtype=bool)
    seed[neurons] = True
    return refine_members(raster, windows, seed, seed / np.sqrt(seed.sum()), AssemblySettings())


def _same(a, b) -> bool:
    return jaccard_index(a.member, b.member) >= 0.5


def test_two_five_member_ensembles_sharing_a_neuron_refined_as_one_set_are_split():
    """Ensembles {0..4} and {0, 5..8} (participation 0.6): refined from their union, the set keeps
    one ensemble and two members of the other (its activations are both's). Its members cluster
    by their coincidences into the two sides, each side seeds an assembly: both are found whole,
    the shared neuron in both."""
    first, second = [0, 1, 2, 3, 4], [0, 5, 6, 7, 8]
    raster = _raster(0, [first, second])
    windows = window_matrix(raster, 1)
    union = _refined(raster, windows, first + second)
    members = set(np.flatnonzero(union.member).tolist())
    assert members - set(first) and members - set(second), members  # one set holding both
    split, n_tried = split_overlaps([union], raster, windows, AssemblySettings(), _same)
    found = sorted(sorted(np.flatnonzero(a.member).tolist()) for a in split)
    assert found == [first, second] and n_tried == 2, found


def test_two_20_member_ensembles_sharing_seven_neurons_refined_as_one_set_are_split():
    """Ensembles {0..19} and {0..6, 20..32} (participation 0.9): refined from their union, the set
    holds both (the seven shared neurons alone reach its threshold at either one's activations).
    Its members cluster into one side's own neurons and the other's with the shared ones; grown
    from either side, each grows back into the union. Each side defined by its own neurons
    without the other's, then without the shared ones it finds, both are found whole."""
    first, second = list(range(20)), list(range(7)) + list(range(20, 33))
    for seed in (0, 1):
        raster = _raster(seed, [first, second], participation=0.9)
        windows = window_matrix(raster, 1)
        union = _refined(raster, windows, first + second)
        assert set(np.flatnonzero(union.member).tolist()) == set(first + second)
        split, n_tried = split_overlaps([union], raster, windows, AssemblySettings(), _same)
        found = sorted(sorted(np.flatnonzero(a.member).tolist()) for a in split)
        assert found == [first, sorted(second)], found
        assert n_tried > 2  # the grown sides and the sides without each other: all counted


def test_one_large_ensemble_forced_apart_returns_whole():
    """A 20-member ensemble forced through the split (any separation): each side, without the
    other side's neurons in its core, still has the whole ensemble's activations, so both parts
    are the ensemble and it stays one (raster seed 2: clusters of 2 and 18, both ways tried)."""
    group = list(range(40, 60))
    raster = _raster(2, [group], participation=0.9)
    windows = window_matrix(raster, 1)
    assembly = _refined(raster, windows, group)
    assert set(np.flatnonzero(assembly.member).tolist()) == set(group)
    forced, n_forced = split_overlaps(
        [assembly], raster, windows, AssemblySettings(), _same, max_separation=np.inf
    )
    assert len(forced) == 1 and set(np.flatnonzero(forced[0].member).tolist()) == set(group)
    assert n_forced == 4


def test_a_chance_triple_of_an_ensembles_weaker_members_is_not_split_off():
    """One ensemble, 5 members at participation 0.95 and 20 at 0.4 (raster seed 2), forced through
    the split: refined without the other side, three of its weaker members (5 activations) made a
    part of their own, two or all three of them inside the other part (a review's case). A part
    sharing more than half its members with the other is not a second assembly: it stays one."""
    rng = np.random.default_rng(2)
    active = rng.random((N_NEURONS, 1800)) < 0.03
    strong, weak = np.arange(40, 45), np.arange(45, 65)
    for onset in rng.choice(np.arange(5, 1795), 30, replace=False):
        for group, participation in ((strong, 0.95), (weak, 0.4)):
            fires = group[rng.random(group.size) < participation]
            active[fires, onset + rng.integers(-1, 2, fires.size)] = True
    raster = ActiveBins(*np.nonzero(active), *active.shape)
    windows = window_matrix(raster, 1)
    assembly = _refined(raster, windows, list(range(40, 65)))
    forced, n_forced = split_overlaps(
        [assembly], raster, windows, AssemblySettings(), _same, max_separation=np.inf
    )
    assert len(forced) == 1 and np.array_equal(forced[0].member, assembly.member) and n_forced > 0


def test_one_ensemble_is_not_split():
    """A 9-member ensemble: its two clusters of members coincide with each other about as much as
    within each (no split is tried), and, forced, each cluster refined on its own returns to the
    whole (raster seed 7: clusters of 5 and 4). Where one cluster is a single member (seed 1: 8
    and 1) nothing is tried even when forced: no second assembly to seed, and nothing counted in
    the test's correction (a 30-member ensemble with one stray member was counted before)."""
    group = list(range(10, 19))
    for seed, forced_tries in ((7, True), (1, False)):
        raster = _raster(seed, [group])
        windows = window_matrix(raster, 1)
        assembly = _refined(raster, windows, group)
        assert set(np.flatnonzero(assembly.member).tolist()) == set(group)
        split, n_tried = split_overlaps([assembly], raster, windows, AssemblySettings(), _same)
        assert len(split) == 1 and np.array_equal(split[0].member, assembly.member) and n_tried == 0
        forced, n_forced = split_overlaps(
            [assembly], raster, windows, AssemblySettings(), _same, max_separation=np.inf
        )
        assert len(forced) == 1 and np.array_equal(forced[0].member, assembly.member)
        assert (n_forced > 0) == forced_tries


def test_late_partner_of_a_found_ensemble_keeps_its_members_when_settled():
    """Ensembles {0..4} and {0, 5..8} (participation 0.6), the first found already: the second,
    refined whole from a late seed, is settled with the first's members out of its core. Without
    the shared neuron its core of four loses one (three neurons cannot hold the fourth); it then
    kept three members and failed the late seeds' core of four. Like `_settle_all`, a candidate
    that would lose more than a fifth of its members stays as it was: it is added whole."""
    from calcium.population.member_sets import add_if_new, settle_members

    first, second = [0, 1, 2, 3, 4], [0, 5, 6, 7, 8]
    raster = _raster(2, [first, second])
    windows = window_matrix(raster, 1)
    found_first, late = _refined(raster, windows, first), _refined(raster, windows, second)
    assert np.flatnonzero(found_first.member).tolist() == first
    assert np.flatnonzero(late.member).tolist() == second
    collapsed = settle_members(raster, windows, late, AssemblySettings(), found_first.member)
    assert collapsed.member.sum() <= 3  # what settling alone leaves
    found = [found_first]
    add_if_new(found, late, raster, windows, AssemblySettings(), _same, min_core=4)
    assert [np.flatnonzero(a.member).tolist() for a in found] == [first, second]

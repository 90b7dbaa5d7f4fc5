"""The `refined` method's dense-set seeds (`calcium.population.dense_seeds`): a weak assembly whose
pairs each barely stand out is found from its pairs together, and the search, calibrated against
circular-shift surrogates of itself, finds nothing among independent neurons."""

from __future__ import annotations

import numpy as np
from test_ensembles_weak_seeds import _found, _grid_session

from calcium.population.coactivity import ActiveBins, window_activity
from calcium.population.components import window_matrix
from calcium.population.dense_seeds import dense_set_seeds
from calcium.population.membership import match_ensembles


def _raster(active: np.ndarray) -> ActiveBins:
    neurons, bins = np.nonzero(active.T)
    return ActiveBins(neurons, bins, active.shape[1], active.shape[0])


def _weak_assembly(seed: int, planted: bool, n_bins=1800, n=120, jitter=2):
    """Binned activity (bins, neurons): every neuron active in ~2.5 % of bins at random; with
    `planted`, neurons 0-9 also take part in 60 % of 30 activations, each within ± jitter bins."""
    rng = np.random.default_rng(seed)
    active = rng.random((n_bins, n)) < 0.025
    if planted:
        for onset in rng.choice(np.arange(10, n_bins - 10), 30, replace=False):
            members = np.flatnonzero(rng.random(10) < 0.6)
            active[onset + rng.integers(-jitter, jitter + 1, members.size), members] = True
    return active


def _seeds(active, jitter=2):
    raster = _raster(active)
    windows = window_matrix(raster, jitter)
    return dense_set_seeds(raster, windows, window_activity(raster, jitter), seed=0)


def test_a_weak_ten_member_assembly_is_seeded_from_its_pairs_together():
    """Ten members at participation 0.6 among 120 neurons, each pair coinciding ~11 times where
    chance gives ~6: a seed holds most of them; the same input gives the same seeds."""
    active = _weak_assembly(1, planted=True)
    seeds = _seeds(active)
    assert seeds, "no seed"
    assert np.flatnonzero(seeds[0][:10]).size >= 4 and seeds[0][:10].sum() >= 0.6 * seeds[0].sum()
    again = _seeds(active)
    assert len(again) == len(seeds) and all((a == b).all() for a, b in zip(again, seeds, strict=True))


def test_independent_neurons_give_no_dense_seed():
    """The search's own surrogates bound what chance gives: no seed in sessions of independent
    neurons (the same sizes and rates as above, five sessions)."""
    for seed in range(2, 7):
        assert _seeds(_weak_assembly(seed, planted=False)) == []


def test_a_ten_member_ensemble_at_1_hz_is_found_by_its_dense_set():
    """Grid session 15 of seed 49 (tuning; size 10, participation 0.6, noise 0.1 of F0, 1 Hz): its
    first ensemble stands below the eigenvalue bounds and no triple holds it; before the dense-set
    seeds its best match was a piece (Jaccard 0.23)."""
    events, rec, stimuli, planted = _grid_session(49015, size=10, participation=0.6, noise=0.1, fs=1.0)
    found = _found(events, rec, stimuli)
    assert match_ensembles(found, planted)[0] >= 0.9


def test_the_search_is_skipped_beyond_max_neurons_and_the_log_says_so(monkeypatch, caplog):
    """Its cost grows with neurons squared: above MAX_NEURONS no seed, and one line in the log."""
    import logging

    import calcium.population.dense_seeds as dense_seeds

    active = _weak_assembly(1, planted=True)
    monkeypatch.setattr(dense_seeds, "MAX_NEURONS", 100)
    with caplog.at_level(logging.INFO, logger="calcium"):
        assert _seeds(active) == []
    assert "dense-set seeds skipped: 120 neurons (more than 100" in caplog.text

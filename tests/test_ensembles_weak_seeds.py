"""Sessions of the planted-ensemble grid (`benchmarks/ensemble_grid.py`) that the `refined` method's
late steps recover: weak coincidence seeds (`calcium.population.coincidence_seeds`, 3.: a pair whose
statistic passes but whose triple does not hold together from its other sides seeds a candidate kept
only with a core of four and five members) and the split of two overlapping ensembles found as one
set (`calcium.population.overlap_split`)."""

from __future__ import annotations

import numpy as np

from calcium.population.coactivity import window_activity
from calcium.population.coincidence_seeds import triple_seeds
from calcium.population.components import stimulus_bins, window_matrix, without_bins
from calcium.population.ensemble_step import EnsembleSettings, ensemble_analysis
from calcium.population.events import detect_events
from calcium.population.membership import match_ensembles
from calcium.population.steps import Binning, NullSettings, Recording, coactivity_analysis, session_raster
from calcium.signal.detrend import detrend
from calcium.signal.dff import baseline_f0, delta_f_over_f
from calcium.synthetic import SessionDesign, neuron_rngs, plan_session, simulate_fluorescence, simulate_spikes

# The grid's session 4 of seed 30 (tuning): size 5, participation 0.6, noise 0.1 of F0, 5 Hz; its
# third ensemble is found by a weak seed only.
SEED, PLANTED = 30004, {86, 105, 153, 159, 161}


def _grid_session(seed, size=5, participation=0.6, noise=0.1, fs=5.0):
    """Events, recording, stimulus table and planted member sets of a grid session (as
    `benchmarks/ensemble_grid.py`: ensembles 0 and 1 share a third of their members)."""
    design = SessionDesign(
        n_neurons=200,
        n_frames=int(round(900 * fs)),
        frame_rate_hz=fs,
        background_rate_hz=0.05,
        noise_sd_dff=noise,
        n_ensembles=3,
        ensemble_size=size,
        ensemble_activations=30,
        ensemble_participation=participation,
        stimuli=("a", "b"),
        stimulus_repeats=8,
        stimulus_duration_s=2.0,
        neurons_per_stimulus=8,
    )
    plan = plan_session(design, np.random.default_rng([seed, 0]))
    shared = max(1, size // 3)
    plan.ensemble_members[1] = np.sort(
        np.concatenate([plan.ensemble_members[0][:shared], plan.ensemble_members[1][shared:]])
    )
    neurons = np.arange(design.n_neurons)
    rngs = neuron_rngs(seed, neurons)
    fluorescence, _ = simulate_fluorescence(design, simulate_spikes(design, plan, neurons, rngs), rngs)
    dff = delta_f_over_f(fluorescence, baseline_f0(fluorescence))
    events, _ = detect_events(detrend(dff, fs), fs, k_sigma=5.0, min_amplitude_dff=0.1)
    planted = [set(m.tolist()) for m in plan.ensemble_members]
    return events, Recording(200, design.n_frames, fs), plan.stimulus_table, planted


def _excluded(stimuli, n_bins):
    onsets = stimuli.onset_s.to_numpy(dtype=float)
    return stimulus_bins(onsets, onsets + stimuli.duration_s.to_numpy(dtype=float), n_bins, 0.5)


def _found(events, rec, stimuli):
    binning = Binning()
    co = coactivity_analysis(events, rec, binning, NullSettings())
    result = ensemble_analysis(
        events,
        co.ensemble_events,
        co.event_neurons,
        2,
        rec,
        binning,
        EnsembleSettings(),
        _excluded(stimuli, len(co.bins)),
    )
    return [set(int(n) for n in row.split()) for row in result.ensembles.members.fillna("")]


def test_a_weak_seed_finds_the_five_member_ensemble_whose_triples_fall_apart():
    """Every pair of the planted ensemble fails a side of its triple (one member's events partly
    missed at noise 0.1): no seed holds it, a weak seed does, and the default finds it whole."""
    events, rec, stimuli, planted_sets = _grid_session(SEED)
    assert planted_sets[2] == PLANTED
    binning = Binning()
    n_bins = len(coactivity_analysis(events, rec, binning, NullSettings()).bins)
    raster = without_bins(session_raster(events, rec, binning), _excluded(stimuli, n_bins))
    windows = window_matrix(raster, 1)
    weak: list[np.ndarray] = []
    seeds = triple_seeds(raster, windows, window_activity(raster, 1), 1, weak=weak)
    planted = np.isin(np.arange(200), sorted(PLANTED))
    assert all((s & planted).sum() < 4 for s in seeds)
    assert any((s & planted).sum() >= 4 for s in weak), [np.flatnonzero(s) for s in weak]
    found = _found(events, rec, stimuli)
    assert match_ensembles(found, [PLANTED])[0] == 1.0, found


def test_two_overlapping_10_member_ensembles_found_as_one_set_of_17_are_split():
    """Grid seed 31, session 18 (diagnosis): two 10-member ensembles sharing three neurons at
    participation 0.9 and 1 Hz refine into one set of 17, beyond the former 16-member bound of the
    split; split, each is found whole."""
    events, rec, stimuli, planted = _grid_session(31018, size=10, participation=0.9, noise=0.03, fs=1.0)
    found = _found(events, rec, stimuli)
    assert np.all(match_ensembles(found, planted) == 1.0), found


def test_a_dense_set_seed_refined_to_four_members_is_kept():
    """Grid seed 61, session 1 (diagnosis): 5 members at participation 0.6, noise 0.03, 5 Hz. The
    dense-set search seeds the third ensemble whole; refined, its fifth member fails the
    membership test, and the other seeds' rule of five members dropped it (J 0). Its search is
    calibrated as a whole, so four members, all in the core, are kept: J 0.8."""
    events, rec, stimuli, planted = _grid_session(61001, size=5, participation=0.6, noise=0.03, fs=5.0)
    assert planted[2] == {8, 101, 107, 124, 128}
    found = _found(events, rec, stimuli)
    assert {8, 107, 124, 128} in found, found
    assert np.all(match_ensembles(found, planted) >= 0.8), found

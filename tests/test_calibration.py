"""Calibration of the population and stimulus statistics across frame rates and noise (issue 10).

Library level, seeded, fast: sessions from the project's generator (calcium.synthetic) go through
what a user's data goes through (ΔF/F, detrending where the generator adds drift, the event
detector), then the coactivity null, ensembles and the stimulus regression.
"""

from __future__ import annotations

import numpy as np
import pytest

from calcium.input.tables import parse_stimulus_table
from calcium.population.coactivity import (
    active_bins,
    coactivity_statistic,
    contributions,
    event_frames,
    group_ensemble_events,
    participation_chance,
    significant_bins,
    significant_without_each,
    window_coactivity,
    window_frames,
)
from calcium.population.ensembles import cluster_ensemble_events
from calcium.population.events import detect_events
from calcium.population.features import population_coupling
from calcium.population.membership import find_members, match_ensembles
from calcium.population.null import circular_shift_null, null_thresholds
from calcium.signal.detrend import detrend
from calcium.signal.dff import baseline_f0, delta_f_over_f
from calcium.stimulus.regression import fit_regressors, response_types
from calcium.stimulus.regressors import stimulus_regressors
from calcium.synthetic import SessionDesign, simulate_session_arrays

# The workflow's defaults (config.yaml).
EVENTS = dict(k_sigma=5.0, min_amplitude_dff=0.1)
PERCENTILE, MIN_ACTIVE, JITTER_BINS = 99.0, 2, 1


def _events(design: SessionDesign, seed: int, drift: bool = True):
    fluorescence, _, plan = simulate_session_arrays(design, seed)
    dff = delta_f_over_f(fluorescence, baseline_f0(fluorescence))
    traces = detrend(dff, design.frame_rate_hz) if drift else dff
    events, thresholds = detect_events(traces, design.frame_rate_hz, **EVENTS)
    return events, thresholds, plan


def _population(events, design: SessionDesign, bin_s: float, jitter_bins: int = JITTER_BINS, n_shuffles=1000):
    """The coactivity chain of the workflow: null, thresholds, ensemble events, ensembles, members."""
    neurons, frames = event_frames(events)
    fs, n_neurons, n_frames = design.frame_rate_hz, design.n_neurons, design.n_frames
    raster = active_bins(neurons, frames, n_neurons, n_frames, fs, bin_s)
    null = circular_shift_null(
        neurons, frames, n_neurons, n_frames, fs, bin_s, n_shuffles, 0, jitter_bins=jitter_bins
    )
    frames_in = window_frames(raster.frames_per_bin, jitter_bins)
    statistic = coactivity_statistic(raster, jitter_bins)
    thresholds = null_thresholds(null, frames_in, PERCENTILE)
    significant = significant_bins(statistic, thresholds, MIN_ACTIVE, window_coactivity(raster, jitter_bins))
    peaks, _, _ = group_ensemble_events(significant, statistic, jitter_bins)
    matrix = contributions(raster, peaks, jitter_bins)
    result = cluster_ensemble_events(matrix)
    window = window_coactivity(raster, jitter_bins)
    without = significant_without_each(
        statistic[peaks],
        thresholds[peaks],
        window[peaks],
        matrix,
        contributions(raster, peaks, 0),
        n_neurons,
        jitter_bins,
        MIN_ACTIVE,
    )

    def chance_of(labels, n_ensembles):
        return participation_chance(raster, peaks, labels, n_ensembles, jitter_bins)

    result, members, _ = find_members(matrix, result, chance_of, without=without)
    return raster, significant[frames_in > 0], result, members


# --- independent neurons: the null is calibrated at every frame rate -------------------------------


@pytest.fixture(scope="module", params=[1.0, 1.045, 2.0, 4.8, 7.5, 30.0], ids=lambda fs: f"{fs}Hz")
def independent_session(request):
    """150 independent neurons (no ensembles), 1 h, GCaMP6s, each firing at 0.05-0.3 Hz.

    An hour: the fraction of significant bins is a proportion over correlated (overlapping)
    windows, and its sampling SD (measured over the surrogates) is then 0.1-0.2 %.
    """
    fs = request.param
    design = SessionDesign(
        n_neurons=150,
        n_frames=int(round(3600 * fs)),
        frame_rate_hz=fs,
        n_ensembles=0,
        background_rate_hz=0.0,
        drift_dff=0.0,
        bleaching_fraction=0.0,
        noise_sd_dff=0.1,
    )
    rates = np.random.default_rng([7, int(fs * 1000)]).uniform(0.05, 0.3, design.n_neurons)
    events = _independent_events(design, rates, seed=int(fs * 1000))
    return design, events


def _independent_events(design: SessionDesign, rates: np.ndarray, seed: int):
    """Each neuron: Poisson spikes at its own rate through the generator's fluorescence and the detector."""
    from calcium.synthetic import neuron_rngs, simulate_fluorescence

    neurons = np.arange(design.n_neurons)
    rngs = neuron_rngs(seed, neurons)
    spikes = np.stack(
        [
            rng.poisson(rate / design.frame_rate_hz, design.n_frames)
            for rng, rate in zip(rngs, rates, strict=True)
        ]
    )
    fluorescence, _ = simulate_fluorescence(design, spikes.astype(np.int16), rngs)
    dff = delta_f_over_f(fluorescence, baseline_f0(fluorescence))
    events, _ = detect_events(dff, design.frame_rate_hz, **EVENTS)
    return events


@pytest.mark.parametrize("bin_s", [0.5, 1.0])
def test_independent_neurons_give_one_percent_significant_bins_no_ensembles_and_coupling_one(
    independent_session, bin_s
):
    design, events = independent_session
    assert len(events) > 20 * design.n_neurons  # enough events for a fine-grained null
    raster, significant, result, _ = _population(events, design, bin_s)
    assert 0.005 <= significant.mean() <= 0.015, significant.mean()
    assert result.n_ensembles == 0
    coupling = population_coupling(raster).population_coupling
    assert 0.9 <= np.nanmedian(coupling) <= 1.1


# --- planted ensembles: jitter, missing spikes, noise near the event threshold ---------------------


@pytest.mark.parametrize("fs", [4.8, 30.0])
def test_planted_ensembles_are_found_whole_under_jitter_missing_spikes_and_noise(fs):
    """3 ensembles of 15 among 120 neurons, 25 activations in 15 min; each member fires in 75 % of
    them (25 % of member spikes missing), anywhere within ± one bin (0.5 s) of the activation;
    single spikes sit near the event threshold."""
    bin_s = 0.5
    design = SessionDesign(
        n_neurons=120,
        n_frames=int(round(900 * fs)),
        frame_rate_hz=fs,
        n_ensembles=3,
        ensemble_size=15,
        ensemble_activations=25,
        ensemble_participation=0.75,
        ensemble_jitter_s=bin_s,
        noise_sd_dff=0.15,
    )
    events, thresholds, plan = _events(design, seed=3)
    # Noise level: the detection threshold above baseline is about one spike's amplitude (0.6-1.2).
    above = np.median(thresholds.threshold_dff - thresholds.baseline_dff)
    assert 0.6 <= above <= 1.2
    _, _, result, members = _population(events, design, bin_s)
    found = [set(np.flatnonzero(row).tolist()) for row in members.member]
    planted = [set(group.tolist()) for group in plan.ensemble_members]
    assert np.all(match_ensembles(found, planted) >= 0.9), match_ensembles(found, planted)
    # No spurious ensemble: as many as planted, each matching a different planted one.
    assert result.n_ensembles == 3
    best = [max(range(3), key=lambda g: len(f & planted[g]) / len(f | planted[g])) for f in found]
    assert sorted(best) == [0, 1, 2]


# --- stimulus regression: excited and suppressed neurons at 1 and 5 Hz -----------------------------


@pytest.mark.parametrize("fs", [1.0, 5.0])
def test_stimulus_regression_selects_and_types_excited_and_suppressed_neurons(fs):
    """90 neurons, 10 min, 3 stimuli x 8 presentations of 3 s; per stimulus 8 excited neurons
    (2 Hz spiking while it is on) and 6 suppressed ones (2 Hz tonic firing that stops while it is
    on); the rest fire at random. The workflow's defaults: ΔF/F, continuous-time double-exponential
    regressors (GCaMP6s), R² > 0.05, the largest |coefficient| with its sign."""
    design = SessionDesign(
        n_neurons=90,
        n_frames=int(round(600 * fs)),
        frame_rate_hz=fs,
        n_ensembles=0,
        stimuli=("looming", "dimming", "prey"),
        stimulus_repeats=8,
        stimulus_duration_s=3.0,
        neurons_per_stimulus=8,
        suppressed_per_stimulus=6,
    )
    fluorescence, _, plan = simulate_session_arrays(design, seed=5)
    dff = delta_f_over_f(fluorescence, baseline_f0(fluorescence))
    table = parse_stimulus_table(plan.stimulus_table, "simulated", design.n_frames / fs)
    labels, _, regressors = stimulus_regressors(table, design.n_frames, fs, "double_exponential", 1.25, 0.1)
    selected, types = response_types(fit_regressors(dff, regressors), labels, min_r2=0.05)
    truth = {int(n): label for label, group in plan.tuned_neurons.items() for n in group}
    truth.update(
        {int(n): f"suppressed:{label}" for label, group in plan.suppressed_neurons.items() for n in group}
    )
    responsive = np.zeros(design.n_neurons, dtype=bool)
    responsive[list(truth)] = True
    precision = (selected & responsive).sum() / max(selected.sum(), 1)
    recall = (selected & responsive).sum() / responsive.sum()
    assert precision >= 0.95 and recall >= 0.95, (precision, recall)
    correct = np.mean([types[n] == label for n, label in truth.items()])
    assert correct >= 0.95
    assert sum(t.startswith("suppressed:") for t in types) >= 0.95 * 18


# --- ensembles by every method: negative controls at 1, 5 and 30 Hz (issue 21) ---------------------


def _ensembles_of(events, design: SessionDesign, method: str, stimuli=None):
    """The workflow's ensemble stage (population.py) with the defaults and `method`; stimulus
    presentations left out as the rule does (ensembles.exclude_stimuli) when `stimuli` is given."""
    from calcium.population.components import stimulus_bins
    from calcium.population.ensemble_step import EnsembleSettings, ensemble_analysis
    from calcium.population.steps import Binning, NullSettings, Recording, coactivity_analysis

    recording = Recording(design.n_neurons, design.n_frames, design.frame_rate_hz)
    binning, null = Binning(), NullSettings()
    co = coactivity_analysis(events, recording, binning, null)
    excluded = None
    if stimuli is not None:
        onsets = stimuli.onset_s.to_numpy(dtype=float)
        excluded = stimulus_bins(onsets, onsets + stimuli.duration_s.to_numpy(dtype=float), len(co.bins), 0.5)
    return ensemble_analysis(
        events,
        co.ensemble_events,
        co.event_neurons,
        null.min_active,
        recording,
        binning,
        EnsembleSettings(method=method),
        excluded,
    )


@pytest.fixture(scope="module", params=[1.0, 5.0, 30.0], ids=lambda fs: f"{fs}Hz")
def control_sessions(request):
    """Two negative controls of 120 neurons, 10 min: independent neurons (0.02-0.2 Hz each), and
    two groups of 8 neurons driven by their stimulus (2 Hz while it is on, 8 presentations of
    2 s) among background neurons - coactive, but through the stimulus only."""
    fs = request.param
    design = SessionDesign(
        n_neurons=120,
        n_frames=int(round(600 * fs)),
        frame_rate_hz=fs,
        n_ensembles=0,
        background_rate_hz=0.0,
        drift_dff=0.0,
        bleaching_fraction=0.0,
        noise_sd_dff=0.1,
    )
    rates = np.random.default_rng([21, int(fs)]).uniform(0.02, 0.2, design.n_neurons)
    independent = _independent_events(design, rates, seed=21 + int(fs))
    stimulus = SessionDesign(
        n_neurons=120,
        n_frames=int(round(600 * fs)),
        frame_rate_hz=fs,
        n_ensembles=0,
        background_rate_hz=0.05,
        noise_sd_dff=0.1,
        stimuli=("a", "b"),
        stimulus_repeats=8,
        stimulus_duration_s=2.0,
        neurons_per_stimulus=8,
    )
    events, _, plan = _events(stimulus, seed=22 + int(fs))
    return (design, independent), (stimulus, events, plan)


@pytest.mark.parametrize("method", ["refined", "ica", "jaccard"])
def test_negative_controls_give_no_ensembles(control_sessions, method):
    """None from the default (refined) and the seed's method (jaccard). ICA's components above
    the Marchenko-Pastur bound include chance ones in sparse binary data; the circular-shift
    p-value of a member set that was chosen for its correlation does not remove them all (at
    most one is let through here; the grid in docs/methods.md counts them)."""
    (design, independent), (stimulus, events, plan) = control_sessions
    spurious = len(_ensembles_of(independent, design, method).ensembles)
    spurious += len(_ensembles_of(events, stimulus, method, plan.stimulus_table).ensembles)
    assert spurious <= (1 if method == "ica" else 0)


def test_stimulus_driven_groups_are_found_unless_presentations_are_left_out(control_sessions):
    """The control above can fail: with the presentations kept, the stimulus-driven groups are
    (correctly, for what the data alone show) groups that fire together."""
    _, (stimulus, events, plan) = control_sessions
    found = _ensembles_of(events, stimulus, "refined")
    tuned = [set(group.tolist()) for group in plan.tuned_neurons.values()]
    if stimulus.frame_rate_hz >= 5:
        assert len(found.ensembles) >= 1
        members = [set(int(n) for n in row.split()) for row in found.ensembles.members]
        assert match_ensembles(members, tuned).max() >= 0.5


@pytest.mark.parametrize(
    "fs, seed", [(1.0, 5501), (5.0, 77025)], ids=["three neurons at 1 Hz", "four neurons at 5 Hz"]
)
def test_chance_sets_from_eigenvector_seeds_are_not_ensembles(fs, seed):
    """Independent neurons (negative controls of the planted grid's design): a component of the
    windowed activity just above the surrogates' bound (their ~95th percentile) seeded at 1 Hz
    three background neurons coinciding four times, at 5 Hz four coinciding seven times (2.252
    against 2.234), and each set passed the final test (p 0.002: it tests a set as if fixed
    beforehand). A candidate from an eigenvector seed needs a core of four and five members;
    smaller sets are the coincidence seeds', whose test counts every triple tried: nothing is
    reported."""
    design = SessionDesign(
        n_neurons=200,
        n_frames=int(round(900 * fs)),
        frame_rate_hz=fs,
        background_rate_hz=0.05,
        noise_sd_dff=0.1,
        n_ensembles=0,
    )
    events, _, _ = _events(design, seed=seed)
    result = _ensembles_of(events, design, "refined")
    assert result.ensembles.empty, result.ensembles.members.tolist()


@pytest.mark.parametrize("fs", [4.8, 30.0])
def test_default_method_finds_jittered_planted_ensembles_whole(fs):
    """The session of the Jaccard test above (members anywhere within ± one bin, 25 % of their
    spikes missing, noise near the threshold) through the default method (refined)."""
    design = SessionDesign(
        n_neurons=120,
        n_frames=int(round(900 * fs)),
        frame_rate_hz=fs,
        n_ensembles=3,
        ensemble_size=15,
        ensemble_activations=25,
        ensemble_participation=0.75,
        ensemble_jitter_s=0.5,
        noise_sd_dff=0.15,
    )
    events, _, plan = _events(design, seed=3)
    result = _ensembles_of(events, design, "refined")
    found = [set(int(n) for n in row.split()) for row in result.ensembles.members]
    planted = [set(group.tolist()) for group in plan.ensemble_members]
    assert len(found) == 3 and np.all(match_ensembles(found, planted) >= 0.9), found
    assert (result.ensembles.p_value < 0.05).all()

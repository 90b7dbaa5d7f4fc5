"""Unit tests for calcium.synthetic: kernels and seeded sessions with planted truth."""

from __future__ import annotations

import numpy as np
import pytest

from calcium.synthetic import (
    KERNEL_SHAPES,
    SessionDesign,
    calcium_kernel,
    simulate_session,
    simulate_session_arrays,
)

# --- kernels -------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", KERNEL_SHAPES)
def test_peak_normalised_kernel_has_maximum_one(shape):
    kernel = calcium_kernel(shape, 10.0, tau_decay_s=1.0, tau_rise_s=0.1)
    assert kernel.max() == pytest.approx(1.0)
    assert kernel.min() >= 0.0


@pytest.mark.parametrize("shape", KERNEL_SHAPES)
def test_sum_normalised_kernel_sums_to_one(shape):
    kernel = calcium_kernel(shape, 10.0, tau_decay_s=1.0, tau_rise_s=0.1, normalize="sum")
    assert kernel.sum() == pytest.approx(1.0)


def test_kernel_lengths_follow_width_and_defaults():
    fs = 20.0
    assert calcium_kernel("exponential", fs, tau_decay_s=1.5).size == int(round(5 * 1.5 * fs))
    assert calcium_kernel("boxcar", fs, tau_decay_s=0.5).size == int(round(0.5 * fs))
    assert calcium_kernel("triangular", fs, width_s=2.0).size == 40
    np.testing.assert_allclose(calcium_kernel("boxcar", fs, width_s=0.25, normalize="sum"), 1 / 5)


def test_exponential_kernel_decays_with_tau():
    fs, tau = 10.0, 1.2
    kernel = calcium_kernel("exponential", fs, tau_decay_s=tau)
    assert kernel[0] == pytest.approx(1.0)
    np.testing.assert_allclose(kernel, np.exp(-np.arange(kernel.size) / (tau * fs)))


def test_double_exponential_rises_then_decays():
    fs = 30.0
    kernel = calcium_kernel("double_exponential", fs, tau_decay_s=1.0, tau_rise_s=0.1)
    assert kernel[0] == pytest.approx(0.0)
    peak = int(np.argmax(kernel))
    assert peak > 0
    assert np.all(np.diff(kernel[: peak + 1]) > 0)
    assert np.all(np.diff(kernel[peak:]) < 0)
    # Peak time of exp(-t/td) - exp(-t/tr): td tr / (td - tr) ln(td / tr) = 0.256 s.
    t_peak = 1.0 * 0.1 / (1.0 - 0.1) * np.log(1.0 / 0.1)
    assert abs(peak / fs - t_peak) <= 1 / fs


def test_triangular_kernel_is_symmetric():
    kernel = calcium_kernel("triangular", 10.0, width_s=1.1)
    np.testing.assert_allclose(kernel, kernel[::-1])
    assert np.argmax(kernel) == kernel.size // 2


def test_unknown_kernel_shape_or_normalisation_raises():
    with pytest.raises(ValueError, match="unknown kernel shape"):
        calcium_kernel("gaussian", 10.0)
    with pytest.raises(ValueError, match="normalize"):
        calcium_kernel("exponential", 10.0, normalize="area")


# --- sessions ------------------------------------------------------------------------------------


def _design(**changes):
    values = dict(
        n_neurons=30,
        n_frames=2000,
        frame_rate_hz=5.0,
        n_ensembles=2,
        ensemble_size=6,
        ensemble_activations=15,
        stimuli=("grating", "tone"),
        stimulus_repeats=8,
        neurons_per_stimulus=4,
    )
    values.update(changes)
    return SessionDesign(**values)


@pytest.fixture(scope="module")
def session():
    design = _design()
    fluorescence, spikes, plan = simulate_session_arrays(design, seed=42)
    return design, fluorescence, spikes, plan


def test_session_shapes_and_types(session):
    design, fluorescence, spikes, plan = session
    assert fluorescence.shape == spikes.shape == (design.n_neurons, design.n_frames)
    assert fluorescence.dtype == np.float32 and spikes.dtype == np.int16
    assert np.all(spikes >= 0)
    assert np.all(np.isfinite(fluorescence)) and np.all(fluorescence > 0)
    # Every neuron's resting level lies in the planted range (up to drift and bleaching).
    rest = np.median(fluorescence, axis=1)
    assert np.all((rest > 0.6 * design.resting_f[0]) & (rest < 1.3 * design.resting_f[1]))


def test_same_seed_same_session_other_seed_different(session):
    design, fluorescence, spikes, plan = session
    again_f, again_s, again_plan = simulate_session_arrays(design, seed=42)
    np.testing.assert_array_equal(again_f, fluorescence)
    np.testing.assert_array_equal(again_s, spikes)
    for a, b in zip(plan.ensemble_members, again_plan.ensemble_members, strict=True):
        np.testing.assert_array_equal(a, b)
    assert again_plan.stimulus_table.equals(plan.stimulus_table)
    other_f, other_s, other_plan = simulate_session_arrays(design, seed=43)
    assert not np.array_equal(other_f, fluorescence)
    assert not np.array_equal(other_s, spikes)
    assert not other_plan.stimulus_table.equals(plan.stimulus_table)


def _run(generator):
    blocks = []
    while True:
        try:
            blocks.append(next(generator))
        except StopIteration as stop:
            return blocks, stop.value


def test_generator_yields_contiguous_blocks_and_returns_the_plan(session):
    design, fluorescence, spikes, plan = session
    blocks, returned = _run(simulate_session(design, seed=42, neurons_per_block=7))
    assert [first for first, _, _ in blocks] == [0, 7, 14, 21, 28]
    assert [len(f) for _, f, _ in blocks] == [7, 7, 7, 7, 2]
    for a, b in zip(returned.ensemble_members, plan.ensemble_members, strict=True):
        np.testing.assert_array_equal(a, b)


def test_block_size_does_not_change_the_output(session):
    design, fluorescence, spikes, _ = session
    blocks, _ = _run(simulate_session(design, seed=42, neurons_per_block=7))
    np.testing.assert_array_equal(np.concatenate([f for _, f, _ in blocks]), fluorescence)
    np.testing.assert_array_equal(np.concatenate([s for _, _, s in blocks]), spikes)


def test_ensembles_and_tuned_neurons_are_disjoint(session):
    design, _, _, plan = session
    groups = list(plan.ensemble_members) + list(plan.tuned_neurons.values())
    assert [len(g) for g in groups] == [design.ensemble_size] * design.n_ensembles + [
        design.neurons_per_stimulus
    ] * len(design.stimuli)
    everyone = np.concatenate(groups)
    assert len(np.unique(everyone)) == len(everyone)
    assert everyone.min() >= 0 and everyone.max() < design.n_neurons


def _fires_near(spikes, neuron, frame, tolerance=1):
    lo, hi = max(0, frame - tolerance), min(spikes.shape[1], frame + tolerance + 1)
    return spikes[neuron, lo:hi].sum() > 0


def test_ensemble_members_fire_together(session):
    design, _, spikes, plan = session
    fs = design.frame_rate_hz
    outsiders = np.setdiff1d(np.arange(design.n_neurons), np.concatenate(plan.ensemble_members))
    for members, onsets in zip(plan.ensemble_members, plan.ensemble_onsets_s, strict=True):
        assert onsets.size == design.ensemble_activations
        frames = np.round(onsets * fs).astype(int)
        member_fraction = np.array([np.mean([_fires_near(spikes, n, f) for n in members]) for f in frames])
        # With 90 % participation, most members spike within ±1 frame of every onset.
        assert np.mean(member_fraction > 0.5) >= 0.9
        # Neurons outside the ensemble do not (background rate 0.03 Hz).
        outsider_fraction = np.mean([[_fires_near(spikes, n, f) for n in outsiders] for f in frames])
        assert outsider_fraction < 0.1


def test_stimulus_tuned_neurons_fire_more_during_their_stimulus(session):
    design, _, spikes, plan = session
    fs = design.frame_rate_hz
    table = plan.stimulus_table
    assert len(table) == design.stimulus_repeats * len(design.stimuli)
    assert sorted(table.stimulus.unique()) == sorted(design.stimuli)
    assert np.all(np.diff(table.onset_s) > design.stimulus_duration_s)  # no overlap
    for label, tuned in plan.tuned_neurons.items():
        on = np.zeros(design.n_frames, dtype=bool)
        for onset, duration in table.loc[table.stimulus == label, ["onset_s", "duration_s"]].to_numpy():
            on[int(round(onset * fs)) : int(round((onset + duration) * fs))] = True
        rate_on = spikes[tuned][:, on].sum(axis=1) / (on.sum() / fs)
        rate_off = spikes[tuned][:, ~on].sum(axis=1) / ((~on).sum() / fs)
        assert np.all(rate_on > 0.5 * design.stimulus_rate_hz)
        assert np.all(rate_on > 5 * rate_off)
        # Untuned neurons (not in any ensemble either) show no such preference.
        others = np.setdiff1d(
            np.arange(design.n_neurons),
            np.concatenate(list(plan.tuned_neurons.values()) + list(plan.ensemble_members)),
        )
        assert spikes[others][:, on].sum() / (on.sum() / fs) / len(others) < 0.3


def test_fluorescence_follows_the_planted_spikes(session):
    design, fluorescence, spikes, _ = session
    # One frame (0.2 s) after a spike the kernel is near its peak, so F rises by about
    # amplitude_dff (0.6-1.2) relative to rest; drift (±12.5 %) and noise (8 %) are smaller.
    after = np.zeros(spikes.shape, dtype=bool)
    after[:, 1:] = spikes[:, :-1] > 0
    relative = fluorescence / np.median(fluorescence, axis=1, keepdims=True)
    for neuron in np.flatnonzero(after.sum(axis=1) > 3):
        rise = relative[neuron, after[neuron]].mean() - relative[neuron, ~after[neuron]].mean()
        assert rise > 0.3 * design.amplitude_dff[0], neuron


def test_no_stimuli_gives_an_empty_schedule():
    fluorescence, spikes, plan = simulate_session_arrays(_design(stimuli=(), n_frames=500), seed=1)
    assert len(plan.stimulus_table) == 0
    assert list(plan.stimulus_table.columns) == ["stimulus", "onset_s", "duration_s"]
    assert plan.tuned_neurons == {}
    assert fluorescence.shape == (30, 500)

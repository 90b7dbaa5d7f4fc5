"""Stimulus regressors, regression, response types and stimulus-locked responses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.signal import fftconvolve

from calcium.errors import InputError
from calcium.input.tables import parse_stimulus_table
from calcium.signal.detrend import detrend
from calcium.signal.dff import baseline_f0, delta_f_over_f
from calcium.signal.kernels import calcium_kernel, kernel_fwhm_s, ramp_response, step_response
from calcium.stimulus.clustering import cluster_order
from calcium.stimulus.regression import Regression, fit_regressors, response_types, stimulus_responses
from calcium.stimulus.regressors import (
    convolve_regressors,
    integrated_regressor,
    stimulus_boxcars,
    stimulus_regressors,
)
from calcium.synthetic import SessionDesign, simulate_session_arrays

FS = 5.0


def _table(rows, columns=("stimulus", "onset_s", "duration_s")):
    return pd.DataFrame(rows, columns=list(columns))


def test_boxcar_is_the_fraction_of_each_frame_the_stimulus_is_on():
    table = parse_stimulus_table(_table([("a", 1.0, 2.0), ("b", 4.0, 1.0), ("a", 6.1, 0.5)]), "t.csv", 10.0)
    labels, boxcars = stimulus_boxcars(table, 50, FS)
    assert labels == ["a", "b"]
    # Frame k covers [k/5, (k+1)/5) s. a: frames 5-14 fully; 6.1-6.6 s covers half of frame 30
    # ([6.0, 6.2) s) and all of 31 and 32.
    expected_a = np.zeros(50)
    expected_a[5:15] = 1.0
    expected_a[[30, 31, 32]] = [0.5, 1.0, 1.0]
    np.testing.assert_allclose(boxcars[0], expected_a, atol=1e-12)
    expected_b = np.zeros(50)
    expected_b[20:25] = 1.0
    np.testing.assert_allclose(boxcars[1], expected_b, atol=1e-12)


def test_regressor_is_the_hand_computed_causal_convolution():
    table = parse_stimulus_table(_table([("a", 2.0, 1.0), ("a", 9.0, 2.0)]), "t.csv", 20.0)
    _, boxcars = stimulus_boxcars(table, 100, FS)
    kernel = calcium_kernel("double_exponential", FS, 1.25, 0.1)
    regressor = convolve_regressors(boxcars, kernel)[0]
    by_hand = np.zeros(100)
    for t in range(100):
        for lag in range(min(t + 1, kernel.size)):
            by_hand[t] += boxcars[0, t - lag] * kernel[lag]
    np.testing.assert_allclose(regressor, by_hand, atol=1e-10)
    assert regressor[: int(2.0 * FS)].max() == pytest.approx(0.0, abs=1e-12)  # causal


@pytest.mark.parametrize(
    ("rows", "columns", "message"),
    [
        ([("a", 1.0, 2.0, 3)], ("stimulus", "onset_s", "duration_s", "colour"), "unknown column"),
        ([("a", 1.0, -2.0)], ("stimulus", "onset_s", "duration_s"), "line 2"),
        ([("a", 1.0, 2.0), ("b", 50.0, 1.0)], ("stimulus", "onset_s", "duration_s"), "line 3"),
        ([("a", "soon", 2.0)], ("stimulus", "onset_s", "duration_s"), "'soon' is not a finite number"),
        ([("a", 1.0)], ("stimulus", "onset_s"), "offset_s or duration_s"),
        ([("a", 3.0, 2.0)], ("stimulus", "onset_s", "offset_s"), "positive"),
    ],
)
def test_bad_stimulus_tables_name_the_file_and_line(rows, columns, message):
    with pytest.raises(InputError, match=message) as info:
        parse_stimulus_table(_table(rows, columns), "stim.csv", 20.0)
    assert "stim.csv" in str(info.value)


def test_offsets_past_the_end_are_clipped_and_offset_and_duration_agree():
    table = parse_stimulus_table(
        _table([("a", 18.0, 19.0)], ("stimulus", "onset_s", "offset_s")), "t.csv", 18.5
    )
    assert table.offset_s.iat[0] == 18.5 and table.duration_s.iat[0] == pytest.approx(0.5)


@pytest.fixture(scope="module")
def planted_session():
    design = SessionDesign(
        n_neurons=60,
        n_frames=3000,
        frame_rate_hz=FS,
        stimuli=("looming", "dimming", "prey"),
        n_ensembles=1,
        ensemble_size=6,
    )
    fluorescence, _, plan = simulate_session_arrays(design, seed=11)
    dff = delta_f_over_f(fluorescence, baseline_f0(fluorescence))
    return detrend(dff, FS), plan, design


def test_planted_response_types_are_recovered(planted_session):
    traces, plan, design = planted_session
    table = parse_stimulus_table(plan.stimulus_table, "planted", design.n_frames / FS)
    labels, _, regressors = stimulus_regressors(table, design.n_frames, FS, "double_exponential", 1.25, 0.1)
    fit = fit_regressors(traces, regressors)
    selected, types = response_types(fit, labels, min_r2=0.05)
    planted = {int(n): label for label, neurons in plan.tuned_neurons.items() for n in neurons}
    right = np.mean([types[n] == label for n, label in planted.items()])
    assert right >= 0.9
    untuned = np.setdiff1d(np.arange(traces.shape[0]), list(planted))
    assert selected[untuned].mean() <= 0.1
    assert fit.r2.shape == (60,) and fit.coefficients.shape == (60, 3)
    assert np.all((fit.r2 >= 0) & (fit.r2 <= 1))


# --- continuous-time regressors (issue 10, item 3) -------------------------------------------------


def _fine_response(table, duration_s, tau_decay_s=1.25, tau_rise_s=0.1, step_s=1e-3):
    """Reference: unit-area double exponential convolved with the boxcar on a 1 ms grid (numerically)."""
    t = np.arange(0, duration_s, step_s)
    lags = np.arange(0, 20 * tau_decay_s, step_s)
    kernel = np.exp(-lags / tau_decay_s) - np.exp(-lags / tau_rise_s)
    kernel /= kernel.sum() * step_s
    responses = {}
    for label in dict.fromkeys(table.stimulus):
        box = np.zeros(t.size)
        for onset, offset in table.loc[table.stimulus == label, ["onset_s", "offset_s"]].to_numpy():
            box[(t >= onset) & (t < offset)] = 1.0
        responses[label] = fftconvolve(box, kernel)[: t.size] * step_s
    return t, responses


def _frame_average(t, values, frame_rate_hz, n_frames):
    frame = np.floor(t * frame_rate_hz + 1e-9).astype(int)
    inside = frame < n_frames
    return np.bincount(frame[inside], values[inside], n_frames) / np.bincount(
        frame[inside], minlength=n_frames
    )


def test_integrated_regressor_is_the_frame_average_of_the_continuous_response():
    fs, n_frames = 1.0, 60
    table = parse_stimulus_table(_table([("a", 3.4, 2.0), ("a", 20.7, 15.0)]), "t.csv", 60.0)
    regressor = integrated_regressor(table[["onset_s", "offset_s"]].to_numpy(), n_frames, fs)
    t, fine = _fine_response(table, 60.0)
    np.testing.assert_allclose(regressor, _frame_average(t, fine["a"], fs, n_frames), atol=2e-3)
    assert regressor[:3].max() == 0.0  # causal
    assert regressor[3] > 0.05  # rises within the onset frame (3.4 s is inside frame 3)
    assert regressor[34] == pytest.approx(1.0, abs=1e-3)  # plateau of a long stimulus: 1
    # The step response and its integral are exact.
    assert step_response("exponential", np.array([2.0]), 2.0)[0] == pytest.approx(1 - np.exp(-1))
    assert ramp_response("exponential", np.array([2.0]), 2.0)[0] == pytest.approx(2 - 2 * (1 - np.exp(-1)))
    assert step_response("double_exponential", np.array([-1.0, 1e3]))[0] == 0.0
    assert step_response("double_exponential", np.array([1e3]))[0] == pytest.approx(1.0)


@pytest.mark.parametrize("fs", [1.0, 1.045, 5.0])
def test_noiseless_response_at_low_frame_rates_is_fitted_exactly(fs):
    """A noiseless response (frame-averaged, 1 ms simulation) is fitted with R² >= 0.99 at any rate."""
    rng = np.random.default_rng(4)
    duration_s = 400.0
    n_frames = int(duration_s * fs)
    onsets = np.cumsum(rng.uniform(10, 20, 24)) + 3
    rows = [("ab"[i % 2], onset, rng.uniform(1.0, 4.0)) for i, onset in enumerate(onsets)]
    table = parse_stimulus_table(_table(rows), "t.csv", n_frames / fs)
    t, fine = _fine_response(table, n_frames / fs)
    trace = 0.8 * _frame_average(t, fine["a"], fs, n_frames) - 0.3 * _frame_average(
        t, fine["b"], fs, n_frames
    )
    labels, _, regressors = stimulus_regressors(table, n_frames, fs, "double_exponential", 1.25, 0.1)
    fit = fit_regressors(trace[None, :], regressors)
    assert fit.r2[0] >= 0.99
    np.testing.assert_allclose(fit.coefficients[0], [0.8, -0.3], atol=0.01)
    if fs < 2:
        # The discrete recipe (kernel sampled once per frame, 0 at lag 0) lags by a frame at ~1 Hz.
        _, _, sampled = stimulus_regressors(table, n_frames, fs, "double_exponential", 1.25, 0.1, "sampled")
        assert fit_regressors(trace[None, :], sampled).r2[0] < 0.95


def test_response_types_label_suppressed_neurons():
    coefficients = np.array(
        [
            [0.5, 0.1, -0.2],  # excited by a
            [-0.1, -0.9, 0.05],  # suppressed by b (largest magnitude, negative)
            [-0.3, -0.1, -0.2],  # every coefficient negative: suppressed by a
            [0.4, 0.2, 0.1],  # R² too low
        ]
    )
    fit = Regression(np.array([0.3, 0.3, 0.3, 0.04]), coefficients, np.zeros(4))
    selected, types = response_types(fit, ["a", "b", "c"], min_r2=0.05)
    assert selected.tolist() == [True, True, True, False]
    assert types == ["a", "suppressed:b", "suppressed:a", "not stimulus-locked"]
    # The seed's rule: the largest signed coefficient, whatever its sign.
    _, seed_types = response_types(fit, ["a", "b", "c"], min_r2=0.05, rule="largest_coefficient")
    assert seed_types == ["a", "c", "b", "not stimulus-locked"]
    # Selection is strict, as in the seed: R² equal to the threshold is not selected.
    assert not response_types(Regression(np.array([0.05]), np.ones((1, 1)), np.zeros(1)), ["a"], 0.05)[0][0]
    with pytest.raises(ValueError, match="rule"):
        response_types(fit, ["a", "b", "c"], rule="loudest")


def test_kernel_fwhm_matches_the_sampled_kernel():
    fine = calcium_kernel("double_exponential", 1000.0, 1.25, 0.1)
    above = np.flatnonzero(fine >= 0.5)
    assert kernel_fwhm_s("double_exponential", 1.25, 0.1) == pytest.approx(
        (above[-1] - above[0]) / 1000, abs=2e-3
    )
    assert kernel_fwhm_s("exponential", 1.0) == pytest.approx(np.log(2))
    with pytest.raises(ValueError, match="tau_decay_s > tau_rise_s"):
        kernel_fwhm_s("double_exponential", 0.1, 0.2)


def test_r2_of_an_exact_linear_combination_is_one_and_of_a_constant_is_zero():
    rng = np.random.default_rng(0)
    regressors = rng.random((2, 200))
    traces = np.vstack([0.5 + 2 * regressors[0] - regressors[1], np.full(200, 3.0)])
    fit = fit_regressors(traces, regressors)
    assert fit.r2[0] == pytest.approx(1.0)
    np.testing.assert_allclose(fit.coefficients[0], [2, -1], atol=1e-9)
    assert fit.r2[1] == 0.0


def test_stimulus_responses_average_the_window_minus_the_baseline():
    traces = np.zeros((2, 100))
    traces[0, 25:40] = 1.0  # response after the onset at 5 s
    traces[1, :] = 0.5  # constant: no response after baseline subtraction
    table = parse_stimulus_table(_table([("a", 5.0, 1.0)]), "t.csv", 20.0)
    responses = stimulus_responses(traces, table, FS, window_s=(0.0, 3.0), baseline_s=(-2.0, 0.0))
    assert list(responses.columns) == [
        "neuron",
        "stimulus",
        "n_presentations",
        "mean_response_dff",
        "sem_response_dff",
    ]
    assert responses.mean_response_dff.tolist() == pytest.approx([1.0, 0.0])
    assert (responses.n_presentations == 1).all()


def test_cluster_order_puts_correlated_neurons_together():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal(300), rng.standard_normal(300)
    traces = np.vstack(
        [
            a + 0.1 * rng.standard_normal(300) if i % 2 == 0 else b + 0.1 * rng.standard_normal(300)
            for i in range(8)
        ]
        + [np.zeros(300)]
    )
    order = cluster_order(traces)
    assert sorted(order.tolist()) == list(range(9)) and order[-1] == 8  # constant trace last
    groups = (order[:-1] % 2).tolist()
    assert groups in ([0] * 4 + [1] * 4, [1] * 4 + [0] * 4)


def test_stimulus_table_from_a_square_wave_channel():
    time_s = np.arange(0, 20, 0.01)
    values = np.where(((time_s >= 2) & (time_s < 4)) | ((time_s >= 10) & (time_s < 13)), 3.3, 0.0)
    values += np.random.default_rng(0).normal(0, 0.05, values.size)
    values[1500] = 3.3  # a one-sample glitch
    from calcium.stimulus.voltage import stimulus_table_from_channel

    table = stimulus_table_from_channel(time_s, values, label="grating", min_duration_s=0.1)
    assert table.stimulus.tolist() == ["grating", "grating"]
    np.testing.assert_allclose(table.onset_s, [2.0, 10.0], atol=0.011)
    np.testing.assert_allclose(table.duration_s, [2.0, 3.0], atol=0.011)
    # The glitch is a presentation without the minimum duration.
    assert len(stimulus_table_from_channel(time_s, values)) == 3
    # Pulses closer than the merge gap become one presentation (the glitch 2 s later too:
    # merging comes before the duration filter).
    merged = stimulus_table_from_channel(time_s, values, label="grating", min_duration_s=0.1, merge_gap_s=7.0)
    np.testing.assert_allclose(merged[["onset_s", "offset_s"]].to_numpy(), [[2.0, 15.01]], atol=0.011)
    merged = stimulus_table_from_channel(time_s, values, label="grating", min_duration_s=0.1, merge_gap_s=1.0)
    np.testing.assert_allclose(
        merged[["onset_s", "offset_s"]].to_numpy(), [[2.0, 4.0], [10.0, 13.0]], atol=0.011
    )
    # The table is valid input for the stimulus analysis.
    assert len(parse_stimulus_table(table, "derived", 20.0)) == 2


# --- the seed analysis (../shared/seeds/003), reproduced when the config asks for it ----------------


def _seed_analysis(dff, protocol_t, presence, frame_rate, n_frames, tau_s=1.8, r2_threshold=0.05):
    """A direct re-implementation of the seed's steps (its helper functions, in numpy/sklearn)."""
    from sklearn import linear_model, metrics

    time = np.arange(n_frames) / frame_rate  # Experiment.time = arange(steps) * dt
    decay = np.exp(-time / tau_s)
    kernel = decay / np.sum(decay)  # exp_decay_kernel_g6s
    regressors = []
    for on in presence:  # make_reg: 1 at int(t * frame_rate) for every protocol time the stimulus is on
        regressor = np.zeros(n_frames)
        regressor[(protocol_t[on > 0] * frame_rate).astype(int)] = 1
        regressors.append(np.convolve(regressor, kernel)[0:n_frames])  # convolve_regressors
    regs_conv = np.asarray(regressors)
    reg = linear_model.LinearRegression()
    reg.fit(regs_conv.T, dff.T)  # filter_rois
    r2 = metrics.r2_score(dff.T, reg.predict(regs_conv.T), multioutput="raw_values")
    coefs = reg.coef_
    best = np.argmax(coefs, axis=1)  # the coefficient equal to max_correlation_values
    return regs_conv, r2, r2 > r2_threshold, best


def test_seed_stimulus_analysis_is_reproduced_exactly():
    import yaml

    from calcium.stimulus.regressors import REGRESSOR_METHODS

    settings = yaml.safe_load(
        (Path(__file__).resolve().parents[1] / "config" / "seed-stimulus.yaml").read_text()
    )
    stimulus = settings["stimulus"]
    assert stimulus["regressor"] in REGRESSOR_METHODS
    # A small session like the seed's: 1 Hz, 420 s, prey / looming / dimming.
    fs = 1.0
    design = SessionDesign(
        n_neurons=40,
        n_frames=420,
        frame_rate_hz=fs,
        stimuli=("prey", "looming", "dimming"),
        stimulus_repeats=5,
        stimulus_duration_s=4.0,
        neurons_per_stimulus=5,
        n_ensembles=0,
    )
    fluorescence, _, plan = simulate_session_arrays(design, seed=21)
    dff = delta_f_over_f(fluorescence, baseline_f0(fluorescence, percentile=settings["dff"]["percentile"]))
    table = parse_stimulus_table(plan.stimulus_table, "seed", design.n_frames / fs)
    # The seed's protocol file: stimulus presence sampled at 60 Hz.
    protocol_t = np.arange(0, design.n_frames / fs, 1 / 60)
    labels = list(dict.fromkeys(table.stimulus))
    presence = [
        np.any(
            [
                (protocol_t >= a) & (protocol_t < b)
                for a, b in table.loc[table.stimulus == label, ["onset_s", "offset_s"]].to_numpy()
            ],
            axis=0,
        ).astype(float)
        for label in labels
    ]
    seed_regressors, seed_r2, seed_selected, seed_best = _seed_analysis(
        dff, protocol_t, presence, fs, design.n_frames
    )

    _, _, regressors = stimulus_regressors(
        table, design.n_frames, fs, stimulus["kernel"], stimulus["tau_decay_s"], 0.1, stimulus["regressor"]
    )
    np.testing.assert_allclose(regressors, seed_regressors, atol=1e-12)
    fit = fit_regressors(dff, regressors)
    np.testing.assert_allclose(fit.r2, seed_r2, atol=1e-9)
    selected, types = response_types(fit, labels, stimulus["min_r2"], stimulus["response_type"])
    np.testing.assert_array_equal(selected, seed_selected)
    assert 0 < selected.sum() < design.n_neurons
    assert [types[n] for n in np.flatnonzero(selected)] == [labels[b] for b in seed_best[selected]]


# --- sessions cut into trials (docs/trials.md) ---------------------------------------------------


@pytest.mark.parametrize("method", ["integrated", "sampled"])
def test_regressors_of_a_session_with_trials_are_made_within_each_trial(method):
    """Trials [0, 40 s) and [50, 90 s) at 5 Hz (frame 0 at 100 s): a stimulus just before trial 0
    ends rings on in neither the gap nor trial 1; one starting in the gap counts from trial 1's
    start; within each trial the regressors are those of the trial as a recording of its own."""
    table = parse_stimulus_table(
        _table([("a", 136.0, 3.0), ("b", 105.0, 2.0), ("a", 148.0, 4.0), ("b", 170.0, 1.0)]),
        "t.csv",
        90.0,
        100.0,
    )
    bounds = np.array([[0, 200], [250, 450]])
    labels, boxcars, regressors = stimulus_regressors(
        table, 450, FS, "double_exponential", 1.25, 0.1, method, 100.0, trials=bounds
    )
    assert labels == ["a", "b"] and regressors.shape == boxcars.shape == (2, 450)
    assert not regressors[:, 200:250].any() and not boxcars[:, 200:250].any()  # the gap
    _, _, whole = stimulus_regressors(table, 450, FS, "double_exponential", 1.25, 0.1, method, 100.0)
    assert whole[0, 200:210].min() > 0.05  # continuous: the response rings into the gap
    first = table[table.onset_s < 140]
    _, _, alone = stimulus_regressors(first, 200, FS, "double_exponential", 1.25, 0.1, method, 100.0)
    np.testing.assert_allclose(regressors[:, :200], alone, atol=1e-12)
    second = table[table.offset_s > 150].assign(onset_s=lambda t: t.onset_s.clip(lower=150.0))
    _, box, alone = stimulus_regressors(second, 200, FS, "double_exponential", 1.25, 0.1, method, 150.0)
    np.testing.assert_allclose(regressors[:, 250:], alone, atol=1e-12)
    assert (
        boxcars[0, 250] == pytest.approx(1.0) and boxcars[0, 260] == 0.0
    )  # 'a' from 148 s: on at trial 1's start


def test_the_fit_of_a_session_with_trials_leaves_the_gap_frames_out():
    """Neurons driven by a stimulus in two trials with a long gap of zeros between: the fit over
    the trials' frames is the fit of the trials back to back (intercept, coefficients and R²);
    with the gap's zeros the intercept, coefficient and R² of a neuron with a baseline are off."""
    from calcium.stimulus.regression import regression_tables

    rng = np.random.default_rng(2)
    bounds = np.array([[0, 300], [600, 900]])
    table = _table([("a", t, 2.0) for t in (10, 30, 45, 130, 150, 170)])
    table["offset_s"] = table.onset_s + table.duration_s
    labels, _, regressors = stimulus_regressors(table, 900, FS, trials=bounds)
    frames = np.r_[0:300, 600:900]
    traces = np.zeros((3, 900))
    traces[:, frames] = (
        np.array([[0.5], [0.0], [1.0]]) + np.array([[1.0], [2.0], [-0.5]]) * regressors[0, frames]
    )
    traces[:, frames] += rng.normal(0, 0.2, (3, frames.size))
    stimuli = table[["stimulus", "onset_s"]]
    fit, _ = regression_tables([(0, traces)], labels, regressors, stimuli, FS, trials=bounds)
    alone = fit_regressors(traces[:, frames], regressors[:, frames])
    np.testing.assert_allclose(fit.r2, alone.r2, rtol=1e-10)
    np.testing.assert_allclose(fit.coef_a, alone.coefficients[:, 0], rtol=1e-10)
    np.testing.assert_allclose(fit.intercept_dff, alone.intercept, rtol=1e-10)
    np.testing.assert_allclose(fit.coef_a, [1.0, 2.0, -0.5], atol=0.1)
    ignoring, _ = regression_tables([(0, traces)], labels, regressors, stimuli, FS)
    assert abs(ignoring.intercept_dff[0] - 0.5) > 0.1 and ignoring.r2[2] < 0.5 * fit.r2[2]

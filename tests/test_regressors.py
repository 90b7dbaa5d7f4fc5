"""Stimulus regressors, regression, response types and stimulus-locked responses."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from calcium.detrend import detrend
from calcium.dff import baseline_f0, delta_f_over_f
from calcium.errors import InputError
from calcium.input_tables import parse_stimulus_table
from calcium.kernels import calcium_kernel
from calcium.regressors import (
    cluster_order,
    convolve_regressors,
    fit_regressors,
    response_types,
    stimulus_boxcars,
    stimulus_responses,
)
from calcium.synthetic import SessionDesign, simulate_session_arrays

FS = 5.0


def _table(rows, columns=("stimulus", "onset_s", "duration_s")):
    return pd.DataFrame(rows, columns=list(columns))


def test_boxcar_is_one_exactly_while_the_stimulus_is_on():
    table = parse_stimulus_table(_table([("a", 1.0, 2.0), ("b", 4.0, 1.0), ("a", 6.1, 0.5)]), "t.csv", 10.0)
    labels, boxcars = stimulus_boxcars(table, 50, FS)
    assert labels == ["a", "b"]
    time_s = np.arange(50) / FS
    expected_a = ((time_s >= 1.0) & (time_s < 3.0)) | ((time_s >= 6.1) & (time_s < 6.6))
    np.testing.assert_array_equal(boxcars[0], expected_a.astype(float))
    np.testing.assert_array_equal(boxcars[1], ((time_s >= 4.0) & (time_s < 5.0)).astype(float))


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
    labels, boxcars = stimulus_boxcars(table, design.n_frames, FS)
    regressors = convolve_regressors(boxcars, calcium_kernel("double_exponential", FS, 1.25, 0.1))
    fit = fit_regressors(traces, regressors)
    selected, types = response_types(fit, labels, min_r2=0.05)
    planted = {int(n): label for label, neurons in plan.tuned_neurons.items() for n in neurons}
    right = np.mean([types[n] == label for n, label in planted.items()])
    assert right >= 0.9
    untuned = np.setdiff1d(np.arange(traces.shape[0]), list(planted))
    assert selected[untuned].mean() <= 0.1
    assert fit.r2.shape == (60,) and fit.coefficients.shape == (60, 3)
    assert np.all((fit.r2 >= 0) & (fit.r2 <= 1))


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
    from calcium.regressors import stimulus_table_from_channel

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

"""Trial-aligned responses: per-trial amplitudes agree with the mean responses; windows are onset frames."""

from __future__ import annotations

import numpy as np
import pandas as pd

from calcium.stimulus.regression import stimulus_responses
from calcium.stimulus.trial_responses import (
    peri_stimulus,
    presentations,
    responsive_examples,
    trial_responses,
)

FS = 10.0


def recording(seed=0, n_neurons=5, n_frames=3000):
    rng = np.random.default_rng(seed)
    traces = rng.normal(0, 0.1, (n_neurons, n_frames))
    stimuli = pd.DataFrame(
        {
            "stimulus": ["tone", "puff", "tone", "puff", "tone", "tone"],
            "onset_s": [20.0, 50.3, 80.0, 110.7, 140.0, 299.0],
        }
    )
    for onset in stimuli.onset_s[stimuli.stimulus == "tone"]:  # neuron 1 answers each tone
        first = int(np.ceil(onset * FS))
        traces[1, first : first + 20] += 1.0
    return traces, stimuli


def test_each_trials_amplitudes_are_window_means_and_average_to_the_mean_response():
    traces, stimuli = recording()
    table = trial_responses(traces, stimuli, FS, (0.0, 2.0), (-1.0, 0.0), time_offset_s=100.0)
    assert list(table.columns) == ["neuron", "stimulus", "trial", "onset_s", "response_dff", "baseline_dff"]
    # the tone at 299 s leaves the recording (300 s): left out, as in stimulus_responses
    assert len(table) == 5 * 5 and set(table.trial[table.stimulus == "tone"]) == {0, 1, 2}
    row = table[(table.neuron == 1) & (table.stimulus == "tone") & (table.trial == 1)].iloc[0]
    assert row.onset_s == 180.0  # on the recording's clock
    np.testing.assert_allclose(row.response_dff, traces[1, 800:820].mean())
    np.testing.assert_allclose(row.baseline_dff, traces[1, 790:800].mean())
    assert row.response_dff - row.baseline_dff > 0.8  # the response is seen
    means = stimulus_responses(traces, stimuli, FS, (0.0, 2.0), (-1.0, 0.0))
    per_trial = table.assign(delta=table.response_dff - table.baseline_dff)
    got = per_trial.groupby(["neuron", "stimulus"]).delta.agg(["mean", "count"])
    expected = means.set_index(["neuron", "stimulus"])
    np.testing.assert_allclose(got["mean"], expected.mean_response_dff.loc[got.index])
    np.testing.assert_array_equal(got["count"], expected.n_presentations.loc[got.index])
    no_baseline = trial_responses(traces, stimuli, FS, (0.0, 2.0), None)
    assert no_baseline.baseline_dff.isna().all() and len(no_baseline) == 25


def test_trials_are_numbered_per_stimulus_in_time_order():
    stimuli = pd.DataFrame({"stimulus": ["b", "a", "b", "a"], "onset_s": [30.0, 5.0, 10.0, 1.0]})
    table = presentations(stimuli)
    assert table.stimulus.tolist() == ["b", "b", "a", "a"]  # stimuli in order of first appearance
    assert table.onset_s.tolist() == [10.0, 30.0, 1.0, 5.0] and table.trial.tolist() == [0, 1, 0, 1]


def test_peri_stimulus_windows_are_the_onsets_frames_with_nan_outside():
    traces = np.arange(2 * 100, dtype=np.float32).reshape(2, 100)
    time_s, values = peri_stimulus(traces, [1.0, 9.5], FS, (-0.5, 1.0))
    assert values.shape == (2, 2, 15)
    np.testing.assert_allclose(time_s, np.arange(-5, 10) / FS)
    np.testing.assert_array_equal(values[1, 0], traces[1, 5:20])
    np.testing.assert_array_equal(values[0, 1, :10], traces[0, 90:100])
    assert np.isnan(values[:, 1, 10:]).all()  # past the end of the recording


def test_responsive_examples_are_the_stimulus_locked_neurons_of_that_type_by_response():
    traces, stimuli = recording()
    traces[3, :] += 0.0
    table = trial_responses(traces, stimuli, FS, (0.0, 2.0), (-1.0, 0.0))
    regression = pd.DataFrame(
        {
            "neuron": range(5),
            "selected": [False, True, False, True, True],
            "response_type": ["tone", "tone", "tone", "tone", "puff"],
        }
    )
    examples = responsive_examples(table, regression, per_stimulus=2)
    assert examples[0] == ("tone", 1)  # the neuron that answers
    assert {n for s, n in examples if s == "tone"} == {1, 3} and examples[-1] == ("puff", 4)


# --- sessions cut into trials (docs/trials.md): windows within one trial ------------------------


def test_windows_reaching_into_a_gap_or_another_trial_are_left_out_and_marked_by_their_trial():
    """Trials [0, 100 s) and [120, 300 s) (a 20 s gap of zeros): the tone at 99 s (its response
    runs into the gap), the puff at 110.7 s (in the gap) and the puff at 120.3 s (its baseline
    lies in the gap) are left out of the per-presentation table and of the mean responses; the
    rest keep their values and say their session trial."""
    from calcium.input.trial_structure import frame_trials

    traces, stimuli = recording()
    stimuli = pd.concat([stimuli, pd.DataFrame({"stimulus": ["tone", "puff"], "onset_s": [99.0, 120.3]})])
    bounds = np.array([[0, 1000], [1200, 3000]])
    traces[:, 1000:1200] = 0.0
    frame_trial = frame_trials(bounds, 3000)
    table = trial_responses(traces, stimuli, FS, (0.0, 2.0), (-1.0, 0.0), frame_trial=frame_trial)
    assert list(table.columns) == [
        "neuron", "stimulus", "trial", "session_trial", "onset_s", "response_dff", "baseline_dff"
    ]  # fmt: skip
    kept = table[table.neuron == 0]
    assert kept.set_index("onset_s").session_trial.to_dict() == {20.0: 0, 50.3: 0, 80.0: 0, 140.0: 1}
    ignoring = trial_responses(traces, stimuli, FS, (0.0, 2.0), (-1.0, 0.0))
    assert {99.0, 110.7, 120.3} <= set(ignoring.onset_s)  # without trials: scored on gap zeros
    common = ignoring.merge(table, on=["neuron", "stimulus", "trial", "onset_s"], suffixes=("", "_t"))
    np.testing.assert_array_equal(common.response_dff, common.response_dff_t)
    means = stimulus_responses(traces, stimuli, FS, (0.0, 2.0), (-1.0, 0.0), frame_trial=frame_trial)
    counts = means[means.neuron == 0].set_index("stimulus").n_presentations.to_dict()
    assert counts == {"tone": 3, "puff": 1}
    # the figure's windows: NaN outside the onset's trial (the gap), as outside the recording
    _, values = peri_stimulus(traces, [99.0, 140.0], FS, (-1.0, 3.0), frame_trial)
    assert np.isnan(values[:, 0, 20:]).all() and not np.isnan(values[:, 0, :20]).any()
    assert not np.isnan(values[:, 1]).any()

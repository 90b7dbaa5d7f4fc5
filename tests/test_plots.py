"""Unit tests of the figures (calcium.outputs.*_plots): each shows the data it is given, labelled, titled.

The figures are drawn on small synthetic inputs shaped like what the scripts in
scripts/*.py pass, and their artists (lines, images, patches, labels) are inspected;
nothing is rendered to a file.
"""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from calcium.outputs.evaluation_plots import evaluation_figure, expected_accuracy_figure  # noqa: E402
from calcium.outputs.population_plots import (  # noqa: E402
    FEATURE_AXES,
    coactivity_figure,
    feature_distributions_figure,
    membership_figure,
    raster_figure,
    roi_map_figure,
    similarity_figure,
)
from calcium.outputs.stimulus_plots import (  # noqa: E402
    heatmaps_figure,
    r2_histogram_figure,
    regressors_figure,
    response_examples_figure,
    trial_responses_figure,
)
from calcium.outputs.trace_plots import events_on_traces_figure, trace_steps_figure  # noqa: E402
from calcium.population.events import EVENT_COLUMNS  # noqa: E402

FS = 10.0
START_S = 100.0  # a recording whose first frame is not at 0 s
TIME_S = START_S + np.arange(60) / FS
TITLE = "session s1: a title passed in"


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# --- axis-label rule ------------------------------------------------------------------------------

# Units accepted in a label's trailing parentheses, e.g. "time (s)", "F (a.u.)".
UNITS = {"s", "events/min", "ΔF/F", "ΔF/F·s", "a.u.", "%/√Hz", "ratio", "normalised"}
# Words naming a quantity that has a unit: such a label must end in "(<unit from UNITS>)".
DIMENSIONAL = re.compile(r"\b(time|interval|rate|amplitude|FWHM|area|noise)\b|ν")
# Dimensionless quantities derived from dimensional ones: "fraction of time active", "interval CV".
DERIVED_DIMENSIONLESS = re.compile(r"^fraction\b|\b(CV|index)$")


def label_problem(label: str) -> str | None:
    """Why an axis label is not acceptable, or None.

    The rule: a label must not be empty; if it ends in "(...)" holding a unit of UNITS it
    is fine; otherwise it must not name a dimensional quantity (a word of DIMENSIONAL),
    unless it is a dimensionless one derived from it (fraction of…, …CV, …index).
    Counts ("neurons"), ΔF/F, z-scores and R² are unitless and need no unit.
    """
    text = " ".join(label.split())
    if not text:
        return "no label"
    unit = re.search(r"\(([^()]*)\)$", text)
    if unit and unit.group(1) in UNITS:
        return None
    if DIMENSIONAL.search(text) and not DERIVED_DIMENSIONLESS.search(text):
        return f"{label!r} names a quantity with a unit but gives none of {sorted(UNITS)}"
    return None


def test_label_rule_accepts_units_and_unitless_and_rejects_missing_units():
    for good in ["time (s)", "ΔF/F", "neuron", "c (ΔF/F)", "stim\n(normalised)", "fraction of time active"]:
        assert label_problem(good) is None, good
    for bad in ["", "time", "mean amplitude", "noise band (ν)", "event rate (Hz?)"]:
        assert label_problem(bad) is not None, bad


def draws_data(ax) -> bool:
    """Whether an axes (not a colorbar, not switched off) shows data: lines with points,
    collections, patches or images (legend proxies plotted from [] do not count)."""
    if not ax.axison or ax.get_label() == "<colorbar>":
        return False
    has_lines = any(len(line.get_xdata()) for line in ax.lines)
    return bool(has_lines or ax.collections or ax.patches or ax.images)


def x_label(ax) -> str:
    """The axes' x label, or that of the bottom axes among those sharing its x axis."""
    bottom = min(ax.get_shared_x_axes().get_siblings(ax), key=lambda a: a.get_position().y0)
    return ax.get_xlabel() or bottom.get_xlabel()


def y_label(ax) -> str:
    """The axes' y label, or that of the leftmost axes among those sharing its y axis."""
    left = min(ax.get_shared_y_axes().get_siblings(ax), key=lambda a: a.get_position().x0)
    return ax.get_ylabel() or left.get_ylabel()


def label_problems(figure) -> list[str]:
    """Every missing or unit-less label of the figure's data axes and colorbars."""
    problems = []
    data_axes = [ax for ax in figure.axes if draws_data(ax)]
    assert data_axes, "the figure draws no data"
    for i, ax in enumerate(figure.axes):
        if ax.get_label() == "<colorbar>":
            problem = label_problem(ax.get_ylabel() or ax.get_xlabel())
            problems += [f"colorbar (axes {i}): {problem}"] if problem else []
        elif ax in data_axes:
            for axis, label in (("x", x_label(ax)), ("y", y_label(ax))):
                problem = label_problem(label)
                problems += [f"axes {i} {axis}: {problem}"] if problem else []
    return problems


def titles(figure) -> list[str]:
    return [figure.get_suptitle()] + [ax.get_title() for ax in figure.axes]


def texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


def line_labelled(ax, label: str):
    (line,) = [line for line in ax.lines if line.get_label().startswith(label)]
    return line


# --- synthetic inputs, shaped as the scripts pass them ----------------------------------------------

NEURON_IDS = [3, 7]
STEPS = [
    ("raw F", "F (a.u.)", rng(1).normal(100, 5, (2, TIME_S.size))),
    ("ΔF/F", "ΔF/F", rng(2).normal(0, 0.1, (2, TIME_S.size))),
    ("OASIS calcium + spike times", "c (ΔF/F)", rng(3).gamma(2, 0.1, (2, TIME_S.size))),
]
SPIKE_TIMES = [np.array([101.0, 102.5, 104.2]), np.zeros(0)]


def events_table(rows) -> pd.DataFrame:
    """An events table (all of EVENT_COLUMNS) from (neuron, onset_s, peak_s, end_s, amplitude_dff)."""
    table = pd.DataFrame(rows, columns=["neuron", "onset_s", "peak_s", "end_s", "amplitude_dff"])
    for name in ("onset", "peak", "end"):
        table[f"{name}_frame"] = np.round((table[f"{name}_s"] - START_S) * FS).astype(np.int64)
    table["prominence_dff"] = table.amplitude_dff
    table["fwhm_s"] = 0.5
    table["area_dff_s"] = table.amplitude_dff
    table["exceeds_max_fwhm"] = False
    table["below_min_fwhm"] = False
    return table[EVENT_COLUMNS]


EVENTS = events_table(
    [
        (3, 101.0, 101.2, 101.8, 0.6),
        (3, 103.0, 103.3, 104.0, 0.9),
        (3, 110.0, 110.2, 110.9, 0.7),  # after the drawn window
        (7, 102.0, 102.1, 102.6, 0.4),
        (5, 101.5, 101.7, 102.3, 0.8),  # a neuron not drawn
    ]
)
THRESHOLDS = pd.DataFrame(
    {
        "neuron": np.arange(10),
        "baseline_dff": 0.01 * np.arange(10),
        "noise_sd_dff": 0.05,
        "threshold_dff": 0.2 + 0.03 * np.arange(10),
    }
)
EVENT_TRACES = rng(4).normal(0, 0.1, (2, TIME_S.size))

N_NEURONS = 12
DURATION_S = 30.0
RASTER_EVENTS = pd.DataFrame(
    {"neuron": rng(5).integers(0, N_NEURONS, 40), "onset_s": np.sort(rng(6).uniform(0, DURATION_S, 40))}
)
ENSEMBLE_EVENTS = pd.DataFrame(
    {
        "event": [0, 1, 2, 3],
        "start_s": [2.0, 9.0, 15.0, 22.0],
        "end_s": [2.5, 9.5, 16.0, 22.5],
        "ensemble": [0, 1, -1, 0],
    }
)


def features_table() -> pd.DataFrame:
    """Per-neuron features, each column with a different number of NaN (as for silent neurons)."""
    generator = rng(7)
    table = pd.DataFrame({"neuron": np.arange(30)})
    for i, (column, _) in enumerate(FEATURE_AXES):
        values = generator.gamma(2.0 + i, 1.0, 30)
        values[:i] = np.nan
        table[column] = values
    return table


BIN_START_S = np.arange(40) * 0.5
N_ACTIVE = rng(8).integers(0, 8, 40)
N_ACTIVE[[5, 17, 30]] = 11
NULL_HIST = pd.DataFrame(
    {
        "frames": [5, 5, 5, 5, 4, 4, 4],
        "n_active": [0, 1, 2, 3, 0, 1, 2],
        "n_bins": [400, 300, 100, 10, 50, 30, 5],
    }
)
NULL_HIST["fraction"] = NULL_HIST.n_bins / NULL_HIST.groupby("frames").n_bins.transform("sum")


def similarity_inputs():
    """Jaccard-like similarity of 6 ensemble events, a clustering order and ensemble labels."""
    points = rng(9).random((6, 3))
    similarity = np.clip(1 - np.abs(points[:, None, :] - points[None, :, :]).mean(axis=2) * 2, 0, 1)
    np.fill_diagonal(similarity, 1.0)
    order = [4, 1, 5, 0, 3, 2]
    labels = np.array([0, 1, 0, -1, 1, 0])
    return similarity, order, labels


PARTICIPATION = rng(10).random((3, 9))
MEMBER = PARTICIPATION > 0.6

STIM_LABELS = ["tone", "puff"]
BOXCARS = np.zeros((2, TIME_S.size))
BOXCARS[0, 10:15] = 1
BOXCARS[0, 40:45] = 1
BOXCARS[1, 25:30] = 1
REGRESSORS = np.stack([np.convolve(b, np.exp(-np.arange(20) / 8.0))[: TIME_S.size] * 0.3 for b in BOXCARS])
STIMULI = pd.DataFrame(
    {
        "stimulus": ["tone", "puff", "tone"],
        "onset_s": TIME_S[[10, 25, 40]],
        "offset_s": TIME_S[[15, 30, 45]],
    }
)
STIMULI["duration_s"] = STIMULI.offset_s - STIMULI.onset_s

R2 = rng(11).beta(1, 6, 25)

HEAT_TIME_S = START_S + np.arange(30) * 0.2


def small_footprints():
    from calcium.input.footprints import Footprints

    yy, xx = np.mgrid[2:6, 2:6]
    return Footprints(
        np.repeat([0, 1], 16).astype(np.int32),
        np.concatenate([yy.ravel(), yy.ravel() + 6]).astype(np.int32),
        np.concatenate([xx.ravel(), xx.ravel() + 5]).astype(np.int32),
        np.ones(32, np.float32),
        (14, 12),
        np.arange(14 * 12, dtype=np.float32).reshape(14, 12),
        "suite2p",
    )


def heat_panels():
    generator = rng(12)
    return [
        ("all neurons", generator.normal(0, 1, (8, HEAT_TIME_S.size)), None),
        (
            "stimulus-locked neurons (R² > 0.05)",
            generator.normal(0, 1, (3, 30)),
            ["2 tone", "5 puff", "0 tone"],
        ),
    ]


def response_examples():
    generator = rng(13)
    return [
        ("tone", 2, generator.normal(0, 0.1, TIME_S.size), REGRESSORS[0] * 1.5),
        ("suppressed:puff", 6, generator.normal(0, 0.1, TIME_S.size), -REGRESSORS[1]),
    ]


def evaluation_inputs():
    generator = rng(14)
    return dict(
        time_s=TIME_S,
        trace=generator.normal(0, 0.1, TIME_S.size),
        calcium=generator.gamma(2, 0.05, TIME_S.size),
        spikes=generator.gamma(1, 0.02, TIME_S.size),
        inferred_times=np.array([100.7, 102.2, 104.9]),
        true_times=np.array([100.6, 102.3, 103.1, 105.0]),
        neuron=4,
    )


def accuracy_bands() -> pd.DataFrame:
    """Three noise bands, as calcium.evaluation.accuracy.expected_accuracy returns them."""
    return pd.DataFrame(
        {
            "nu_low": [0.5, 1.2, 2.0],
            "nu_high": [1.2, 2.0, 3.5],
            "nu_median": [0.9, 1.6, 2.6],
            "n_neurons": [10, 10, 10],
            "expected_correlation": [0.85, 0.7, 0.5],
            "correlation_p10": [0.8, 0.6, 0.4],
            "correlation_p90": [0.9, 0.75, 0.6],
            "expected_f1": [0.75, 0.6, 0.35],
            "f1_p10": [0.7, 0.5, 0.3],
            "f1_p90": [0.8, 0.65, 0.45],
        }
    )


NU = np.concatenate([rng(15).uniform(0.5, 3.5, 30), [np.nan]])

FIGURES = {
    "trace_steps": lambda title: trace_steps_figure(TIME_S, STEPS, SPIKE_TIMES, NEURON_IDS, title=title),
    "events_on_traces": lambda title: events_on_traces_figure(
        TIME_S, EVENT_TRACES, EVENTS, THRESHOLDS, NEURON_IDS, title=title
    ),
    "raster": lambda title: raster_figure(RASTER_EVENTS, N_NEURONS, DURATION_S, ENSEMBLE_EVENTS, title),
    "feature_distributions": lambda title: feature_distributions_figure(
        features_table(), FEATURE_AXES, title
    ),
    "coactivity": lambda title: coactivity_figure(
        BIN_START_S, N_ACTIVE, 6.0, NULL_HIST, N_NEURONS, title=title
    ),
    "similarity": lambda title: similarity_figure(*similarity_inputs(), title),
    "membership": lambda title: membership_figure(PARTICIPATION, MEMBER, title=title),
    "regressors": lambda title: regressors_figure(TIME_S, STIM_LABELS, BOXCARS, REGRESSORS, title),
    "r2_histogram": lambda title: r2_histogram_figure(R2, 0.05, title),
    "heatmaps": lambda title: heatmaps_figure(HEAT_TIME_S, heat_panels(), STIMULI, title),
    "response_examples": lambda title: response_examples_figure(TIME_S, response_examples(), STIMULI, title),
    "evaluation": lambda title: evaluation_figure(**evaluation_inputs(), title=title),
    "expected_accuracy": lambda title: expected_accuracy_figure(accuracy_bands(), NU, title=title),
    "trial_responses": lambda title: trial_responses_figure(
        np.arange(-10, 30) / 10, [("tone", 3, rng(8).normal(0, 1, (5, 40)))], (0.0, 2.0), title
    ),
    "roi_map": lambda title: roi_map_figure(
        small_footprints(), 2, ["#1f77b4", "#bbbbbb"], {"ensemble 0": "#1f77b4"}, title
    ),
}


@pytest.fixture(scope="module")
def drawn():
    """FIGURES[name] drawn with TITLE, once per module (drawing is the slow part); closed at the end."""
    figures = {}

    def draw(name):
        if name not in figures:
            figures[name] = FIGURES[name](TITLE)
        return figures[name]

    draw.figures = figures
    yield draw
    for figure in figures.values():
        plt.close(figure)


@pytest.fixture(autouse=True)
def close_new_figures(drawn):
    """Close the figures a test drew, except those `drawn` keeps for the module."""
    before = set(plt.get_fignums())
    yield
    kept = {figure.number for figure in drawn.figures.values()}
    for number in set(plt.get_fignums()) - before - kept:
        plt.close(number)


# --- every figure -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FIGURES)
def test_every_data_axes_and_colorbar_has_labels_with_units(drawn, name):
    figure = drawn(name)
    assert label_problems(figure) == []


@pytest.mark.parametrize("name", FIGURES)
def test_title_passed_in_is_shown(drawn, name):
    figure = drawn(name)
    assert TITLE in titles(figure)


# --- what each figure draws ---------------------------------------------------------------------------


def test_trace_steps_draws_each_neurons_steps_in_order(drawn):
    figure = drawn("trace_steps")
    assert len(figure.axes) == len(NEURON_IDS) * len(STEPS)
    for k, neuron in enumerate(NEURON_IDS):
        for j, (name, unit, values) in enumerate(STEPS):
            ax = figure.axes[k * len(STEPS) + j]
            np.testing.assert_array_equal(ax.lines[0].get_xdata(), TIME_S)
            np.testing.assert_array_equal(ax.lines[0].get_ydata(), values[k])
            assert ax.get_ylabel() == unit
            assert f"neuron {neuron}: {name}" in texts(ax)


def test_trace_steps_spike_ticks_are_at_the_spike_times_on_the_last_step_only(drawn):
    figure = drawn("trace_steps")
    for k, spikes in enumerate(SPIKE_TIMES):
        for j in range(len(STEPS)):
            ax = figure.axes[k * len(STEPS) + j]
            ticks = [line for line in ax.lines if line.get_label() == "spike times"]
            if j == len(STEPS) - 1 and spikes.size:
                np.testing.assert_array_equal(ticks[0].get_xdata(), spikes)
                assert np.all(ticks[0].get_ydata() > STEPS[j][2][k].max())  # above the trace
            else:
                assert ticks == []


def test_gaps_between_trials_are_drawn_as_breaks_and_the_spike_ticks_stay_above_the_trials():
    """A session cut into trials: the gap's frames (0 in the arrays) become NaN, so the line breaks
    there (matplotlib leaves NaN out); a continuous session's arrays are passed through as they are."""
    from calcium.input.trial_structure import blank_gaps

    gap = np.zeros(TIME_S.size, dtype=bool)
    gap[20:35] = True
    steps = [(name, unit, values.copy()) for name, unit, values in STEPS]
    steps[-1][2][:, 20:35] = 50.0  # were the gap drawn, the ticks would float above it
    steps = [(name, unit, blank_gaps(values, gap)) for name, unit, values in steps]
    assert blank_gaps(STEPS[0][2], None) is STEPS[0][2]
    figure = trace_steps_figure(TIME_S, steps, SPIKE_TIMES, NEURON_IDS)
    line = figure.axes[0].lines[0].get_ydata()
    assert np.isnan(line[20:35]).all() and np.isfinite(line[:20]).all() and np.isfinite(line[35:]).all()
    ticks = [line for line in figure.axes[len(STEPS) - 1].lines if line.get_label() == "spike times"][0]
    trials = np.r_[STEPS[-1][2][0, :20], STEPS[-1][2][0, 35:]]
    np.testing.assert_allclose(ticks.get_ydata(), 1.1 * trials.max(), rtol=1e-6)


def test_events_on_traces_draws_each_neurons_trace_threshold_and_events_in_window(drawn):
    figure = drawn("events_on_traces")
    for ax, neuron, trace in zip(figure.axes, NEURON_IDS, EVENT_TRACES, strict=True):
        np.testing.assert_array_equal(ax.lines[0].get_ydata(), trace)
        row = THRESHOLDS[THRESHOLDS.neuron == neuron].iloc[0]
        horizontal = {
            line.get_label(): line.get_ydata()[0] for line in ax.lines if line.get_label()[0] != "_"
        }
        assert horizontal == {"threshold": row.threshold_dff, "baseline": row.baseline_dff}
        mine = EVENTS[(EVENTS.neuron == neuron) & (EVENTS.peak_s <= TIME_S[-1])]
        peaks = ax.lines[-1]
        np.testing.assert_allclose(peaks.get_xdata(), mine.peak_s)
        np.testing.assert_allclose(peaks.get_ydata(), mine.amplitude_dff + row.baseline_dff)
        spans = [(p.vertices[:, 0].min(), p.vertices[:, 0].max()) for p in ax.collections[0].get_paths()]
        np.testing.assert_allclose(spans, mine[["onset_s", "end_s"]].to_numpy())
        assert f"neuron {neuron}: {len(mine)} events" in texts(ax)


def test_raster_points_are_at_event_onsets_and_neuron_rows(drawn):
    figure = drawn("raster")
    ax = figure.axes[0]
    np.testing.assert_array_equal(ax.collections[0].get_offsets(), RASTER_EVENTS[["onset_s", "neuron"]])
    assert ax.get_ylim() == (-0.5, N_NEURONS - 0.5)
    assert ax.get_xlim() == (0, DURATION_S)


def test_time_axes_span_the_recording_on_its_own_clock():
    """A recording whose first frame is at 100 s (time-stamped input) is drawn from 100 s."""
    shifted = RASTER_EVENTS.assign(onset_s=RASTER_EVENTS.onset_s + 100.0)
    figure = raster_figure(shifted, N_NEURONS, DURATION_S, start_time_s=100.0)
    assert figure.axes[0].get_xlim() == (100.0, 100.0 + DURATION_S)
    figure = coactivity_figure(BIN_START_S + 100.0, N_ACTIVE, 6.0, NULL_HIST, N_NEURONS)
    width = BIN_START_S[1] - BIN_START_S[0]
    expected = (100.0 + BIN_START_S[0], 100.0 + BIN_START_S[-1] + width)
    np.testing.assert_allclose(figure.axes[0].get_xlim(), expected)
    plt.close("all")


def test_raster_shades_each_ensemble_event_window(drawn):
    figure = drawn("raster")
    ax = figure.axes[0]
    shaded = sorted((p.get_x(), p.get_x() + p.get_width()) for p in ax.patches)
    np.testing.assert_allclose(shaded, ENSEMBLE_EVENTS[["start_s", "end_s"]].to_numpy())
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert sorted(legend) == ["ensemble 0", "ensemble 1", "no ensemble"]


def test_feature_histograms_count_each_columns_finite_values(drawn):
    features = features_table()
    figure = drawn("feature_distributions")
    for ax, (column, label) in zip(figure.axes, FEATURE_AXES, strict=False):
        values = features[column].to_numpy()
        counts, edges = np.histogram(values[np.isfinite(values)], bins=20)
        np.testing.assert_array_equal([p.get_height() for p in ax.patches], counts)
        np.testing.assert_allclose([p.get_x() for p in ax.patches], edges[:-1])
        assert ax.get_xlabel() == label
    assert [ax.axison for ax in figure.axes[len(FEATURE_AXES) :]] == [False, False]


def test_coactivity_line_is_n_active_and_threshold_line_is_at_the_threshold(drawn):
    figure = drawn("coactivity")
    ax = figure.axes[0]
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), BIN_START_S)
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), N_ACTIVE)
    threshold = line_labelled(ax, "null threshold")
    np.testing.assert_array_equal(threshold.get_ydata(), np.full(N_ACTIVE.size, 6.0))
    above = line_labelled(ax, "above the null")
    np.testing.assert_array_equal(above.get_xdata(), BIN_START_S[N_ACTIVE > 6])
    np.testing.assert_array_equal(above.get_ydata(), N_ACTIVE[N_ACTIVE > 6])


def test_coactivity_per_bin_threshold_marks_bins_above_their_own_threshold():
    per_bin = np.where(np.arange(N_ACTIVE.size) < 20, 4.0, 9.0)
    figure = coactivity_figure(BIN_START_S, N_ACTIVE, per_bin, NULL_HIST, N_NEURONS)
    ax, ax_null = figure.axes
    np.testing.assert_array_equal(line_labelled(ax, "null threshold").get_ydata(), per_bin)
    np.testing.assert_array_equal(
        line_labelled(ax, "above the null").get_xdata(), BIN_START_S[N_ACTIVE > per_bin]
    )
    assert sorted(line.get_ydata()[0] for line in ax_null.lines) == [4.0, 9.0]


def test_coactivity_null_panel_shows_pooled_fraction_of_null_bins(drawn):
    figure = drawn("coactivity")
    ax_null = figure.axes[1]
    pooled = NULL_HIST.groupby("n_active").n_bins.sum()
    bars = sorted((p.get_y() + p.get_height() / 2, p.get_width()) for p in ax_null.patches)
    np.testing.assert_allclose(bars, np.column_stack([pooled.index, pooled / pooled.sum()]))


def test_coactivity_null_panels_log_axis_is_labelled_in_plain_text(drawn):
    """The style prints text as written (no TeX): the log axis's labels must not be TeX strings."""
    ax_null = drawn("coactivity").axes[1]
    assert ax_null.get_xscale() == "log"
    major, minor = ax_null.xaxis.get_major_formatter(), ax_null.xaxis.get_minor_formatter()
    major.set_locs([1e-3, 1e-2, 1e-1])
    labels = [major(value, k) for k, value in enumerate([1e-3, 1e-2, 1e-1])]
    assert labels == ["1e−03", "1e−02", "1e−01"]
    minor.set_locs([0.02, 0.03, 0.05])  # less than a decade: minor ticks labelled, also as text
    assert all("$" not in minor(value, 0) for value in (0.02, 0.03, 0.05))


def test_similarity_image_is_the_matrix_in_clustering_order_with_ensemble_tick_labels():
    similarity, order, labels = similarity_inputs()
    figure = similarity_figure(similarity, order, labels)
    ax = figure.axes[0]
    shown = ax.images[0].get_array()
    np.testing.assert_array_equal(shown, similarity[np.ix_(order, order)])
    assert not np.array_equal(shown, similarity)  # the order matters for this input
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "1", "0", "0", "-", "0"]  # labels[order]
    assert [t.get_text() for t in ax.get_yticklabels()] == [str(i) for i in order]


def test_similarity_without_ensemble_events_says_so():
    figure = similarity_figure(np.zeros((0, 0)), [], np.zeros(0, dtype=int), TITLE)
    assert "no ensemble events" in texts(figure.axes[0])
    assert len(figure.axes[0].images) == 0


def test_membership_image_is_participation_and_circles_mark_members(drawn):
    figure = drawn("membership")
    ax = figure.axes[0]
    np.testing.assert_array_equal(ax.images[0].get_array(), PARTICIPATION)
    circles = ax.collections[0].get_offsets()
    np.testing.assert_array_equal(
        np.asarray(circles)[:, ::-1], np.argwhere(MEMBER)
    )  # (x, y) = (neuron, ensemble)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["ensemble 0", "ensemble 1", "ensemble 2"]


def test_regressors_panels_show_each_stimulus_normalised_regressor_and_boxcar(drawn):
    figure = drawn("regressors")
    assert len(figure.axes) == len(STIM_LABELS)
    for ax, label, box, regressor in zip(figure.axes, STIM_LABELS, BOXCARS, REGRESSORS, strict=True):
        assert ax.get_ylabel().startswith(label)
        line = line_labelled(ax, "convolved regressor")
        np.testing.assert_array_equal(line.get_xdata(), TIME_S)
        np.testing.assert_allclose(line.get_ydata(), regressor / regressor.max())
        # The boxcar's filled area is 1 high exactly over its frames (steps hold to the next frame).
        vertices = np.concatenate([p.vertices for p in ax.collections[0].get_paths()])
        top = vertices[vertices[:, 1] == 1, 0]
        on = TIME_S[box > 0]
        assert top.min() == on.min()
        assert top.max() == pytest.approx(on.max() + 1 / FS)
        assert not np.any((vertices[:, 1] == 1) & (vertices[:, 0] < on.min()))


def test_r2_histogram_counts_every_neuron_and_marks_the_threshold():
    figure = r2_histogram_figure(R2, 0.08)
    ax = figure.axes[0]
    assert sum(p.get_height() for p in ax.patches) == R2.size
    counts, _ = np.histogram(R2, bins=np.linspace(0, R2.max(), 30))
    np.testing.assert_array_equal([p.get_height() for p in ax.patches], counts)
    np.testing.assert_array_equal(line_labelled(ax, "threshold").get_xdata(), [0.08, 0.08])


def test_heatmaps_images_are_the_panels_data_over_time_with_stimulus_onsets():
    panels = heat_panels()
    figure = heatmaps_figure(HEAT_TIME_S, panels, STIMULI, bin_s=0.2)
    wide = heatmaps_figure(HEAT_TIME_S, panels, STIMULI)  # the width from the bins' spacing: the same
    assert wide.axes[0].images[0].get_extent() == figure.axes[0].images[0].get_extent()
    data_axes = [ax for ax in figure.axes if ax.get_label() != "<colorbar>"]
    assert len(data_axes) == len(panels)
    for ax, (name, values, ticks) in zip(data_axes, panels, strict=True):
        assert ax.get_title() == name
        image = ax.images[0]
        np.testing.assert_array_equal(image.get_array(), values)
        # bin k covers [start_k, start_k + 0.2 s): the last bin ends one bin after its start
        np.testing.assert_allclose(
            image.get_extent(), [HEAT_TIME_S[0], HEAT_TIME_S[-1] + 0.2, values.shape[0] - 0.5, -0.5]
        )
        onsets = [line.get_xdata()[0] for line in ax.lines if len(line.get_xdata())]
        np.testing.assert_allclose(onsets, STIMULI.onset_s)
        if ticks is not None:
            assert [t.get_text() for t in ax.get_yticklabels()] == ticks


def test_heatmaps_panel_without_neurons_says_so():
    panels = [heat_panels()[0], ("stimulus-locked neurons", np.zeros((0, HEAT_TIME_S.size)), [])]
    figure = heatmaps_figure(HEAT_TIME_S, panels, STIMULI)
    empty = [ax for ax in figure.axes if ax.get_title() == "stimulus-locked neurons"][0]
    assert len(empty.images) == 0
    assert "stimulus-locked neurons: no neurons" in texts(empty)


def test_response_examples_show_trace_model_and_their_stimulus_periods():
    examples = response_examples()
    figure = response_examples_figure(TIME_S, examples, STIMULI)
    for ax, (kind, neuron, trace, model) in zip(figure.axes, examples, strict=True):
        np.testing.assert_array_equal(line_labelled(ax, "ΔF/F").get_ydata(), trace)
        np.testing.assert_array_equal(line_labelled(ax, "regressors × coefficients").get_ydata(), model)
        assert f"neuron {neuron}: {kind}" in texts(ax)
        stimulus = STIMULI[STIMULI.stimulus == kind.removeprefix("suppressed:")]
        shaded = sorted((p.get_x(), p.get_x() + p.get_width()) for p in ax.patches)
        np.testing.assert_allclose(shaded, stimulus[["onset_s", "offset_s"]].to_numpy())


def test_response_examples_without_examples_says_so():
    figure = response_examples_figure(TIME_S, [], STIMULI, TITLE)
    assert "no stimulus-locked neurons" in texts(figure.axes[0])


def test_evaluation_shows_trace_fit_inference_and_true_spikes():
    inputs = evaluation_inputs()
    figure = evaluation_figure(**inputs)
    top, middle, bottom = figure.axes
    np.testing.assert_array_equal(line_labelled(top, "detrended ΔF/F").get_ydata(), inputs["trace"])
    np.testing.assert_array_equal(line_labelled(top, "OASIS calcium").get_ydata(), inputs["calcium"])
    np.testing.assert_array_equal(line_labelled(middle, "inferred activity").get_ydata(), inputs["spikes"])
    ticks = line_labelled(middle, "inferred spike times")
    np.testing.assert_array_equal(ticks.get_xdata(), inputs["inferred_times"])
    true_spikes = bottom.collections[0].get_positions()
    np.testing.assert_array_equal(true_spikes, inputs["true_times"])
    assert figure.get_suptitle() == "neuron 4"  # the default title names the neuron


def test_evaluation_of_a_session_with_trials_breaks_at_the_gap_and_keeps_the_ticks_above_the_trials():
    inputs = evaluation_inputs()
    for name in ("trace", "calcium", "spikes"):
        inputs[name][20:35] = np.nan  # a gap between trials (blank_gaps)
    figure = evaluation_figure(**inputs)
    middle = figure.axes[1]
    assert np.isnan(line_labelled(middle, "inferred activity").get_ydata()[20:35]).all()
    ticks = line_labelled(middle, "inferred spike times").get_ydata()
    np.testing.assert_allclose(ticks, 1.05 * np.nanmax(inputs["spikes"]))


def test_expected_accuracy_shows_each_bands_scores_and_noise_edges():
    bands = accuracy_bands()
    figure = expected_accuracy_figure(bands, NU)
    left, right = figure.axes
    counted = sum(p.get_height() for p in left.patches)
    assert counted == np.isfinite(NU).sum()
    edges = sorted(line.get_xdata()[0] for line in left.lines)
    assert edges == sorted(set(bands.nu_low) | set(bands.nu_high))
    for label, column, low, high in (
        ("correlation", "expected_correlation", "correlation_p10", "correlation_p90"),
        ("F1", "expected_f1", "f1_p10", "f1_p90"),
    ):
        (container,) = [c for c in right.containers if c.get_label().startswith(label)]
        np.testing.assert_allclose(container.lines[0].get_ydata(), bands[column])
        bars = container.lines[2][0].get_segments()
        np.testing.assert_allclose(
            [(s[:, 1].min(), s[:, 1].max()) for s in bars], bands[[low, high]].to_numpy()
        )
    assert [t.get_text() for t in right.get_xticklabels()] == ["0.5-1.2", "1.2-2", "2-3.5"]


def test_expected_accuracy_without_estimate_shows_the_note_instead():
    bands = accuracy_bands().iloc[:0]
    figure = expected_accuracy_figure(bands, NU, note="no ground truth for this indicator", title=TITLE)
    left, right = figure.axes
    assert not right.axison
    assert "no ground truth for this indicator" in texts(right)
    assert len(left.lines) == 0  # no band edges
    assert sum(p.get_height() for p in left.patches) == np.isfinite(NU).sum()


# ---- one palette, readable figures, example neurons by rule ------------------------------------


def agg_renderer(figure):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return canvas.get_renderer()


def test_ensemble_and_stimulus_colours_are_one_palette_and_never_alike():
    from matplotlib.colors import to_rgb

    from calcium.outputs.palette import ENSEMBLE_COLOURS, NO_ENSEMBLE, STIMULUS_COLOURS, browser_palette

    for stimulus in STIMULUS_COLOURS:
        for ensemble in (*ENSEMBLE_COLOURS, NO_ENSEMBLE):
            assert np.linalg.norm(np.subtract(to_rgb(stimulus), to_rgb(ensemble))) >= 0.3, (
                stimulus,
                ensemble,
            )
    assert browser_palette()["ensembles"] == list(ENSEMBLE_COLOURS)


def test_raster_bands_are_behind_the_ticks_in_the_palettes_colours_and_the_legend_outside(drawn):
    from matplotlib.colors import to_rgb

    from calcium.outputs.palette import ensemble_colour

    figure = drawn("raster")
    ax = figure.axes[0]
    ticks = ax.collections[0]
    assert all(patch.get_zorder() < ticks.get_zorder() for patch in ax.patches)
    for patch in ax.patches:
        start = patch.get_x()
        ensemble = int(ENSEMBLE_EVENTS.ensemble[np.isclose(ENSEMBLE_EVENTS.start_s, start)].iloc[0])
        np.testing.assert_allclose(patch.get_facecolor()[:3], to_rgb(ensemble_colour(ensemble)))
    renderer = agg_renderer(figure)
    legend_box = ax.get_legend().get_window_extent(renderer)
    assert legend_box.x0 >= ax.get_window_extent(renderer).x1  # right of the data, not on it
    assert legend_box.x1 <= figure.bbox.x1 + 1  # and inside the figure


def test_heatmap_rows_are_labelled_by_neuron_id_readably_and_onsets_in_stimulus_colours():
    from matplotlib.colors import to_rgb

    from calcium.outputs.palette import stimulus_colours

    generator = rng(3)
    ids = list(range(100, 300, 2))  # 100 neurons: too many to label each row
    panels = [
        ("all neurons", generator.normal(0, 1, (100, HEAT_TIME_S.size)), ids),
        (
            "stimulus-locked neurons",
            generator.normal(0, 1, (3, HEAT_TIME_S.size)),
            ["7 tone", "9 puff", "4 tone"],
        ),
    ]
    figure = heatmaps_figure(HEAT_TIME_S, panels, STIMULI)
    data_axes = [ax for ax in figure.axes if ax.get_label() != "<colorbar>"]
    top, bottom = data_axes
    labels = [t.get_text() for t in top.get_yticklabels()]
    rows = top.get_yticks().astype(int)
    assert 5 <= len(labels) < 100 and labels == [str(ids[r]) for r in rows]
    assert [t.get_text() for t in bottom.get_yticklabels()] == ["7 tone", "9 puff", "4 tone"]
    assert min(t.get_fontsize() for ax in data_axes for t in ax.get_yticklabels()) >= 7
    renderer = agg_renderer(figure)
    boxes = [t.get_window_extent(renderer) for t in top.get_yticklabels()]
    assert all(
        a.y0 >= b.y1 - 0.5 or b.y0 >= a.y1 - 0.5 for a, b in zip(boxes, boxes[1:], strict=False)
    )  # no overlap
    colours = stimulus_colours(STIMULI.stimulus)
    onset_lines = [line for line in bottom.lines if len(line.get_xdata())]
    for line, name in zip(onset_lines, STIMULI.stimulus, strict=True):
        np.testing.assert_allclose(to_rgb(line.get_color()), to_rgb(colours[str(name)]))
    plt.close(figure)


def test_example_neurons_follow_the_rule():
    from calcium.outputs.trace_plots import choose_example_neurons

    features = pd.DataFrame({"neuron": range(6), "event_rate_per_min": [1.0, 5.0, 3.0, 5.0, 0.5, 2.0]})
    members = pd.DataFrame(
        {
            "ensemble": [0, 0, 0, 1, 1],
            "neuron": [1, 2, 4, 4, 5],
            "participation": [0.9, 0.8, 0.1, 0.7, 0.7],
            "member": [True, True, False, True, True],
        }
    )
    regression = pd.DataFrame(
        {
            "neuron": range(6),
            "r2": [0.9, 0.1, 0.5, 0.2, 0.0, 0.3],
            "response_type": ["tone", "not stimulus-locked", "puff", "tone", "not stimulus-locked", "puff"],
        }
    )
    # most active: 1 (tie with 3: lower id); ensemble 0: 1 taken -> 2; response puff: 2 taken -> 5;
    # ensemble 1: neuron 4 (participation tie with 5: lower id)
    chosen = choose_example_neurons(6, features, members, regression, max_examples=4)
    assert chosen == [(1, "most active"), (2, "ensemble 0"), (5, "response puff"), (4, "ensemble 1")]
    more = choose_example_neurons(6, features, members, regression, max_examples=6)
    assert [n for n, _ in more][4:] == [0, 3]  # then tone by R², then the most active left
    assert choose_example_neurons(3, None, None, None) == [(0, ""), (1, ""), (2, "")]  # no table: 0, 1, ...


def test_busiest_window_holds_most_events_and_whole_short_recordings():
    from calcium.outputs.trace_plots import busiest_window

    events = np.concatenate([np.linspace(10, 50, 5), np.linspace(400, 450, 30)]) + 100.0
    start, end = busiest_window(events, 100.0, 600.0, 120.0)
    assert end - start == 120.0 and start <= 400 and end >= 450  # every event of 400-450 s in view
    in_view = np.sum((events - 100 >= start) & (events - 100 <= end))
    assert in_view == 30
    assert busiest_window(events, 100.0, 90.0, 120.0) == [0.0, 90.0]
    assert busiest_window(np.array([599.5]) + 100, 100.0, 600.0, 120.0) == [480.0, 600.0]


def test_trial_responses_show_mean_sem_and_each_trial_in_the_stimulus_colour():
    from matplotlib.colors import to_rgb

    from calcium.outputs.palette import stimulus_colours
    from calcium.outputs.stimulus_plots import trial_responses_figure

    generator = rng(5)
    time_s = np.arange(-10, 30) / 10
    trials = generator.normal(0, 1, (6, time_s.size))
    trials[2, -5:] = np.nan  # a presentation near the end of the recording
    figure = trial_responses_figure(time_s, [("tone", 7, trials)], (0.0, 2.0))
    ax_mean, ax_heat = [ax for ax in figure.axes if ax.get_label() != "<colorbar>"]
    mean_line = next(line for line in ax_mean.lines if line.get_label().startswith("mean of 6 trials"))
    np.testing.assert_allclose(mean_line.get_ydata(), np.nanmean(trials, axis=0))
    np.testing.assert_allclose(to_rgb(mean_line.get_color()), to_rgb(stimulus_colours(["tone"])["tone"]))
    np.testing.assert_array_equal(ax_heat.images[0].get_array().filled(np.nan), trials)
    assert ax_mean.get_title() == "neuron 7: tone" and ax_heat.get_ylabel() == "trial"
    assert ax_heat.get_xlabel() == "time after onset (s)" and ax_mean.get_ylabel() == "ΔF/F"
    plt.close(figure)
    empty = trial_responses_figure(time_s, [])
    assert "no stimulus-locked neurons" in [t.get_text() for t in empty.axes[0].texts]
    plt.close(empty)


def test_stimulus_heat_maps_and_examples_of_a_session_with_trials_leave_the_gaps_out():
    """Heat maps: binned, z-scored and clustered on the trials' frames (whatever the gap frames
    hold), bins of the gap blank; without gaps exactly as before. Examples: breaks in the gaps."""
    from calcium.outputs.stimulus_plots import heatmap_panels, response_example_traces
    from calcium.stimulus.clustering import downsample, zscored

    rng = np.random.default_rng(6)
    traces = rng.normal(0, 1, (12, 400))
    traces[:6] += np.sin(np.arange(400) / 7.0)  # two groups for the clustering
    table = pd.DataFrame(
        {"neuron": np.arange(12), "selected": np.arange(12) < 8, "r2": np.linspace(0.9, 0.1, 12)}
    ).assign(
        response_type=lambda t: np.where(t.selected, "a", "not stimulus-locked"),
        intercept_dff=0.0,
        coef_a=1.0,
    )
    gap = np.zeros(400, dtype=bool)
    gap[160:240] = True
    np.testing.assert_allclose(
        heatmap_panels(traces, table, 4, 100, 0.05, np.zeros(400, bool))[0][0][1],
        heatmap_panels(traces, table, 4, 100, 0.05)[0][0][1],
        atol=1e-12,
    )
    traces[:, gap] = 0.0
    panels, n_bins = heatmap_panels(traces, table, 4, 100, 0.05, gap)
    other = traces.copy()
    other[:, gap] = rng.normal(0, 50, (12, gap.sum()))  # what the gaps hold does not matter
    again, _ = heatmap_panels(other, table, 4, 100, 0.05, gap)
    for (_, values, rows), (_, values2, rows2) in zip(panels, again, strict=True):
        assert rows == rows2
        np.testing.assert_array_equal(values, values2)
    z = panels[0][1]
    assert n_bins == 100 and np.isnan(z[:, 40:60]).all() and np.isfinite(np.delete(z, np.s_[40:60], 1)).all()
    trials_only = zscored(downsample(np.delete(traces, np.s_[160:240], 1), 4))
    np.testing.assert_allclose(np.delete(z, np.s_[40:60], 1), trials_only[panels[0][2]], atol=1e-12)
    examples = response_example_traces(traces, table, ["a"], np.ones((1, 400)), 2, gap)
    for _, _, trace, model in examples:
        assert np.isnan(trace[gap]).all() and np.isnan(model[gap]).all() and np.isfinite(trace[~gap]).all()


# --- sessions cut into trials: the gaps are breaks, marked on every time axis -------------------------

# A session of TIME_S cut into trials: frames 0-19 and 35-49 (a gap of frames 20-34 between them),
# 50-59 a third trial right after the second (several files read back to back: no gap).
TRIAL_BOUNDS = np.array([[0, 20], [35, 50], [50, 60]])
TRIAL_GAP = np.zeros(TIME_S.size, dtype=bool)
TRIAL_GAP[20:35] = True


def trial_gaps_s():
    from calcium.input.trial_structure import gap_spans_s

    return gap_spans_s(TRIAL_BOUNDS, TIME_S.size, FS, START_S)


def gap_marks(ax) -> list[tuple[str, float, float]]:
    """The trial marks of `mark_trial_gaps` on ax: (gid, first s, last s to the µs), in x order."""
    marks = []
    for artist in ax.get_children():
        if artist.get_gid() == "trial gap":
            marks.append(("trial gap", artist.get_x(), artist.get_x() + artist.get_width()))
        elif artist.get_gid() == "trial boundary":
            marks.append(("trial boundary", *artist.get_xdata()))
    return sorted(((gid, round(float(a), 6), round(float(b), 6)) for gid, a, b in marks), key=lambda m: m[1])


EXPECTED_MARKS = [
    ("trial gap", START_S + 2.0, START_S + 3.5),
    ("trial boundary", START_S + 5.0, START_S + 5.0),
]


def test_gap_spans_are_the_runs_of_frames_outside_trials_and_the_boundaries_without_gap():
    from calcium.input.trial_structure import gap_spans_s

    np.testing.assert_allclose(trial_gaps_s(), [[102.0, 103.5], [105.0, 105.0]])
    # frames before the first trial and after the last are gaps too; one trial over it all: none
    spans = gap_spans_s(np.array([[3, 20], [20, 50]]), 60, 10.0)
    np.testing.assert_allclose(spans, [[0.0, 0.3], [2.0, 2.0], [5.0, 6.0]])
    assert gap_spans_s(np.array([[0, 60]]), 60, 10.0).shape == (0, 2)


def test_figure_gaps_are_none_for_a_continuous_session_and_the_trial_tables_gaps_otherwise(tmp_path):
    """What the figure scripts draw: nothing more for a rule without a trials input (a continuous
    session), the gap frames of the frames drawn and the spans to mark for one with trials."""
    from calcium.input.trial_structure import figure_gaps

    class Inputs(dict):
        __getattr__ = dict.__getitem__

    facts = {"n_frames": TIME_S.size, "frame_rate_hz": FS, "start_time_s": START_S}
    assert figure_gaps(Inputs(facts="recording.json"), facts) == (None, None)
    table = pd.DataFrame(TRIAL_BOUNDS / FS + START_S, columns=["start_s", "stop_s"])
    table = table.assign(start_frame=TRIAL_BOUNDS[:, 0], stop_frame=TRIAL_BOUNDS[:, 1])
    table.to_csv(tmp_path / "trials.csv", index=False)
    gap, spans = figure_gaps(Inputs(trials=str(tmp_path / "trials.csv")), facts, slice(10, 40))
    np.testing.assert_array_equal(gap, TRIAL_GAP[10:40])
    np.testing.assert_allclose(spans, trial_gaps_s())


def test_regressors_of_a_session_with_trials_break_at_the_gap_which_is_marked():
    """The regressors are 0 in the gaps (no presentation there): drawn as a break, not as 0, and
    normalised by their maximum over the trials; without trials no mark is drawn."""
    from calcium.input.trial_structure import blank_gaps
    from calcium.outputs.plot_style import GAP_LABEL

    regressors = REGRESSORS.copy()
    regressors[:, TRIAL_GAP] = 0.0
    figure = regressors_figure(
        TIME_S, STIM_LABELS, BOXCARS, blank_gaps(regressors, TRIAL_GAP), gaps_s=trial_gaps_s()
    )
    for ax, regressor in zip(figure.axes, regressors, strict=True):
        line = line_labelled(ax, "convolved regressor").get_ydata()
        assert np.isnan(line[TRIAL_GAP]).all()
        np.testing.assert_allclose(
            line[~TRIAL_GAP], regressor[~TRIAL_GAP] / regressor[~TRIAL_GAP].max(), rtol=1e-6
        )
        assert gap_marks(ax) == EXPECTED_MARKS
        assert ax.get_xlim() == (TIME_S[0], TIME_S[-1])
    assert GAP_LABEL in figure.axes[0].get_legend_handles_labels()[1]
    assert label_problems(figure) == []
    plt.close(figure)
    figure = regressors_figure(TIME_S, STIM_LABELS, BOXCARS, REGRESSORS)
    assert all(gap_marks(ax) == [] for ax in figure.axes)


def test_raster_of_a_session_with_trials_marks_its_gaps_and_boundaries_in_the_legend():
    from calcium.outputs.plot_style import BOUNDARY_LABEL, GAP_LABEL

    shifted = RASTER_EVENTS.assign(onset_s=START_S + RASTER_EVENTS.onset_s / 5)  # within TIME_S
    figure = raster_figure(shifted, N_NEURONS, 6.0, start_time_s=START_S, gaps_s=trial_gaps_s())
    ax = figure.axes[0]
    assert gap_marks(ax) == EXPECTED_MARKS
    assert ax.get_xlim() == (START_S, START_S + 6.0)  # the recording, gaps included
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend == [GAP_LABEL, BOUNDARY_LABEL]
    band = [a for a in ax.get_children() if a.get_gid() == "trial gap"][0]
    assert band.get_zorder() < min(c.get_zorder() for c in ax.collections)  # behind the ticks
    plt.close(figure)
    figure = raster_figure(shifted, N_NEURONS, 6.0, start_time_s=START_S)
    assert gap_marks(figure.axes[0]) == [] and figure.axes[0].get_legend() is None


def test_coactivity_of_a_session_with_trials_breaks_at_the_separator_bins_and_marks_the_gap():
    """Bins separating two trials hold no frame and are never tested: no value is drawn there
    (the line breaks, instead of dropping to 0), none is marked above the null, and their
    threshold is not in the legend nor the null panel."""
    separators = np.zeros(BIN_START_S.size, dtype=bool)
    separators[[10, 11]] = True
    start_s = BIN_START_S.copy()
    start_s[[10, 11]] = start_s[10]  # the gap's start (the previous trial's end)
    n_active = N_ACTIVE.copy()
    n_active[[10, 11]] = 0
    threshold = np.full(BIN_START_S.size, 6.0)
    threshold[[10, 11]] = -3.0  # whatever the separators hold
    gaps_s = np.array([[start_s[10], start_s[12]]])
    figure = coactivity_figure(
        start_s, n_active, threshold, NULL_HIST, N_NEURONS, separators=separators, gaps_s=gaps_s
    )
    ax, ax_null = figure.axes
    line = ax.lines[0].get_ydata()
    assert np.isnan(line[separators]).all()
    np.testing.assert_array_equal(line[~separators], n_active[~separators])
    np.testing.assert_array_equal(line_labelled(ax, "above the null").get_xdata(), start_s[n_active > 6.0])
    assert np.isnan(line_labelled(ax, "null threshold").get_ydata()[separators]).all()
    assert line_labelled(ax, "null threshold").get_label() == "null threshold (6)"
    assert [line.get_ydata()[0] for line in ax_null.lines] == [6.0]
    assert gap_marks(ax) == [("trial gap", start_s[10], start_s[12])]
    plt.close(figure)
    figure = coactivity_figure(BIN_START_S, N_ACTIVE, 6.0, NULL_HIST, N_NEURONS)
    assert gap_marks(figure.axes[0]) == []
    np.testing.assert_array_equal(figure.axes[0].lines[0].get_ydata(), N_ACTIVE)


# The figures on a session's time axis besides the raster, coactivity and regressors (tested above).
TIME_AXIS_FIGURES = {
    "trace_steps": lambda g: trace_steps_figure(
        TIME_S, [(n, u, v[:1]) for n, u, v in STEPS], SPIKE_TIMES[:1], NEURON_IDS[:1], gaps_s=g
    ),
    "events_on_traces": lambda g: events_on_traces_figure(
        TIME_S, EVENT_TRACES[:1], EVENTS, THRESHOLDS, NEURON_IDS[:1], gaps_s=g
    ),
    "evaluation": lambda g: evaluation_figure(**evaluation_inputs(), gaps_s=g),
    "heatmaps": lambda g: heatmaps_figure(TIME_S[::2], heat_panels(), STIMULI, gaps_s=g),
    "response_examples": lambda g: response_examples_figure(TIME_S, response_examples(), STIMULI, gaps_s=g),
}


@pytest.mark.parametrize("name", TIME_AXIS_FIGURES)
def test_time_axis_figures_mark_the_gaps_of_a_session_with_trials_and_not_of_a_continuous_one(name):
    """Each panel marks the gap (a band) and the boundary without gap (a line); the marks change
    no axis limit; a continuous session: no mark."""
    marked, plain = TIME_AXIS_FIGURES[name](trial_gaps_s()), TIME_AXIS_FIGURES[name](None)
    data_axes = [ax for ax in marked.axes if ax.get_label() != "<colorbar>"]
    plain_axes = [ax for ax in plain.axes if ax.get_label() != "<colorbar>"]
    for ax, before in zip(data_axes, plain_axes, strict=True):
        assert gap_marks(ax) == EXPECTED_MARKS
        assert gap_marks(before) == []
        assert ax.get_xlim() == before.get_xlim() and ax.get_ylim() == before.get_ylim()
    assert label_problems(marked) == []

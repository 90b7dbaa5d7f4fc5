"""The study level (results/study/) and variants: the library on small tables, the rule on the
default run's outputs (no second full run), the rule graph by dry runs."""

from __future__ import annotations

import json
import re
import shutil

import matplotlib
import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO, snakemake

from calcium.errors import ConfigError, InputError
from calcium.input.sheet import fill_defaults
from calcium.outputs.study_page import study_page
from calcium.outputs.study_plots import SESSION_METRICS, neurons_figure, sessions_figure, variants_figure
from calcium.study.tables import (
    block_correlations,
    check_session_ids,
    coactivity_summary,
    ensemble_summary,
    grouping_columns,
    row_correlations,
    spike_summary,
    study_tables,
    variant_tables,
)
from calcium.study.variants import flat_changes, merged_config, variant_configs

matplotlib.use("Agg")

# ---------------------------------------------------------------- grouping columns and config


def sheet(**columns) -> pd.DataFrame:
    table = pd.DataFrame({"session": ["a", "b", "c"], **columns})
    return table.set_index("session", drop=False)


def test_default_grouping_is_the_filled_subject_and_condition_columns():
    assert grouping_columns(sheet(subject=["", "", ""], condition=["", "", ""]), None, "s.tsv") == []
    assert grouping_columns(sheet(subject=["m1", "m1", "m2"], condition=["", "", ""]), None, "s.tsv") == [
        "subject"
    ]
    both = sheet(subject=["m1", "m1", "m2"], condition=["ctl", "drug", "ctl"])
    assert grouping_columns(both, None, "s.tsv") == ["subject", "condition"]
    assert grouping_columns(both, [], "s.tsv") == []
    assert grouping_columns(both, ["condition"], "s.tsv") == ["condition"]


@pytest.mark.parametrize(
    ("table", "group_by", "error", "expected"),
    [
        (sheet(subject=["m1", "m1", "m2"]), ["cohort"], InputError, ["s.tsv", "'cohort'", "study.group_by"]),
        (sheet(subject=["m1", "", "m2"]), None, InputError, ["s.tsv", "line 3", "column subject", "empty"]),
        (sheet(cohort=["x", "y", " "]), ["cohort"], InputError, ["line 4", "column cohort"]),
        (sheet(subject=["m1", "m1", "m2"]), ["session"], ConfigError, ["study.group_by", "'session'"]),
    ],
    ids=["missing-column", "empty-default-column", "blank-named-column", "reserved-name"],
)
def test_bad_grouping_is_one_line_naming_sheet_column_and_fix(table, group_by, error, expected):
    with pytest.raises(error) as raised:
        grouping_columns(table, group_by, "s.tsv")
    message = str(raised.value)
    assert "\n" not in message
    for text in expected:
        assert text in message


def test_session_ids_that_are_results_folders_are_refused():
    check_session_ids(["s1", "studyA"], "s.tsv")
    with pytest.raises(InputError, match="'study'.*rename"):
        check_session_ids(["s1", "study"], "s.tsv")


def test_variant_config_changes_only_its_keys_and_never_nests():
    config = {
        "deconvolution": {"penalty": "l1", "s_min": 0},
        "study": {"group_by": None, "variants": {"l0": {"deconvolution": {"penalty": "l0"}}}},
    }
    merged = merged_config(config, {"deconvolution": {"penalty": "l0"}})
    assert merged["deconvolution"] == {"penalty": "l0", "s_min": 0}
    assert merged["study"]["variants"] == {}
    assert config["deconvolution"]["penalty"] == "l1"  # the default run's config is untouched
    assert config["study"]["variants"]
    assert flat_changes({"events": {"k_sigma": 4}, "deconvolution": {"penalty": "l0"}}) == (
        "deconvolution.penalty=l0; events.k_sigma=4"
    )


def config_and_schema() -> tuple[dict, dict]:
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    return fill_defaults(yaml.safe_load((REPO / "config.yaml").read_text()), schema), schema


def test_variant_configs_are_the_config_with_the_variants_keys_changed():
    config, schema = config_and_schema()
    config["study"]["variants"] = {
        "l0": {"deconvolution": {"penalty": "l0"}},
        "strict": {"events": {"k_sigma": 6, "min_amplitude_dff": 0.2}},
    }
    variants = variant_configs(config, schema)
    assert list(variants) == ["l0", "strict"]
    for name, merged in variants.items():
        changed = {
            f"{section}.{key}"
            for section, values in merged.items()
            if isinstance(values, dict) and section != "study"
            for key in values
            if values[key] != config[section][key]
        }
        assert changed == {f"{s}.{k}" for s, keys in config["study"]["variants"][name].items() for k in keys}
        assert merged["study"]["variants"] == {}


@pytest.mark.parametrize(
    ("variants", "expected"),
    [
        ({"l2": {"deconvolution": {"penalty": "l2"}}}, ["study.variants.l2", "'l2'", "penalty"]),
        (
            {"same": {"deconvolution": {"penalty": "l1"}}},
            ["study.variants.same", "deconvolution.penalty", "already"],
        ),
        ({"w": {"stimulus": {"response_window_s": [3, 0]}}}, ["study.variants.w", "response_window_s"]),
        ({"typo": {"deconvolution": {"penalti": "l0"}}}, ["study.variants.typo", "penalti"]),
    ],
    ids=["invalid-value", "changes-nothing", "window-out-of-order", "unknown-key"],
)
def test_bad_variant_is_one_line_naming_it(variants, expected):
    config, schema = config_and_schema()
    config["study"]["variants"] = variants
    with pytest.raises(ConfigError) as raised:
        variant_configs(config, schema)
    for text in expected:
        assert text in str(raised.value)


# ---------------------------------------------------------------- summaries on small tables


def test_row_correlations_equal_numpy_and_constant_rows_are_nan():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(10, 50)).astype(np.float32)
    b = a + rng.normal(scale=0.5, size=a.shape).astype(np.float32)
    b[3] = 2.0
    keep = np.arange(10) != 3
    expected = np.array([np.corrcoef(a[i], b[i])[0, 1] for i in np.flatnonzero(keep)])
    got = row_correlations(a, b)
    assert np.isnan(got[3])
    np.testing.assert_allclose(got[keep], expected, rtol=1e-6)
    np.testing.assert_array_equal(block_correlations(a, b, block_rows=3), got)
    assert np.isnan(block_correlations(a, b[:5])).all()  # other neurons: nothing to compare
    with pytest.raises(ValueError):
        row_correlations(a, b[:5])


def test_spike_summary_counts_every_neuron_including_silent_ones():
    spikes = pd.DataFrame({"neuron": [0, 0, 0, 2], "time_s": [1.0, 2.0, 3.0, 4.0]})
    summary = spike_summary(spikes, n_neurons=4, duration_s=10.0)
    assert summary["n_spikes"] == 4
    assert summary["n_neurons_with_spikes"] == 2
    assert summary["mean_spike_rate_hz"] == pytest.approx(4 / 4 / 10)
    assert summary["median_spike_rate_hz"] == pytest.approx(0.05)  # rates 0.3, 0, 0.1, 0


def test_significant_bins_are_strictly_above_threshold_and_at_least_min_active():
    bins = pd.DataFrame({"n_active_window": [1, 3, 4, 5, 2], "fraction_active": [0.1, 0.3, 0.4, 0.5, 0.2]})
    thresholds = np.array([0.5, 3.0, 3.0, 3.0, 1.0])
    null = {"min_active": 3, "bin_s": 0.5, "percentile": 99}
    events = pd.DataFrame({"n_active": [4, 5]})
    summary = coactivity_summary(bins, thresholds, null, events, duration_s=120.0)
    # bin 0: 1 < min_active; bin 1: 3 not above 3; bin 4: 2 < min_active
    assert summary["n_significant_bins"] == 2
    assert summary["significant_bin_fraction"] == pytest.approx(0.4)
    assert summary["ensemble_event_rate_per_min"] == pytest.approx(1.0)
    assert summary["mean_ensemble_event_size"] == pytest.approx(4.5)


def test_ensemble_summary_counts_each_neuron_once():
    ensembles = pd.DataFrame({"n_members": [3, 2], "members": ["0 1 2", "2 5"]})
    summary = ensemble_summary(ensembles, n_neurons=10)
    assert summary["n_ensembles"] == 2
    assert summary["mean_ensemble_size"] == pytest.approx(2.5)
    assert summary["fraction_neurons_in_ensembles"] == pytest.approx(0.4)
    empty = ensemble_summary(pd.DataFrame({"n_members": [], "members": []}), n_neurons=10)
    assert empty["n_ensembles"] == 0 and empty["fraction_neurons_in_ensembles"] == 0


def synthetic_session(n_neurons: int, rate_per_min: float, stimuli: bool, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    duration_s, n_bins = 60.0, 120
    counts = rng.poisson(rate_per_min, n_neurons)
    features = pd.DataFrame(
        {
            "neuron": np.arange(n_neurons),
            "event_rate_per_min": counts.astype(float),
            "mean_amplitude_dff": rng.uniform(0.5, 1.5, n_neurons),
        }
    )
    summary = pd.DataFrame(
        {
            "session": ["x"],
            "n_neurons": [n_neurons],
            "n_neurons_with_events": [int((counts > 0).sum())],
            "n_events": [int(counts.sum())],
            "mean_event_rate_per_min": [counts.mean()],
            "mean_mean_amplitude_dff": [features.mean_amplitude_dff.mean()],
        }
    )
    coactivity = pd.DataFrame(
        {
            "n_frames": np.full(n_bins, 5),
            "n_active_window": rng.integers(0, 5, n_bins),
            "fraction_active": rng.uniform(0, 0.2, n_bins),
        }
    )
    null = {
        "min_active": 2,
        "bin_s": 0.5,
        "percentile": 99,
        "jitter_bins": 0,
        "thresholds": [
            {"frames": 5, "n_bins": n_bins, "threshold_n_active": 3.0, "threshold_statistic": 3.0}
        ],
    }
    tables = {
        "recording": {
            "n_neurons": n_neurons,
            "duration_s": duration_s,
            "frame_rate_hz": 10.0,
            "indicator": "GCaMP6s",
        },
        "features_summary": summary,
        "features": features,
        "spike_times": pd.DataFrame({"neuron": rng.integers(0, n_neurons, 50)}),
        "coactivity": coactivity,
        "null": null,
        "ensemble_events": pd.DataFrame({"n_active": [3, 4]}),
        "ensembles": pd.DataFrame(
            {"ensemble": [0], "n_members": [3], "n_events": [5], "p_value": [0.01], "members": ["0 1 2"]}
        ),
        "expected_accuracy": pd.DataFrame({"band": [0], "expected_correlation": [0.5]}),
        "expected_accuracy_neurons": pd.DataFrame(
            {"expected_correlation": rng.uniform(0.3, 0.7, n_neurons), "quality_flag": [False] * n_neurons}
        ),
    }
    if stimuli:
        tables["regression"] = pd.DataFrame(
            {
                "response_type": ["a", "a", "not stimulus-locked"] + ["b"] * (n_neurons - 3),
                "selected": [True, True, False] + [True] * (n_neurons - 3),
            }
        )
    return tables


GROUPS = {
    "m1-ctl": {"subject": "m1", "condition": "control"},
    "m1-drug": {"subject": "m1", "condition": "drug"},
    "m2-ctl": {"subject": "m2", "condition": "control"},
}


def synthetic_study() -> dict:
    return {
        session: synthetic_session(n, rate, stimuli, seed)
        for seed, (session, n, rate, stimuli) in enumerate(
            [("m1-ctl", 20, 2.0, True), ("m1-drug", 30, 6.0, False), ("m2-ctl", 25, 2.5, True)]
        )
    }


def test_study_tables_hold_each_sessions_own_values_with_its_groups():
    sessions = synthetic_study()
    tables = study_tables(sessions, GROUPS)
    summary = tables["sessions"].set_index("session")
    assert list(summary.index) == list(GROUPS)
    for session, t in sessions.items():
        row = summary.loc[session]
        assert (row.subject, row.condition) == (GROUPS[session]["subject"], GROUPS[session]["condition"])
        assert row.n_neurons == t["recording"]["n_neurons"]
        assert row.mean_event_rate_per_min == pytest.approx(t["features_summary"].mean_event_rate_per_min[0])
        assert row.median_event_rate_per_min == pytest.approx(np.median(t["features"].event_rate_per_min))
        assert row.median_expected_correlation == pytest.approx(
            np.median(t["expected_accuracy_neurons"].expected_correlation)
        )
        n_active = t["coactivity"].n_active_window.to_numpy()
        assert row.significant_bin_fraction == pytest.approx(np.mean(n_active > 3))
        neurons = tables["neurons"][tables["neurons"].session == session]
        np.testing.assert_array_equal(neurons.event_rate_per_min, t["features"].event_rate_per_min)
        assert set(neurons.condition) == {GROUPS[session]["condition"]}
    assert np.isnan(summary.loc["m1-drug", "fraction_stimulus_locked"])
    assert summary.loc["m1-ctl", "fraction_stimulus_locked"] == pytest.approx(19 / 20)
    types = tables["response_types"]
    assert set(types.session) == {"m1-ctl", "m2-ctl"}  # sessions with stimuli only
    assert types.groupby("session").n_neurons.sum().to_dict() == {"m1-ctl": 20, "m2-ctl": 25}
    assert list(tables["evaluation"].columns[:3]) == ["session", "subject", "condition"]  # empty, with header
    for name, table in tables.items():
        assert list(table.columns[:3]) == ["session", "subject", "condition"], name


def test_a_silent_session_gives_zeros_not_errors():
    silent = synthetic_session(10, 0.0, False, 5)
    silent["features"] = silent["features"].iloc[:0]
    silent["spike_times"] = silent["spike_times"].iloc[:0]
    silent["ensemble_events"] = silent["ensemble_events"].iloc[:0]
    silent["ensembles"] = silent["ensembles"].iloc[:0]
    silent["coactivity"]["n_active_window"] = 0
    tables = study_tables({"quiet": silent}, {"quiet": {"condition": "ctl"}})
    row = tables["sessions"].iloc[0]
    assert row.n_ensembles == 0 and row.significant_bin_fraction == 0 and row.mean_spike_rate_hz == 0
    assert np.isnan(row.mean_ensemble_size) and np.isnan(row.median_event_rate_per_min)
    assert len(tables["ensemble_sizes"]) == 0 and list(tables["ensemble_sizes"].columns[:2]) == [
        "session",
        "condition",
    ]
    figure = sessions_figure(tables["sessions"], ["condition"])
    matplotlib.pyplot.close(figure)


def test_variant_tables_compare_each_variant_with_the_default_run():
    sessions = synthetic_study()
    runs, correlations = {}, {}
    for session, t in sessions.items():
        fewer = dict(t, spike_times=t["spike_times"].iloc[::2])
        runs[session] = {"default": t, "l0": fewer}
        n = t["recording"]["n_neurons"]
        correlations[session] = {"l0": np.linspace(0.5, 1.0, n)}
    compared, neurons = variant_tables(runs, correlations, GROUPS)
    assert len(compared) == 2 * len(sessions)
    assert set(compared.variant) == {"default", "l0"}
    l0 = compared[compared.variant == "l0"].set_index("session")
    default = compared[compared.variant == "default"].set_index("session")
    for session, t in sessions.items():
        assert default.loc[session, "n_spikes"] == len(t["spike_times"])
        assert l0.loc[session, "n_spikes"] == len(t["spike_times"].iloc[::2])
        assert l0.loc[session, "median_activity_correlation"] == pytest.approx(0.75)
        rows = neurons[neurons.session == session]
        assert len(rows) == t["recording"]["n_neurons"]
        assert rows.n_spikes_default.sum() == len(t["spike_times"])
    assert np.isnan(default.median_activity_correlation).all()


def test_sessions_figure_draws_one_point_per_session_in_each_panel():
    tables = study_tables(synthetic_study(), GROUPS)
    figure = sessions_figure(tables["sessions"], ["subject", "condition"])
    drawn = [c for c, _ in SESSION_METRICS]
    assert len(figure.axes) == 2 * len(drawn)
    for ax in figure.axes:
        points = [line for line in ax.get_lines() if line.get_marker() not in ("None", None, "")]
        assert len(points) == 3  # one per session, never one per neuron
        assert ax.get_ylabel() or ax in figure.axes[1::2]
    labels = [ax.get_ylabel() for ax in figure.axes[::2]]
    assert any("events/min" in label for label in labels) and any("Hz" in label for label in labels)
    condition_axes = figure.axes[-1]
    assert [t.get_text() for t in condition_axes.get_xticklabels()] == ["control", "drug"]
    # event rates by condition: the two control sessions at x = 0, the drug session alone at 1
    lines = figure.axes[3].get_lines()
    rates = {
        round(line.get_xdata()[0], 3): line.get_ydata()[0] for line in lines if line.get_marker() != "None"
    }
    assert sorted(round(x) for x in rates) == [0, 0, 1]
    summary = tables["sessions"].set_index("session")
    assert rates[1.0] == pytest.approx(summary.loc["m1-drug", "mean_event_rate_per_min"])
    # subject m1 (control and drug) is joined by a line from its control to its drug session
    (paired,) = [line for line in lines if line.get_marker() == "None"]
    control_xs = {x for x in rates if round(x) == 0}
    assert paired.get_xdata()[0] in control_xs and paired.get_xdata()[1] == 1.0
    np.testing.assert_allclose(
        paired.get_ydata(), summary.loc[["m1-ctl", "m1-drug"], "mean_event_rate_per_min"]
    )
    assert not [line for line in figure.axes[2].get_lines() if line.get_marker() == "None"]  # subject panels
    matplotlib.pyplot.close(figure)


def test_without_groups_every_session_is_one_point_of_one_column():
    tables = study_tables(synthetic_study(), {s: {} for s in GROUPS})
    assert list(tables["sessions"].columns[:2]) == ["session", "indicator"]
    figure = sessions_figure(tables["sessions"], [])
    assert len(figure.axes) == len(SESSION_METRICS)
    for ax in figure.axes:
        xs = [line.get_xdata()[0] for line in ax.get_lines()]
        assert len(xs) == 3 and all(abs(x) < 0.5 for x in xs)
        # each point with a value names its session, beside the point
        ys = [line.get_ydata()[0] for line in ax.get_lines()]
        named = {text.get_text(): text.xy for text in ax.texts}
        assert len(named) == sum(np.isfinite(y) for y in ys)
        assert set(named) <= set(tables["sessions"].session)
        assert all(min(abs(np.array(xs) - x)) < 1e-9 for x, _ in named.values())
    assert [t.get_text() for t in figure.axes[-1].get_xticklabels()] == ["all sessions"]
    matplotlib.pyplot.close(figure)


def test_neurons_figure_has_one_box_per_session():
    tables = study_tables(synthetic_study(), GROUPS)
    figure = neurons_figure(tables["neurons"], tables["sessions"], ["condition"])
    for ax in figure.axes:
        assert len(ax.get_xticklabels()) == 3
        assert "(" in ax.get_ylabel()  # units
    # ordered by condition: the drug session last
    assert figure.axes[0].get_xticklabels()[-1].get_text().startswith("m1-drug")
    matplotlib.pyplot.close(figure)


def test_variants_figure_draws_each_session_once_per_variant():
    sessions = synthetic_study()
    runs = {s: {"default": t, "l0": t, "l1": t} for s, t in sessions.items()}
    ones = {s: np.ones(t["recording"]["n_neurons"]) for s, t in sessions.items()}
    compared, _ = variant_tables(runs, {s: {"l0": ones[s], "l1": ones[s]} for s in sessions}, GROUPS)
    figure = variants_figure(compared)
    for ax in figure.axes:
        drawn = [len(line.get_xdata()) for line in ax.get_lines() if line.get_marker() == "o"]
        assert drawn == [3, 3]  # per variant, one point per session
        assert "(" in ax.get_ylabel()
    matplotlib.pyplot.close(figure)


def test_study_page_escapes_user_text_and_links_every_browser():
    tables = study_tables(synthetic_study(), GROUPS)
    summary = tables["sessions"].copy()
    summary.loc[0, "condition"] = "<script>alert(1)</script>"
    links = {s: f"../{s}/browser.html" for s in GROUPS}
    page = study_page(summary, ["subject", "condition"], links, {"A <b> figure": b"png"}, None, {})
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "A &lt;b&gt; figure" in page
    for session in GROUPS:
        assert f'<a href="../{session}/browser.html">{session}</a>' in page
    assert page.count("<tr>") == 1 + len(GROUPS)


# ---------------------------------------------------------------- the rule on the default run


@pytest.fixture(scope="module")
def study_run(default_run, tmp_path_factory):
    """The default run's copy with subject and condition in its sheet, and `snakemake study` run."""
    workdir = tmp_path_factory.mktemp("study") / "run"
    shutil.copytree(default_run, workdir, symlinks=True)
    sheet = workdir / "resources" / "sessions.tsv"
    lines = sheet.read_text().splitlines()
    values = {"s1": "fish1\tcontrol", "s2": "fish2\tdrug"}
    rows = [lines[0] + "\tsubject\tcondition"] + [f"{line}\t{values[line.split()[0]]}" for line in lines[1:]]
    sheet.write_text("\n".join(rows) + "\n")
    result = snakemake(workdir, "study")
    assert result.returncode == 0, result.stdout[-3000:]
    return workdir, result.stdout


def read(path):
    return pd.read_csv(path)


def test_study_runs_only_the_study_job_on_a_finished_run(study_run):
    workdir, log = study_run
    stats = log.split("Job stats:", 1)[1].split("Select jobs")[0]
    assert re.search(r"^study\s+1$", stats, flags=re.M) and re.search(r"^total\s+1$", stats, flags=re.M)


def test_study_tables_equal_each_sessions_own_tables(study_run):
    workdir, _ = study_run
    study, results = workdir / "results" / "study", workdir / "results"
    summary = read(study / "sessions.csv").set_index("session")
    assert list(summary.index) == ["s1", "s2"]
    assert summary.loc["s1", "condition"] == "control" and summary.loc["s2", "subject"] == "fish2"
    for session in ("s1", "s2"):
        facts = json.loads((results / session / "ingest" / "recording.json").read_text())
        assert summary.loc[session, "n_neurons"] == facts["n_neurons"]
        own = read(results / session / "events" / "features_summary.csv")
        events = read(study / "events.csv").set_index("session").loc[[session]].reset_index()
        pd.testing.assert_frame_equal(events.drop(columns=["subject", "condition"]), own, check_dtype=False)
        features = read(results / session / "events" / "features.csv")
        neurons = read(study / "neurons.csv")
        mine = neurons[neurons.session == session].drop(columns=["session", "subject", "condition"])
        pd.testing.assert_frame_equal(mine.reset_index(drop=True), features, check_dtype=False)
        ensembles = read(results / session / "ensembles" / "ensembles.csv")
        sizes = read(study / "ensemble_sizes.csv")
        assert sizes[sizes.session == session].n_members.tolist() == ensembles.n_members.tolist()
        spikes = read(results / session / "spike_times.csv")
        assert read(study / "spikes.csv").set_index("session").loc[session, "n_spikes"] == len(spikes)
        # every significant bin lies inside one of the session's ensemble events
        coactivity = read(study / "coactivity.csv").set_index("session").loc[session]
        events = read(results / session / "population" / "ensemble_events.csv")
        assert coactivity.n_ensemble_events == len(events)
        covered = sum(int(row.last_bin - row.first_bin + 1) for row in events.itertuples())
        assert 0 < coactivity.n_significant_bins <= covered
    types = read(study / "response_types.csv")
    assert set(types.session) == {"s1"}  # the one session with stimuli
    assert types.n_neurons.sum() == summary.loc["s1", "n_neurons"]
    evaluation = read(study / "evaluation.csv").set_index("session")
    assert (
        evaluation.loc["s2", "median_f1"] == read(results / "s2" / "evaluation" / "summary.csv").median_f1[0]
    )


def test_study_page_links_each_sessions_browser_and_embeds_the_figures(study_run):
    workdir, _ = study_run
    study = workdir / "results" / "study"
    page = (study / "study.html").read_text()
    for session in ("s1", "s2"):
        link = f'href="../{session}/browser.html"'
        assert link in page
        assert (study / ".." / session / "browser.html").exists()
    assert page.count("data:image/png;base64,") == 2
    assert 'src="http' not in page and "<script" not in page  # self-contained, no code
    for name in ("sessions", "neurons"):
        assert (study / "figures" / f"{name}.png").stat().st_size > 10_000


def planned(workdir, *targets) -> dict[str, int]:
    result = snakemake(workdir, "--dry-run", *targets)
    assert result.returncode == 0, result.stdout[-3000:]
    if "Nothing to be done" in result.stdout:
        return {}
    counts = {}
    for line in result.stdout.split("Job stats:", 1)[1].splitlines()[3:]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        counts[parts[0]] = int(parts[1])
    return counts


def test_adding_a_session_reruns_only_its_jobs_and_the_study(study_run, tmp_path):
    workdir = tmp_path / "run"
    shutil.copytree(study_run[0], workdir, symlinks=True)
    sheet = workdir / "resources" / "sessions.tsv"
    lines = sheet.read_text().splitlines()
    s2 = next(line for line in lines if line.startswith("s2\t"))
    sheet.write_text("\n".join([*lines, "s3" + s2[2:].replace("fish2", "fish3")]) + "\n")
    counts = planned(workdir, "study")
    assert counts.pop("study") == 1
    assert counts.pop("total") == 1 + sum(counts.values())
    assert {"ingest", "deconvolve", "events", "ensembles", "browser"} <= set(counts)
    assert all(n == 1 for n in counts.values()), counts  # one job per rule: the new session's
    dry = snakemake(workdir, "--dry-run", "study").stdout
    jobs = re.findall(r"wildcards: session=(\w+)", dry)
    assert set(jobs) == {"s3"}


def edit_config(workdir, edit):
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    edit(config)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))


def test_variant_runs_the_workflow_again_under_its_folder_and_leaves_the_default_alone(study_run, tmp_path):
    workdir = tmp_path / "run"
    shutil.copytree(study_run[0], workdir, symlinks=True)
    edit_config(workdir, lambda c: c["study"].update(variants={"l0": {"deconvolution": {"penalty": "l0"}}}))
    assert planned(workdir) == {}  # the default run: nothing to do, its paths and jobs unchanged
    counts = planned(workdir, "study")
    study = counts.pop("study")
    counts.pop("total")
    assert study == 1
    assert all(rule.startswith("variant_l0_") for rule in counts), counts
    assert counts["variant_l0_deconvolve"] == 2 and counts["variant_l0_events"] == 2
    # `snakemake variants`: every output of the variant (figures, browser pages, NWB files)
    everything = planned(workdir, "variants")
    assert everything.pop("variants") == 1 and everything.pop("total") > 20
    assert all(rule.startswith("variant_l0_") for rule in everything), everything
    assert everything["variant_l0_nwb"] == 2 and everything["variant_l0_browser"] == 2
    # The variant's chain of one session, run for real: identical where the penalty does not
    # matter (ΔF/F, detrending, events on the detrended trace), different where it does.
    base, variant = workdir / "results" / "s2", workdir / "results" / "variants" / "l0" / "s2"
    targets = [f"results/variants/l0/s2/{name}" for name in ("spikes.npy", "events/events.csv")]
    result = snakemake(workdir, *targets)
    assert result.returncode == 0, result.stdout[-3000:]
    for name in ("dff.npy", "detrended.npy", "events/events.csv"):
        assert (variant / name).read_bytes() == (base / name).read_bytes(), name
    spikes, spikes_l0 = np.load(base / "spikes.npy"), np.load(variant / "spikes.npy")
    assert spikes.shape == spikes_l0.shape and not np.array_equal(spikes, spikes_l0)
    assert (workdir / "results" / "variants" / "l0" / "logs" / "s2" / "deconvolve.log").exists()


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda c: c["study"].update(group_by=["cohort"]), ["sessions.tsv", "'cohort'", "study.group_by"]),
        (lambda c: c["study"].update(variants={"x": {"study": {"group_by": []}}}), ["config is invalid"]),
    ],
    ids=["missing-group-column", "variant-of-study"],
)
def test_bad_study_config_stops_before_anything_runs(workflow_copy, edit, expected):
    edit_config(workflow_copy, edit)
    result = snakemake(workflow_copy, "--dry-run", "study")
    assert result.returncode != 0
    for text in expected:
        assert text in result.stdout, result.stdout[-3000:]
    assert "Traceback" not in result.stdout

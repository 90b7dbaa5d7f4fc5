"""The workflow end to end: outputs, determinism, bad input, lint and format."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO, SHARED, prestarted, snakemake, tool

from calcium.evaluation.scoring import spikefinder_correlation
from calcium.signal.deconvolution_settings import default_settings

SIGNAL_STAGES = ["dff", "detrended", "denoised", "calcium", "spikes", "activity"]


def sessions(workdir):
    return pd.read_csv(workdir / "resources" / "sessions.tsv", sep="\t")


def test_every_output_exists_and_is_sane(default_run):
    for row in sessions(default_run).itertuples():
        out = default_run / "results" / row.session
        facts = json.loads((out / "ingest" / "recording.json").read_text())
        raw = np.loadtxt(default_run / row.path, delimiter=",", dtype=np.float32)
        assert (facts["n_neurons"], facts["n_frames"]) == raw.shape
        assert facts["duration_s"] == pytest.approx(raw.shape[1] / row.frame_rate_hz)
        ingested = np.load(out / "ingest" / "fluorescence.npy")
        np.testing.assert_allclose(ingested, raw, rtol=1e-6)
        for stage in SIGNAL_STAGES:
            array = np.load(out / f"{stage}.npy", allow_pickle=False)
            assert array.shape == raw.shape and array.dtype == np.float32, stage
            assert np.isfinite(array).all(), stage
        scan = json.loads((out / "scan_rate.json").read_text())  # natively sampled: no interpolation
        assert scan["interpolation_ratio"] is None and scan["knot_contrast"] > 0.1, scan
        dff = np.load(out / "dff.npy")
        # F0 is the lower quartile: a quarter of each neuron's ΔF/F is at or below 0.
        np.testing.assert_allclose(np.mean(dff <= 1e-6, axis=1), 0.25, atol=0.01)
        assert (np.load(out / "spikes.npy") >= 0).all()
        table = pd.read_csv(out / "deconvolution.tsv", sep="\t")
        assert list(table.neuron) == list(range(raw.shape[0]))
        assert {"baseline_dff", "g1", "tau_decay_s", "lambda", "noise_sd_dff"} <= set(table.columns)
        # each neuron's quality flag beside its settings, as the expected-accuracy table has it
        quality = pd.read_csv(out / "evaluation" / "expected_accuracy_neurons.csv")
        assert table.quality_flag.tolist() == quality.quality_flag.tolist()
        np.testing.assert_array_equal(table.expected_correlation, quality.expected_correlation)
        assert table.expected_correlation.notna().all()  # the shipped references give every neuron one
        spike_table = pd.read_csv(out / "spike_times.csv")
        assert list(spike_table.columns) == ["neuron", "frame", "time_s", "amplitude_dff"]
        # frame k at start_time_s + k / rate, moved earlier by the rule's timing correction
        config = yaml.safe_load((default_run / "config.yaml").read_text())
        lag_s = default_settings(row.indicator, row.frame_rate_hz, config["deconvolution"])["lag_s"]
        assert 0 < lag_s < 1 / row.frame_rate_hz
        np.testing.assert_allclose(
            spike_table.time_s,
            facts.get("start_time_s", 0.0) + spike_table.frame / row.frame_rate_hz - lag_s,
            rtol=0,
            atol=1e-5,
        )
        arrays = np.load(out / "spike_times.npz", allow_pickle=False)
        assert len(arrays.files) == raw.shape[0]
        assert sum(arrays[k].size for k in arrays.files) == len(spike_table)
        assert (out / "figures" / "traces.png").stat().st_size > 10_000


def test_inferred_spikes_match_planted_spikes(default_run):
    """The default chain recovers the synthetic data's planted spikes (±1 frame)."""
    for row in sessions(default_run).itertuples():
        truth = pd.read_csv(default_run / "resources" / "truth" / f"{row.session}.spikes.csv")
        found = pd.read_csv(default_run / "results" / row.session / "spike_times.csv")
        hits = recalled = 0
        for neuron, true_frames in truth.groupby("neuron").frame:
            inferred = found.frame[found.neuron == neuron].to_numpy()
            if inferred.size:
                distance = np.abs(true_frames.to_numpy()[:, None] - inferred[None, :])
                recalled += int((distance.min(axis=1) <= 1).sum())
        for neuron, inferred_frames in found.groupby("neuron").frame:
            true_frames = truth.frame[truth.neuron == neuron].to_numpy()
            if true_frames.size:
                distance = np.abs(inferred_frames.to_numpy()[:, None] - true_frames[None, :])
                hits += int((distance.min(axis=1) <= 1).sum())
        recall = recalled / len(truth)
        precision = hits / len(found)
        assert recall > 0.8 and precision > 0.8, (row.session, recall, precision)


POPULATION_OUTPUTS = [
    "events/events.csv",
    "events/event_thresholds.tsv",
    "events/features.csv",
    "events/features_summary.csv",
    "population/coactivity.csv",
    "population/null_shuffles.csv",
    "population/null_histogram.csv",
    "population/null_threshold.json",
    "population/ensemble_events.csv",
    "population/ensemble_event_neurons.csv",
    "ensembles/ensemble_activations.csv",
    "ensembles/ensemble_members.csv",
    "ensembles/ensembles.csv",
    "ensembles/similarity.npy",
    "ensembles/clustering.json",
    "figures/events.png",
    "figures/raster.png",
    "figures/features.png",
    "figures/coactivity.png",
    "figures/similarity.png",
    "figures/ensembles.png",
]


def test_population_outputs_are_tidy_and_consistent(default_run):
    for row in sessions(default_run).itertuples():
        out = default_run / "results" / row.session
        for name in POPULATION_OUTPUTS:
            assert (out / name).exists(), name
        facts = json.loads((out / "ingest" / "recording.json").read_text())
        events = pd.read_csv(out / "events" / "events.csv")
        assert {"neuron", "onset_s", "peak_s", "amplitude_dff", "fwhm_s", "area_dff_s"} <= set(events.columns)
        assert (events.onset_frame <= events.peak_frame).all() and (
            events.peak_frame <= events.end_frame
        ).all()
        features = pd.read_csv(out / "events" / "features.csv")
        assert list(features.neuron) == list(range(facts["n_neurons"]))
        assert features.event_count.sum() == len(events)
        coactivity = pd.read_csv(out / "population" / "coactivity.csv")
        assert list(coactivity.columns) == [
            "bin",
            "start_s",
            "end_s",
            "n_frames",
            "n_active",
            "fraction_active",
            "n_active_window",
        ]
        assert coactivity.start_s.iloc[-1] < facts["duration_s"] <= coactivity.end_s.iloc[-1] + 1e-9
        assert coactivity.n_frames.sum() == facts["n_frames"]
        assert (coactivity.n_active_window >= coactivity.n_active).all()
        shuffles = pd.read_csv(out / "population" / "null_shuffles.csv")
        assert len(shuffles) == 1000
        threshold = json.loads((out / "population" / "null_threshold.json").read_text())
        assert threshold["min_active"] == 2 and threshold["jitter_bins"] == 1
        ensemble_events = pd.read_csv(out / "population" / "ensemble_events.csv")
        # The statistic: neurons within +-1 bin, ties broken by those in the bin itself.
        scale = threshold["statistic_scale"]
        assert scale == facts["n_neurons"] + 1
        tested = ensemble_events.n_active * scale + ensemble_events.n_active_in_bin
        assert (tested > ensemble_events.threshold_n_active * scale - 1e-6).all()
        assert (ensemble_events.n_active >= threshold["min_active"]).all()
        # Every significant bin belongs to exactly one ensemble event (peak within first..last).
        by_frames = {row["frames"]: row["threshold_statistic"] for row in threshold["thresholds"]}
        frames = coactivity.n_frames.rolling(3, center=True, min_periods=1).sum().astype(int)
        limit = frames.map(by_frames)
        statistic = coactivity.n_active_window * scale + coactivity.n_active
        significant = coactivity.bin[(statistic > limit) & (coactivity.n_active_window >= 2)]
        spans = [
            set(range(a, b + 1))
            for a, b in zip(ensemble_events.first_bin, ensemble_events.last_bin, strict=True)
        ]
        assert set(significant) == set().union(*spans) & set(significant)
        assert all(span & set(significant) for span in spans)
        assert (
            (ensemble_events.first_bin <= ensemble_events.bin)
            & (ensemble_events.bin <= ensemble_events.last_bin)
        ).all()


def test_planted_ensembles_are_recovered(default_run):
    """Each planted ensemble is matched by a detected one with Jaccard >= 0.8 over members."""
    for row in sessions(default_run).itertuples():
        planted = pd.read_csv(default_run / "resources" / "truth" / f"{row.session}.ensembles.csv")
        members = pd.read_csv(default_run / "results" / row.session / "ensembles" / "ensemble_members.csv")
        found = [set(g.neuron) for _, g in members[members.member].groupby("ensemble")]
        for ensemble, group in planted.groupby("ensemble"):
            truth = set(group.neuron)
            best = max((len(truth & f) / len(truth | f) for f in found), default=0.0)
            assert best >= 0.8, (row.session, ensemble, best)


STIMULUS_OUTPUTS = [
    "regressors.csv",
    "stimuli.csv",
    "regression.csv",
    "stimulus_responses.csv",
    "regressors.png",
    "r2.png",
    "heatmaps.png",
    "response_types.png",
]


def test_stimulus_analysis_recovers_planted_response_types(default_run):
    """s1 has a stimulus table: planted tuned neurons get their stimulus; s2 has none and skips."""
    out = default_run / "results" / "s1" / "stimulus"
    for name in STIMULUS_OUTPUTS:
        assert (out / name).exists(), name
    regression = pd.read_csv(out / "regression.csv")
    assert {"neuron", "r2", "selected", "response_type", "coef_looming", "coef_dimming", "coef_prey"} <= set(
        regression.columns
    )
    tuning = pd.read_csv(default_run / "resources" / "truth" / "s1.tuning.csv")
    right = np.mean(
        [
            regression.response_type[n] == label
            for n, label in zip(tuning.neuron, tuning.stimulus, strict=True)
        ]
    )
    assert right >= 0.9
    untuned = regression[~regression.neuron.isin(tuning.neuron)]
    assert untuned.selected.mean() <= 0.1
    responses = pd.read_csv(out / "stimulus_responses.csv")
    assert len(responses) == 3 * len(regression)
    assert not (default_run / "results" / "s2" / "stimulus").exists()


def test_bad_stimulus_table_stops_the_run_before_any_job(workflow_copy):
    stimuli = workflow_copy / "resources" / "s1.stimuli.csv"
    table = pd.read_csv(stimuli)
    table.loc[2, "onset_s"] = 9999.0
    table.to_csv(stimuli, index=False)
    _fails_before_any_output(workflow_copy, "s1.stimuli.csv: line 4: onset 9999.0 s is outside the recording")


def test_evaluation_scores_the_planted_spikes(default_run):
    for row in sessions(default_run).itertuples():
        out = default_run / "results" / row.session / "evaluation"
        table = pd.read_csv(out / "evaluation.csv")
        assert list(table.columns) == [
            "neuron",
            "n_true_spikes",
            "n_true_spikes_outside",
            "n_inferred_spikes",
            "correlation_40ms",
            "precision",
            "recall",
            "f1",
        ]
        truth = pd.read_csv(default_run / row.ground_truth)
        assert table.n_true_spikes.sum() == truth.n_spikes.sum()
        assert (table.n_true_spikes_outside == 0).all()
        # At 5-8 Hz a frame spans 3-5 bins of 40 ms and its inferred count is spread over
        # them, while the synthetic truth puts every spike at its frame's time: even the
        # true counts per frame score only `ceiling`. The inference reaches most of it.
        n_frames = json.loads((out.parent / "ingest" / "recording.json").read_text())["n_frames"]
        ceiling = []
        for _, spikes in truth.groupby("neuron"):
            counts = np.zeros(n_frames)
            np.add.at(counts, spikes.frame.to_numpy(), spikes.n_spikes.to_numpy())
            times = np.repeat(spikes.time_s.to_numpy(), spikes.n_spikes.to_numpy())
            ceiling.append(spikefinder_correlation(counts, row.frame_rate_hz, times))
        summary = pd.read_csv(out / "summary.csv")
        assert summary.median_correlation_40ms.iloc[0] > 0.7 * np.median(ceiling)
        assert summary.median_recall.iloc[0] > 0.75
        assert (out / "evaluation.png").stat().st_size > 10_000


def test_expected_accuracy_ships_with_the_workflow(default_run):
    # The test's working copy has no ../shared beside it: the shipped excerpts
    # (resources/groundtruth) give every session an estimate, per band, with an interval and
    # a quality flag per neuron.
    for row in sessions(default_run).itertuples():
        out = default_run / "results" / row.session / "evaluation"
        table = pd.read_csv(out / "expected_accuracy.csv")
        assert len(table) == 3 and table.n_neurons.sum() > 0
        assert (table.status == "ok").all(), table.note.iloc[0]
        assert table.expected_correlation.between(-1, 1).all()
        assert (table.correlation_p10 < table.expected_correlation).all()
        assert (table.expected_correlation < table.correlation_p90).all()
        assert (table.n_reference_sets >= 3).all()
        neurons = pd.read_csv(out / "expected_accuracy_neurons.csv")
        assert neurons.nu.gt(0).all() and set(neurons.band) == {0, 1, 2}
        np.testing.assert_array_equal(neurons.quality_flag, neurons.expected_correlation < 0.2)
        assert (out / "expected_accuracy.png").stat().st_size > 10_000


def test_npy_input_gives_the_same_traces_as_csv(workflow_copy):
    _only_session(workflow_copy, "s2")
    traces = np.loadtxt(workflow_copy / "resources" / "s2.csv", delimiter=",", dtype=np.float32)
    np.save(workflow_copy / "resources" / "s2.npy", traces)
    sheet_path = workflow_copy / "resources" / "sessions.tsv"
    sheet = pd.read_csv(sheet_path, sep="\t", dtype=str, keep_default_na=False)
    sheet.loc[:, "path"] = "resources/s2.npy"
    sheet.to_csv(sheet_path, sep="\t", index=False)
    result = snakemake(workflow_copy, "results/s2/ingest/fluorescence.npy")
    assert result.returncode == 0, result.stdout[-3000:]
    np.testing.assert_array_equal(
        np.load(workflow_copy / "results" / "s2" / "ingest" / "fluorescence.npy"), traces
    )
    pickled = workflow_copy / "resources" / "s2.npy"
    np.save(pickled, np.array([traces[0], "text"], dtype=object), allow_pickle=True)
    result = snakemake(workflow_copy, "results/s2/ingest/fluorescence.npy", "--forceall")
    assert result.returncode != 0
    assert "pickled arrays are refused" in result.stdout, result.stdout[-3000:]


def test_a_session_interpolated_to_a_faster_clock_is_deconvolved_at_its_scans_rate(workflow_copy):
    """The bundled 8 Hz session np.interp'ed to 10 Hz (ratio 1.25, below what the spectra show):
    the detrend rule proves the interpolation from the ΔF/F (scan_rate.json: found by the knots,
    ratio 1.25 to 1e-6) and every neuron is deconvolved at 8 Hz, the table saying why."""
    _only_session(workflow_copy, "s2")
    traces = np.loadtxt(workflow_copy / "resources" / "s2.csv", delimiter=",", dtype=np.float64)
    scan_times = np.arange(traces.shape[1]) / 8.0
    clock = np.arange(int(scan_times[-1] * 10.0) + 1) / 10.0
    faster = np.array([np.interp(clock, scan_times, row) for row in traces])
    np.savetxt(workflow_copy / "resources" / "s2.csv", faster, delimiter=",", fmt="%.7g")
    _edit_sheet(workflow_copy, frame_rate_hz="10.0", ground_truth="")
    result = snakemake(workflow_copy, "results/s2/deconvolution_settings.tsv")
    assert result.returncode == 0, result.stdout[-3000:]
    scan = json.loads((workflow_copy / "results" / "s2" / "scan_rate.json").read_text())
    assert scan["found_by"] == "knots" and scan["interpolation_ratio"] == pytest.approx(1.25, rel=1e-6)
    table = pd.read_csv(workflow_copy / "results" / "s2" / "deconvolution_settings.tsv", sep="\t")
    np.testing.assert_allclose(table.effective_rate_hz, 8.0, rtol=1e-3)
    assert table.rate_reason.str.contains("proven by the session's traces").all()


def test_suite2p_folder_input_is_neuropil_corrected_cells_only(workflow_copy):
    _only_session(workflow_copy, "s2")
    traces = np.loadtxt(workflow_copy / "resources" / "s2.csv", delimiter=",", dtype=np.float32)
    rng = np.random.default_rng(4)
    neuropil = rng.uniform(50, 150, traces.shape).astype(np.float32)
    folder = workflow_copy / "resources" / "suite2p" / "plane0"
    folder.mkdir(parents=True)
    np.save(folder / "F.npy", traces + 0.7 * neuropil)
    np.save(folder / "Fneu.npy", neuropil)
    iscell = np.ones((traces.shape[0], 2), dtype=np.float32)
    iscell[[3, 7], 0] = 0.0
    np.save(folder / "iscell.npy", iscell)
    _edit_sheet(workflow_copy, path="resources/suite2p/plane0", ground_truth="")
    result = snakemake(workflow_copy, "results/s2/ingest/fluorescence.npy")
    assert result.returncode == 0, result.stdout[-3000:]
    out = workflow_copy / "results" / "s2" / "ingest"
    cells = np.setdiff1d(np.arange(traces.shape[0]), [3, 7])
    np.testing.assert_allclose(np.load(out / "fluorescence.npy"), traces[cells], rtol=1e-5, atol=1e-3)
    labels = pd.read_csv(out / "neurons.tsv", sep="\t").label.tolist()
    assert labels == [f"roi_{i}" for i in cells]


def _real_suite2p_session(workflow_copy):
    folder = SHARED / "data" / "population" / "suite2p-gratings-30hz"
    sheet_path = workflow_copy / "resources" / "sessions.tsv"
    pd.DataFrame(
        [
            {
                "session": "gratings",
                "path": str(folder),
                "frame_rate_hz": 30.4241,
                "indicator": "GCaMP6s",
                "input_kind": "raw",
                "stimuli": "",
                "ground_truth": "",
            }
        ]
    ).to_csv(sheet_path, sep="\t", index=False)
    return ("results/gratings/spike_times.csv", "results/gratings/dff.npy")


@pytest.mark.skipif(
    not (SHARED / "data" / "population" / "suite2p-gratings-30hz").exists(), reason="no ../shared"
)
@prestarted(_real_suite2p_session)
def test_real_suite2p_folder_runs_through_the_signal_chain(prestarted_run):
    workflow_copy, result = prestarted_run
    assert result.returncode == 0, result.stdout[-3000:]
    facts = json.loads((workflow_copy / "results" / "gratings" / "ingest" / "recording.json").read_text())
    assert (facts["n_neurons"], facts["n_frames"]) == (20, 24600)  # the 20 ROIs iscell marks as cells
    assert np.isfinite(np.load(workflow_copy / "results" / "gratings" / "dff.npy")).all()


def _silent_session(workflow_copy):
    """Session s2 replaced by 12 neurons of steady fluorescence with 1 % noise."""
    _only_session(workflow_copy, "s2")
    sheet_path = workflow_copy / "resources" / "sessions.tsv"
    sheet = pd.read_csv(sheet_path, sep="\t", dtype=str, keep_default_na=False)
    sheet.loc[:, "ground_truth"] = ""  # the planted spikes belong to the replaced traces
    sheet.to_csv(sheet_path, sep="\t", index=False)
    rng = np.random.default_rng(3)
    quiet = 500.0 * (1 + 0.01 * rng.standard_normal((12, 1200)))
    np.savetxt(workflow_copy / "resources" / "s2.csv", quiet, fmt="%.3f", delimiter=",")
    # one reference per set and one noise band: the expected accuracy runs (and must not crash),
    # at a third of its cost, which does not depend on the session's size
    _edit_config(
        workflow_copy, lambda c: c["expected_accuracy"].update(recordings_per_set=1, n_noise_bands=1)
    )
    # every rule but nwb (its empty tables are left out: tests/test_nwb.py, writer tests)
    return ("--omit-from", "nwb")


@prestarted(_silent_session)
def test_silent_session_writes_empty_tables_with_headers(prestarted_run):
    """No events at all: every output exists, tables have their headers, nothing crashes."""
    workflow_copy, result = prestarted_run
    assert result.returncode == 0, result.stdout[-3000:]
    out = workflow_copy / "results" / "s2"
    events = pd.read_csv(out / "events" / "events.csv")
    assert len(events) == 0 and "onset_s" in events.columns
    assert len(pd.read_csv(out / "population" / "ensemble_events.csv")) == 0
    ensembles = pd.read_csv(out / "ensembles" / "ensembles.csv")
    assert len(ensembles) == 0 and "members" in ensembles.columns
    features = pd.read_csv(out / "events" / "features.csv")
    assert len(features) == 12 and (features.event_count == 0).all()
    for name in POPULATION_OUTPUTS:
        assert (out / name).exists(), name


def test_nothing_to_do_after_a_complete_run(default_run):
    result = snakemake(default_run, "--dry-run")
    assert result.returncode == 0, result.stdout
    assert "Nothing to be done" in result.stdout


def _s2_on_two_processes(workdir):
    """Session s2 with every per-neuron rule given two threads."""
    _only_session(workdir, "s2")
    rules = ("dff", "detrend", "denoise", "deconvolve", "spike_times", "events")
    targets = [f"results/s2/{name}" for name in ("spike_times.csv", "events/events.csv", "denoised.npy")]
    return ("--set-threads", *(f"{rule}=2" for rule in rules), "--", *targets)


@prestarted(_s2_on_two_processes)
def test_two_processes_give_the_outputs_of_one(default_run, prestarted_run):
    """Per-neuron stages split neurons into blocks over processes: the results do not depend on it.

    The bundled sessions are small enough to run in one process; here every per-neuron rule
    gets two (the default run used one).
    """
    workdir, result = prestarted_run
    assert result.returncode == 0, result.stdout[-3000:]
    for stage in SIGNAL_STAGES:
        np.testing.assert_array_equal(
            np.load(workdir / "results" / "s2" / f"{stage}.npy"),
            np.load(default_run / "results" / "s2" / f"{stage}.npy"),
        )
    for name in ("spike_times.csv", "spike_times.npz", "deconvolution_settings.tsv", "events/events.csv"):
        assert (workdir / "results" / "s2" / name).read_bytes() == (
            default_run / "results" / "s2" / name
        ).read_bytes(), name


def _edit_config(workdir, edit):
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    edit(config)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))


def _fails_before_any_output(workdir, *expected):
    result = snakemake(workdir)
    assert result.returncode != 0
    for text in expected:
        assert text in result.stdout, result.stdout[-3000:]
    assert not (workdir / "results").exists() or not any(
        p.suffix == ".npy" for p in (workdir / "results").rglob("*")
    )
    return result


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda c: c.update(bogus=1), ["config is invalid", "'bogus' was unexpected"]),
        (
            lambda c: c["coactivity"].update(jitter_bins="many"),
            ["coactivity.jitter_bins", "not of type 'integer'"],
        ),
        (lambda c: c["dff"].update(percentile=150), ["dff.percentile", "150"]),
        (lambda c: c["spike_times"].update(method="magic"), ["spike_times.method", "magic"]),
    ],
    ids=["unknown-key", "wrong-type", "out-of-range", "unknown-method"],
)
def test_bad_config_stops_before_anything_runs(workflow_copy, edit, expected):
    _edit_config(workflow_copy, edit)
    _fails_before_any_output(workflow_copy, *expected)


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("session", "a/b", ["line 2", "session", "does not match"]),
        ("session", "has space", ["line 2", "session"]),
        ("frame_rate_hz", "0", ["line 2, column frame_rate_hz: '0' is not a finite rate > 0 Hz"]),
        ("frame_rate_hz", "nan", ["line 2, column frame_rate_hz: 'nan' is not a finite rate > 0 Hz"]),
        ("frame_rate_hz", "fast", ["frame_rate_hz", "'fast' is not a number"]),
        ("path", "resources/missing.csv", ["resources/missing.csv does not exist"]),
        ("input_kind", "spikes", ["input_kind"]),
        ("indicator", "GFP", ["unknown indicator 'GFP'"]),
    ],
)
def test_bad_session_sheet_stops_before_anything_runs(workflow_copy, column, value, expected):
    sheet_path = workflow_copy / "resources" / "sessions.tsv"
    sheet = pd.read_csv(sheet_path, sep="\t", dtype=str, keep_default_na=False)
    sheet.loc[0, column] = value
    sheet.to_csv(sheet_path, sep="\t", index=False)
    _fails_before_any_output(workflow_copy, "sessions.tsv", *expected)


def test_empty_csv_stops_before_anything_runs(workflow_copy):
    (workflow_copy / "resources" / "s2.csv").write_text("")
    _fails_before_any_output(workflow_copy, "resources/s2.csv is empty")


def _edit_sheet(workdir, **columns):
    """Set columns of every row of the copy's resources/sessions.tsv (values as text)."""
    sheet_path = workdir / "resources" / "sessions.tsv"
    sheet = pd.read_csv(sheet_path, sep="\t", dtype=str, keep_default_na=False)
    for column, value in columns.items():
        sheet.loc[:, column] = value
    sheet.to_csv(sheet_path, sep="\t", index=False)


def _only_session(workdir, session):
    sheet_path = workdir / "resources" / "sessions.tsv"
    sheet = pd.read_csv(sheet_path, sep="\t", dtype=str, keep_default_na=False)
    sheet[sheet.session == session].to_csv(sheet_path, sep="\t", index=False)


def test_non_numeric_cell_is_reported_with_line_and_column(workflow_copy):
    _only_session(workflow_copy, "s2")
    csv = workflow_copy / "resources" / "s2.csv"
    lines = csv.read_text().splitlines()
    cells = lines[4].split(",")
    cells[7] = "12,3".replace(",", ";")
    lines[4] = ",".join(cells)
    csv.write_text("\n".join(lines) + "\n")
    _fails_before_any_output(workflow_copy, "s2.csv: line 5, column 8", "'12;3' is not a number")


def _nan_cell_then_interpolation(workflow_copy):
    """Session s2 with a NaN cell: refused, then run to ingest with interpolation asked for."""
    _only_session(workflow_copy, "s2")
    csv = workflow_copy / "resources" / "s2.csv"
    lines = csv.read_text().splitlines()
    cells = lines[2].split(",")
    cells[10] = "NaN"
    lines[2] = ",".join(cells)
    csv.write_text("\n".join(lines) + "\n")
    _fails_before_any_output(workflow_copy, "line 3, column 11", "missing_values: interpolate")
    _edit_config(workflow_copy, lambda c: c["input"].update(missing_values="interpolate"))
    return ("--until", "ingest")


@prestarted(_nan_cell_then_interpolation)
def test_nan_cell_stops_unless_interpolation_is_asked_for(prestarted_run):
    # the refusal (before any output) is asserted while preparing the run
    workflow_copy, result = prestarted_run
    assert result.returncode == 0, result.stdout[-3000:]
    facts = json.loads((workflow_copy / "results" / "s2" / "ingest" / "recording.json").read_text())
    assert facts["nan_count"] == 1
    # The layout decided is recorded and logged (issue 23).
    assert facts["layout"] == {
        "format": "csv",
        "header": False,
        "index_column": False,
        "orientation": "neurons_x_frames",
        "byte_order_mark": False,
        "quoted": False,
        "na_cells": 1,
    }
    log = (workflow_copy / "results" / "logs" / "s2" / "ingest.log").read_text()
    assert "layout decided:" in log and "header no" in log


def _background_subtracted_s2(workflow_copy):
    _only_session(workflow_copy, "s2")
    csv = workflow_copy / "resources" / "s2.csv"
    traces = np.loadtxt(csv, delimiter=",")
    traces[[3, 5]] -= np.percentile(traces[[3, 5]], 50, axis=1, keepdims=True)
    np.savetxt(csv, traces, fmt="%.2f", delimiter=",")
    return ()


@prestarted(_background_subtracted_s2)
def test_background_subtracted_input_names_the_neurons_with_low_f0(prestarted_run):
    workflow_copy, result = prestarted_run
    assert result.returncode != 0
    assert "2 neuron(s) (ids counted from 0, as in the output tables): 3, 5" in result.stdout, result.stdout[
        -3000:
    ]
    assert not list((workflow_copy / "results" / "s2").rglob("dff.npy"))


def _s2_as_dff(workflow_copy):
    _only_session(workflow_copy, "s2")
    sheet_path = workflow_copy / "resources" / "sessions.tsv"
    sheet = pd.read_csv(sheet_path, sep="\t", dtype=str, keep_default_na=False)
    sheet.loc[:, "input_kind"] = "dff"
    sheet.to_csv(sheet_path, sep="\t", index=False)
    csv = workflow_copy / "resources" / "s2.csv"  # made ΔF/F (a fraction), as the sheet now says
    traces = np.loadtxt(csv, delimiter=",")
    np.savetxt(csv, traces / np.median(traces, axis=1, keepdims=True) - 1, delimiter=",", fmt="%.6f")
    return ("results/s2/dff.npy",)


def _s2_percent_as_dff(workflow_copy):
    _s2_as_dff(workflow_copy)
    csv = workflow_copy / "resources" / "s2.csv"
    np.savetxt(csv, 100 * np.loadtxt(csv, delimiter=","), delimiter=",", fmt="%.4f")
    return ("results/s2/dff.npy",)


@prestarted(_s2_percent_as_dff)
def test_dff_input_in_percent_stops_naming_the_fix(prestarted_run):
    """ΔF/F in percent given as ΔF/F: every ΔF/F-unit number was 100x off, silently."""
    workflow_copy, result = prestarted_run
    assert result.returncode != 0
    assert "session s2: input_kind dff: " in result.stdout
    assert "look like ΔF/F in percent. Divide them by 100" in result.stdout
    assert "set scale_check: no for this session" in result.stdout
    assert not list((workflow_copy / "results" / "s2").rglob("dff.npy"))
    # the user's override for a session the check misjudges: its traces taken as input_kind says
    sheet_path = workflow_copy / "resources" / "sessions.tsv"
    sheet = pd.read_csv(sheet_path, sep="\t", dtype=str, keep_default_na=False)
    sheet.assign(scale_check="no").to_csv(sheet_path, sep="\t", index=False)
    result = snakemake(workflow_copy, "results/s2/dff.npy")
    assert result.returncode == 0, result.stdout[-3000:]
    traces = np.load(workflow_copy / "results" / "s2" / "ingest" / "fluorescence.npy")
    np.testing.assert_array_equal(np.load(workflow_copy / "results" / "s2" / "dff.npy"), traces)


@prestarted(_s2_as_dff)
def test_dff_input_skips_the_dff_stage(prestarted_run):
    """A session given as ΔF/F is passed through unchanged to detrending."""
    workflow_copy, result = prestarted_run
    assert result.returncode == 0, result.stdout[-3000:]
    out = workflow_copy / "results" / "s2"
    np.testing.assert_array_equal(np.load(out / "dff.npy"), np.load(out / "ingest" / "fluorescence.npy"))


def test_transposed_input_with_header_and_time_column(workflow_copy):
    """frames x neurons with a header row and a time column gives the same traces."""
    _only_session(workflow_copy, "s2")
    csv = workflow_copy / "resources" / "s2.csv"
    traces = np.loadtxt(csv, delimiter=",", dtype=np.float32)
    table = pd.DataFrame(traces.T, columns=[f"roi_{i}" for i in range(traces.shape[0])])
    table.insert(0, "time_s", np.arange(traces.shape[1]) / 8.0)
    table.to_csv(csv, index=False, float_format="%.1f")
    _edit_config(workflow_copy, lambda c: c["input"].update(orientation="frames_x_neurons"))
    result = snakemake(workflow_copy, "--until", "ingest")
    assert result.returncode == 0, result.stdout[-3000:]
    out = workflow_copy / "results" / "s2" / "ingest"
    np.testing.assert_allclose(np.load(out / "fluorescence.npy"), traces, rtol=1e-6)
    labels = pd.read_csv(out / "neurons.tsv", sep="\t").label
    assert labels.iloc[0] == "roi_0" and len(labels) == traces.shape[0]


def test_snakemake_lint_is_clean():
    result = subprocess.run(
        [tool("snakemake"), "--lint"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Congratulations" in result.stdout + result.stderr


def test_snakefiles_are_formatted():
    rules = sorted(str(p) for p in (REPO / "workflow" / "rules").glob("*.smk"))
    result = subprocess.run(
        [tool("snakefmt"), "--check", "Snakefile", *rules], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_python_passes_ruff():
    for command in (["check"], ["format", "--check"]):
        result = subprocess.run(
            [tool("ruff"), *command, "scripts", "tests", "benchmarks"],
            cwd=REPO,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stdout + result.stderr


def _unknown_indicator_then_kinetics(workflow_copy):
    """Session s2 of an unknown indicator: refused, then run with its time constants given."""
    _only_session(workflow_copy, "s2")
    sheet_path = workflow_copy / "resources" / "sessions.tsv"
    sheet = pd.read_csv(sheet_path, sep="\t", dtype=str, keep_default_na=False)
    sheet.loc[:, "indicator"] = "MyNewSensor"
    sheet.to_csv(sheet_path, sep="\t", index=False)
    _fails_before_any_output(workflow_copy, "unknown indicator 'MyNewSensor'", "deconvolution.tau_decay_s")
    _edit_config(workflow_copy, lambda c: c["deconvolution"].update(tau_decay_s=0.6, tau_rise_s=0.05))
    return ("results/s2/spikes.npy",)


@prestarted(_unknown_indicator_then_kinetics)
def test_unknown_indicator_runs_once_its_kinetics_are_given(prestarted_run):
    """The message's advice works: with time constants in config.yaml the indicator is never looked up."""
    # the refusal naming the indicator and the config keys is asserted while preparing the run
    workflow_copy, result = prestarted_run
    assert result.returncode == 0, result.stdout[-3000:]

"""Sessions cut into trials (calcium.input.trial_structure): each trial processed as a recording of its
own, bins and the circular-shift null within trials, and clear errors for bad trial tables."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from calcium.errors import InputError
from calcium.input.trial_structure import (
    file_trials,
    frame_trials,
    parse_file_labels,
    parse_trial_table,
    per_trial_block,
    split_paths,
    trial_frames,
    trial_table,
)
from calcium.population.coactivity import window_frames
from calcium.population.null import thresholds_from_table
from calcium.population.steps import Binning, NullSettings, Recording, coactivity_analysis
from calcium.population.trial_coactivity import trial_bins, trial_layout, trial_shift_null
from calcium.signal import stages
from calcium.signal.deconvolve import deconvolve_block
from calcium.synthetic import SessionDesign, simulate_session_arrays

FS = 10.0
# Three trials of 40, 25 and 60 s with gaps of 5 and 12 s (frames at 10 Hz).
BOUNDS = np.array([[0, 400], [450, 700], [820, 1420]])
N_FRAMES = 1450  # a gap after the last trial too


@pytest.fixture(scope="module")
def recording():
    """Raw fluorescence of 12 neurons with drift, bleaching and transients, 145 s at 10 Hz."""
    design = SessionDesign(
        n_neurons=12, n_frames=N_FRAMES, frame_rate_hz=FS, n_ensembles=0, background_rate_hz=0.1
    )
    fluorescence, _, _ = simulate_session_arrays(design, seed=3)
    return fluorescence.astype(np.float32)


@pytest.fixture(scope="module", params=[2.0, 10.0, 30.0], ids=lambda fs: f"{fs:g}Hz")
def recording_at_rate(request):
    """The same 145 s design (trials of 40, 25 and 60 s, gaps of 5 and 12 s, one after the last
    trial) sampled at a slow, a medium and a fast rate: (fluorescence, fs, bounds in frames)."""
    fs = request.param
    bounds = np.round(np.array([[0.0, 40.0], [45.0, 70.0], [82.0, 142.0]]) * fs).astype(int)
    design = SessionDesign(
        n_neurons=12, n_frames=int(145 * fs), frame_rate_hz=fs, n_ensembles=0, background_rate_hz=0.1
    )
    fluorescence, _, _ = simulate_session_arrays(design, seed=3)
    return fluorescence.astype(np.float32), fs, bounds


def _each_trial_alone(stage, traces, bounds, **settings):
    """The stage on each trial's frames as a recording of its own (rows 0..n-1)."""
    rows = slice(0, traces.shape[0])
    return [stage(rows, traces[:, a:b], **settings) for a, b in bounds]


def test_every_signal_stage_gives_within_each_trial_what_the_trial_alone_gives(recording_at_rate):
    recording, fs, bounds = recording_at_rate
    rows = slice(0, recording.shape[0])
    dff_settings = dict(percentile=25.0, window_s=20.0, frame_rate_hz=fs)
    dff = stages.dff(rows, recording, trials=bounds, **dff_settings).arrays[0]
    detrend_settings = dict(frame_rate_hz=fs, method="percentile", slow_drift_s=20.0, percentile=10.0)
    detrended = stages.detrend(rows, dff, trials=bounds, **detrend_settings).arrays[0]
    denoise_settings = dict(wavelet="sym4", level=3, threshold_rule="universal", threshold_mode="soft")
    denoised = stages.denoise(rows, detrended, trials=bounds, **denoise_settings).arrays[0]
    oasis = dict(frame_rate_hz=fs, smoothing_s=0.2, lag_s=0.0, tau_decay_s=1.25, penalty="l1")
    deconvolved = per_trial_block(deconvolve_block, rows, denoised, bounds, ("spike_sum_dff",), **oasis)
    # denoised input: the detrended traces beside it (its rates and noise), cut into the same trials
    with_noise = dict(noise_traces=detrended, denoise=denoise_settings)
    from_detrended = per_trial_block(
        deconvolve_block, rows, denoised, bounds, ("spike_sum_dff",), **with_noise, **oasis
    )
    event_settings = dict(frame_rate_hz=fs, start_time_s=2.0, k_sigma=4.0, min_amplitude_dff=0.1)
    events = stages.events(rows, detrended, trials=bounds, **event_settings).tables[0]

    gaps = frame_trials(bounds, recording.shape[1]) < 0
    for array in (dff, detrended, denoised, *deconvolved.arrays, *from_detrended.arrays):
        assert np.all(array[:, gaps] == 0)  # gaps are masked (0), never processed
    alone_dff = _each_trial_alone(stages.dff, recording, bounds, **dff_settings)
    for trial, (a, b) in enumerate(bounds):
        np.testing.assert_array_equal(dff[:, a:b], alone_dff[trial].arrays[0])
        alone = stages.detrend(rows, dff[:, a:b], **detrend_settings).arrays[0]
        np.testing.assert_array_equal(detrended[:, a:b], alone)
        alone = stages.denoise(rows, detrended[:, a:b], **denoise_settings).arrays[0]
        np.testing.assert_array_equal(denoised[:, a:b], alone)
        alone = deconvolve_block(rows, denoised[:, a:b], **oasis)
        for within, single in zip(deconvolved.arrays, alone.arrays, strict=True):
            np.testing.assert_array_equal(within[:, a:b], single)
        alone = deconvolve_block(
            rows, denoised[:, a:b], noise_traces=detrended[:, a:b], denoise=denoise_settings, **oasis
        )
        for within, single in zip(from_detrended.arrays, alone.arrays, strict=True):
            np.testing.assert_array_equal(within[:, a:b], single)
        # events: the trial's own, frames moved by its first frame, times on the session's clock
        single = stages.events(rows, detrended[:, a:b], **{**event_settings, "start_time_s": 2.0 + a / fs})
        mine = events[events.trial == trial].drop(columns="trial").reset_index(drop=True)
        expected = single.tables[0].sort_values(["neuron", "onset_frame"], ignore_index=True)
        for column in ("onset_frame", "peak_frame", "end_frame"):
            expected[column] += a
        pd.testing.assert_frame_equal(mine, expected)
        assert mine.onset_frame.ge(a).all() and mine.end_frame.lt(b).all()  # no event spans a boundary
    assert len(events) > 30
    # the per-neuron table: one row per neuron, each trial's spike sums added up
    table = deconvolved.tables[0]
    assert list(table.neuron) == list(range(12)) and (table.n_trials == 3).all()
    np.testing.assert_allclose(table.spike_sum_dff, deconvolved.arrays[1].sum(axis=1), rtol=1e-4)


def test_one_trial_over_the_whole_recording_changes_nothing(recording):
    rows = slice(0, recording.shape[0])
    whole = np.array([[0, N_FRAMES]])
    settings = dict(percentile=25.0, window_s=20.0, frame_rate_hz=FS)
    np.testing.assert_array_equal(
        stages.dff(rows, recording, trials=whole, **settings).arrays[0],
        stages.dff(rows, recording, **settings).arrays[0],
    )


def test_spikes_are_detected_within_trials_with_a_trial_column():
    spikes = np.zeros((2, N_FRAMES), dtype=np.float32)
    spikes[:, [10, 399, 460, 1000]] = 1.0
    spikes[:, 420] = 5.0  # in a gap: never a spike
    table = stages.spike_times(
        slice(0, 2), spikes, FS, np.full(2, 0.05), trials=BOUNDS, method="absolute", absolute=0.5
    ).tables[0]
    assert table.frame.tolist() == [10, 399, 460, 1000] * 2
    assert table.trial.tolist() == [0, 0, 1, 2] * 2
    np.testing.assert_allclose(table.time_s, table.frame / FS)


def test_bins_restart_at_each_trial_and_separators_hold_nothing():
    layout = trial_bins(BOUNDS, N_FRAMES, FS, bin_s=0.5, separator_bins=2)
    assert layout.n_bins == 80 + 2 + 50 + 2 + 120
    assert layout.bin_trial.tolist() == [0] * 80 + [-1] * 2 + [1] * 50 + [-1] * 2 + [2] * 120
    assert (layout.frames_per_bin[layout.bin_trial >= 0] == 5).all()
    assert (layout.frames_per_bin[layout.bin_trial < 0] == 0).all()
    assert (layout.bin_of_frame[frame_trials(BOUNDS, N_FRAMES) < 0] == -1).all()
    # no bin holds frames of two trials; each trial's first bin starts at its first frame
    trial_of_frame = frame_trials(BOUNDS, N_FRAMES)
    inside = layout.bin_of_frame >= 0
    assert (layout.bin_trial[layout.bin_of_frame[inside]] == trial_of_frame[inside]).all()
    assert layout.start_s[layout.bin_of_frame[450]] == 45.0
    # a trial of 25.3 s: its last bin is partial and ends at the trial's end
    odd = trial_bins(np.array([[0, 253]]), 253, FS, 0.5, 2)
    assert odd.n_bins == 51 and odd.end_s[-1] == pytest.approx(25.3) and odd.frames_per_bin[-1] == 3


def _independent_trials(seed: int, gains: tuple[float, ...], n_neurons: int = 100, fs: float = 5.0):
    """Independent Poisson neurons in trials of 10-60 s separated by gaps of 2-5 s (1 h); each
    trial's rates multiplied by a gain drawn from `gains` (a drive shared by every neuron)."""
    rng = np.random.default_rng(seed)
    bounds, t = [], 0
    while True:
        length, gap = int(rng.uniform(10, 60) * fs), int(rng.uniform(2, 5) * fs)
        if t + length > 3600 * fs:
            break
        bounds.append((t, t + length))
        t += length + gap
    bounds = np.array(bounds)
    gain = rng.choice(gains, size=len(bounds))
    rows = []
    for neuron in range(n_neurons):
        rate_hz = rng.uniform(0.05, 0.3)
        for k, (a, b) in enumerate(bounds):
            frames = a + np.flatnonzero(rng.random(b - a) < rate_hz * gain[k] / fs)
            rows.append(pd.DataFrame({"neuron": neuron, "onset_frame": frames, "peak_frame": frames}))
    return pd.concat(rows, ignore_index=True), bounds, int(t), fs, n_neurons


def _significant_fraction(events, bounds, n_frames, fs, n_neurons, with_trials: bool) -> tuple[float, object]:
    recording = Recording(n_neurons, n_frames, fs, 0.0, bounds if with_trials else None)
    result = coactivity_analysis(
        events, recording, Binning(0.5, "onset", 1), NullSettings(500, 0, 99.0, "pooled", 2)
    )
    bins = result.bins
    thresholds = thresholds_from_table(
        result.threshold["thresholds"], window_frames(bins.n_frames.to_numpy(), 1)
    )
    statistic = bins.n_active_window.to_numpy() * (n_neurons + 1) + bins.n_active.to_numpy()
    significant = (statistic > thresholds) & (bins.n_active_window.to_numpy() >= 2)
    tested = bins.n_frames.to_numpy() > 0
    if with_trials:
        tested &= bins.trial.to_numpy() >= 0
    else:  # the same bins: those holding frames of a trial
        tested &= (
            frame_trials(bounds, n_frames)[
                np.minimum((bins.start_s.to_numpy() * fs).astype(int), n_frames - 1)
            ]
            >= 0
        )
    return float(significant[tested].mean()), result


@pytest.mark.parametrize(
    "seed, gains", [(1, (1.0,)), (2, (0.3, 3.0))], ids=["steady", "trial-to-trial drive"]
)
def test_the_null_within_trials_is_calibrated_and_keeps_the_trial_structure(seed, gains):
    """Measured (1 h, 100 neurons, 10-60 s trials, seeds 1-4): 0.77-0.95 % significant bins
    within trials; shifted over the whole recording instead, 3.3 % (events land in gaps) and
    48-51 % with a drive shared by all neurons that changes from trial to trial."""
    events, bounds, n_frames, fs, n = _independent_trials(seed, gains)
    within, result = _significant_fraction(events, bounds, n_frames, fs, n, with_trials=True)
    assert 0.004 <= within <= 0.02, within
    across, _ = _significant_fraction(events, bounds, n_frames, fs, n, with_trials=False)
    assert across > 1.5 * within  # the test can tell: ignoring trials is not calibrated
    # ensemble events lie within one trial, their windows too
    ensemble_events = result.ensemble_events
    assert (ensemble_events.trial >= 0).all()
    layout = trial_layout(Recording(n, n_frames, fs, 0.0, bounds), Binning(0.5, "onset", 1))
    for column in ("first_bin", "last_bin"):
        assert (layout.bin_trial[ensemble_events[column]] == ensemble_events.trial).all()
    starts, stops = bounds[ensemble_events.trial, 0] / fs, bounds[ensemble_events.trial, 1] / fs
    assert (ensemble_events.start_s >= starts).all() and (ensemble_events.end_s <= stops + 1e-9).all()


def test_the_shifted_events_stay_in_their_trial():
    """A neuron firing only in trial 1 is active only in trial 1's bins in every surrogate."""
    layout = trial_bins(BOUNDS, N_FRAMES, FS, 0.5, 2)
    frames = np.array([460, 500, 650])
    null = trial_shift_null(np.zeros(3, int), frames, 2, layout, FS, 0.5, n_shuffles=200, seed=1)
    active = null.sum(axis=0) > 0
    assert set(layout.bin_trial[active]) == {1}
    assert (null.sum(axis=1) == 3).all()  # three events in three bins (they never share one by luck here)
    assert active.sum() > 30  # spread over the trial


# --- the trial table: clear errors -------------------------------------------------------------


def _table(**columns):
    return pd.DataFrame({key: [str(v) for v in values] for key, values in columns.items()})


@pytest.mark.parametrize(
    "table, message",
    [
        (_table(start_s=[0, 10]), "line 1: missing column(s) stop_s"),
        (_table(start_s=[0, 10], stop_s=[5, 10]), "line 3, column stop_s: 10 s is not after start_s 10 s"),
        (
            _table(start_s=[0, 10], stop_s=[12, 20]),
            "line 3, column start_s: the trial starting at 10 s overlaps the trial on line 2",
        ),
        (
            _table(start_s=[0, 10], stop_s=[5, 150]),
            "line 3, column stop_s: 150 s is after the recording ends (145 s)",
        ),
        (
            _table(start_s=[-1, 10], stop_s=[5, 20]),
            "line 2, column start_s: -1 s is before the recording starts",
        ),
        (_table(start_s=[0, "ten"], stop_s=[5, 20]), "line 3, column start_s: 'ten' is not a finite number"),
        (
            _table(start_s=[0, 10], stop_s=[5, 10.5]),
            "line 3, column stop_s: the trial 10 to 10.5 s holds 5 frames",
        ),
        (_table(start_s=[], stop_s=[]), "has no rows"),
        (
            _table(trial=[1, 2], start_s=[0, 10], stop_s=[5, 20]),
            "line 1, column trial: the workflow writes this",
        ),
    ],
)
def test_bad_trial_tables_get_one_clear_line(table, message):
    with pytest.raises(InputError) as error:
        parse_trial_table(table, "trials.csv", duration_s=N_FRAMES / FS, frame_rate_hz=FS)
    text = str(error.value)
    assert text.startswith("trials.csv: ") and "\n" not in text
    assert message in text


def test_a_good_table_is_sorted_keeps_its_labels_and_gives_each_trial_its_frames():
    table = _table(start_s=[82, 0, 45], stop_s=[142, 40, 70], condition=["b", "a", "b"])
    parsed = parse_trial_table(table, "trials.csv", duration_s=N_FRAMES / FS, frame_rate_hz=FS)
    assert parsed.trial.tolist() == [0, 1, 2] and parsed.condition.tolist() == ["a", "b", "b"]
    written = trial_table(parsed, FS, 0.0, N_FRAMES)
    np.testing.assert_array_equal(written[["start_frame", "stop_frame"]].to_numpy(), BOUNDS)
    # on a clock that starts at 100 s, frame f is at 100 + f / 10 s
    np.testing.assert_array_equal(
        trial_frames([100.0, 145.05], [140.0, 170.0], FS, 100.0, N_FRAMES), [[0, 400], [451, 700]]
    )


def test_the_labels_of_several_files_give_no_times_and_one_line_per_file():
    labels = parse_file_labels(_table(condition=["a", " b "]), "labels.csv", 2)
    assert labels.condition.tolist() == ["a", "b"]
    with pytest.raises(InputError, match=r"labels.csv: line 1, column start_s: the session's files are its"):
        parse_file_labels(_table(start_s=[0, 1], condition=["a", "b"]), "labels.csv", 2)
    with pytest.raises(InputError, match=r"labels.csv: 3 line\(s\) of trials for 2 files"):
        parse_file_labels(_table(condition=["a", "b", "c"]), "labels.csv", 2)


def test_several_files_are_trials_back_to_back():
    assert split_paths(" a.csv ; b.csv;") == ["a.csv", "b.csv"] and split_paths("a.csv") == ["a.csv"]
    table = trial_table(file_trials([300, 200], FS, 5.0), FS, 5.0, 500)
    assert table.start_s.tolist() == [5.0, 35.0] and table.stop_s.tolist() == [35.0, 55.0]
    np.testing.assert_array_equal(table[["start_frame", "stop_frame"]].to_numpy(), [[0, 300], [300, 500]])


# --- the session sheet: several files, a trial table (Snakemake: a dry run and the ingest jobs) ---


def _trial_sheet(
    workdir,
    s1_trials: str = "start_s,stop_s,condition\n0,55,light\n60,115,dark\n120,300,light\n",
    s2_labels: str = "condition\nbefore\nafter\n",
):
    """The bundled sheet with s1 cut by a trial table and s2 given as two files (its halves)."""
    resources = workdir / "resources"
    (resources / "s1.trials.csv").write_text(s1_trials)
    (resources / "s2.labels.csv").write_text(s2_labels)
    rows = [line.split(",") for line in (resources / "s2.csv").read_text().splitlines()]
    for part, columns in (("part1", slice(0, 1000)), ("part2", slice(1000, None))):
        (resources / f"s2.{part}.csv").write_text("\n".join(",".join(r[columns]) for r in rows) + "\n")
    lines = (resources / "sessions.tsv").read_text().splitlines()
    out = [lines[0] + "\ttrials"]
    for line in lines[1:]:
        cells = line.split("\t")
        if cells[0] == "s1":
            cells.append("resources/s1.trials.csv")
        else:
            cells[1] = "resources/s2.part1.csv; resources/s2.part2.csv"
            cells.append("resources/s2.labels.csv")  # labels of the two files' trials
        out.append("\t".join(cells))
    (resources / "sessions.tsv").write_text("\n".join(out) + "\n")


def test_a_sheet_with_trial_tables_and_several_files_plans_and_ingests(workflow_copy):
    from conftest import snakemake

    _trial_sheet(workflow_copy)
    planned = snakemake(workflow_copy, "-n")
    assert planned.returncode == 0, planned.stdout[-3000:]
    # The NWB file gets the trial table (intervals/trials), the evaluation and the expected
    # accuracy score and measure within trials, the stimulus rules (s1 has stimuli) fit and
    # align within them, the figures and the browser draw the gaps as breaks (and the figures
    # mark them, the raster and coactivity too): trials.csv is an input of each of these jobs.
    jobs = re.split(r"^\[.*\]$", planned.stdout, flags=re.M)
    for session, rules in (
        (
            "s1",
            (
                "nwb",
                "evaluate",
                "expected_accuracy",
                "regression",
                "trial_responses",
                "stimulus_figures",
                "trace_figures",
                "population_figures",
                "browser",
            ),
        ),
        ("s2", ("nwb", "evaluate", "expected_accuracy", "trace_figures", "population_figures", "browser")),
    ):
        for rule in rules:
            (job,) = [job for job in jobs if f"rule {rule}:" in job and f"session={session}\n" in job]
            inputs = next(line for line in job.splitlines() if line.strip().startswith("input:"))
            assert f"results/{session}/ingest/trials.csv" in inputs, rule
    targets = [f"results/{s}/ingest/trials.csv" for s in ("s1", "s2")]
    result = snakemake(workflow_copy, *targets)
    assert result.returncode == 0, result.stdout[-3000:]
    s1 = pd.read_csv(workflow_copy / targets[0])
    assert s1.condition.tolist() == ["light", "dark", "light"]
    assert s1[["start_frame", "stop_frame"]].to_numpy().tolist() == [[0, 275], [300, 575], [600, 1500]]
    s2 = pd.read_csv(workflow_copy / targets[1])
    assert s2[["start_frame", "stop_frame"]].to_numpy().tolist() == [[0, 1000], [1000, 2400]]
    assert s2.file.tolist() == ["resources/s2.part1.csv", "resources/s2.part2.csv"]
    assert s2.condition.tolist() == ["before", "after"]
    joined = np.load(workflow_copy / "results/s2/ingest/fluorescence.npy")
    original = np.loadtxt(workflow_copy / "resources/s2.csv", delimiter=",", dtype=np.float32)
    np.testing.assert_array_equal(joined, original)  # the two files back to back: the recording


@pytest.mark.parametrize(
    "trials, message",
    [
        ("start_s,stop_s\n0,55\n50,115\n", "line 3, column start_s: the trial starting at 50 s overlaps"),
        ("start_s,end_s\n0,55\n", "line 1: missing column(s) stop_s"),
        (
            "start_s,stop_s\n0,55\n60,700\n",
            "line 3, column stop_s: 700 s is after the recording ends (600 s)",
        ),
    ],
)
def test_a_bad_trial_table_stops_the_run_before_any_job(workflow_copy, trials, message):
    from conftest import snakemake

    _trial_sheet(workflow_copy, trials)
    result = snakemake(workflow_copy, "-n")
    assert result.returncode != 0
    error = next(line for line in result.stdout.splitlines() if line.startswith("Error:"))
    assert "resources/sessions.tsv: line 2: session s1: resources/s1.trials.csv: " in error
    assert message in error


def test_intervals_between_events_are_taken_within_trials():
    from calcium.population.features import event_features

    frames = np.array([390, 395, 455, 460])  # two events at the end of trial 0, two at the start of trial 1
    events = pd.DataFrame(
        {
            "neuron": 0,
            "trial": [0, 0, 1, 1],
            "onset_frame": frames,
            "onset_s": frames / FS,
            "end_frame": frames + 2,
            "amplitude_dff": 1.0,
            "fwhm_s": 0.5,
            "area_dff_s": 1.0,
        }
    )
    within = event_features(events, 1, 650, FS, burst_iei_s=1.0)
    assert within.iei_mean_s.iloc[0] == pytest.approx(0.5)  # 0.5 s and 0.5 s; not the 6 s across the gap
    assert within.burst_index.iloc[0] == 1.0
    across = event_features(events.drop(columns="trial"), 1, 650, FS, burst_iei_s=1.0)
    assert across.iei_mean_s.iloc[0] == pytest.approx(7 / 3)


def test_ensembles_within_trials_are_found_and_never_span_a_boundary():
    """60 independent neurons (20 min in 10-60 s trials) and one planted ensemble of 10 that fires
    together 30 times, some at a trial's first or last frame: it is found whole, its activations
    lie within their trials, and the independent neurons form no ensemble."""
    from calcium.population.ensemble_step import EnsembleSettings, ensemble_analysis

    rng = np.random.default_rng(5)
    events, bounds, n_frames, fs, n = _independent_trials(5, (1.0,), n_neurons=60)
    events = events[events.onset_frame < bounds[24, 1]]  # the first 25 trials (about 15 min)
    bounds, n_frames = bounds[:25], int(bounds[24, 1])
    members = np.arange(10)
    times = np.concatenate(
        [bounds[:5, 0], bounds[5:10, 1] - 1, rng.integers(bounds[10:, 0], bounds[10:, 1])[:20]]
    )
    planted = pd.DataFrame(
        {"neuron": np.repeat(members, times.size), "onset_frame": np.tile(times, members.size)}
    ).assign(peak_frame=lambda t: t.onset_frame)
    events = pd.concat([events, planted], ignore_index=True).sort_values(["neuron", "onset_frame"])
    recording = Recording(n, n_frames, fs, 0.0, bounds)
    binning = Binning(0.5, "onset", 1)
    coactive = coactivity_analysis(events, recording, binning, NullSettings(300, 0, 99.0, "pooled", 2))
    result = ensemble_analysis(
        events,
        coactive.ensemble_events,
        coactive.event_neurons,
        2,
        recording,
        binning,
        EnsembleSettings(n_shuffles=300),
    )
    assert len(result.ensembles) == 1
    assert result.ensembles.members.iloc[0] == " ".join(map(str, members))
    times_table = result.activation_times
    assert len(times_table) >= 25 and (times_table.trial >= 0).all()
    starts, stops = bounds[times_table.trial, 0] / fs, bounds[times_table.trial, 1] / fs
    assert (times_table.start_s >= starts - 1e-9).all() and (times_table.end_s <= stops + 1e-9).all()
    assert (result.activations.trial >= 0).all()


def test_the_null_within_trials_does_not_depend_on_processes_and_is_each_trial_alone():
    from calcium.population.null import circular_shift_null

    events, bounds, n_frames, fs, n = _independent_trials(7, (1.0,), n_neurons=20)
    layout = trial_bins(bounds, n_frames, fs, 0.5, 2)
    args = (events.neuron.to_numpy(), events.onset_frame.to_numpy(), n, layout, fs, 0.5, 40, 3)
    one = trial_shift_null(*args, jitter_bins=1)
    np.testing.assert_array_equal(one, trial_shift_null(*args, jitter_bins=1, processes=2))
    # trial 4's bins: the null of trial 4 as a recording of its own
    a, b = bounds[4]
    inside = (events.onset_frame >= a) & (events.onset_frame < b)
    alone = circular_shift_null(
        events.neuron[inside], events.onset_frame[inside] - a, n, b - a, fs, 0.5, 40, [3, 4], jitter_bins=1
    )
    np.testing.assert_array_equal(one[:, layout.bin_trial == 4], alone)
    assert (one[:, layout.bin_trial < 0] == 0).all()
    # each surrogate keeps every neuron's events per trial (one count per distinct bin)
    assert (one // (n + 1)).max() > 0 and not np.array_equal(one[0], one[1])


def test_dff_input_passes_unchanged_within_trials_and_gaps_are_masked(recording):
    rows = slice(0, recording.shape[0])
    dff = (recording / np.median(recording, axis=1, keepdims=True) - 1).astype(np.float32)
    out = stages.dff(rows, dff, input_kind="dff", trials=BOUNDS).arrays[0]
    inside = frame_trials(BOUNDS, N_FRAMES) >= 0
    np.testing.assert_array_equal(out[:, inside], dff[:, inside])
    assert np.all(out[:, ~inside] == 0)


@pytest.mark.parametrize("fs", [1.0, 30.0], ids=["1Hz", "30Hz"])
def test_the_null_within_trials_is_calibrated_at_slow_and_fast_frame_rates(fs):
    """The within-trial null at the ends of the frame rates imaged (5 Hz above): ~1 % of bins."""
    events, bounds, n_frames, fs, n = _independent_trials(3, (1.0,), n_neurons=60, fs=fs)
    within, _ = _significant_fraction(events, bounds, n_frames, fs, n, with_trials=True)
    assert 0.004 <= within <= 0.02, within

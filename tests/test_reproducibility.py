"""Re-runs after parameter changes, byte-identical repeats, resuming a killed run, the report."""

from __future__ import annotations

import copy
import multiprocessing
import os
import shutil
import signal
import subprocess
import time

import pytest
import yaml
from conftest import checksums, prestarted, snakemake, tool


def planned_rules(workdir) -> dict[str, int]:
    """Rules (and job counts) a dry run would execute, from its "Job stats" table."""
    result = snakemake(workdir, "--dry-run")
    assert result.returncode == 0, result.stdout[-3000:]
    if "Nothing to be done" in result.stdout:
        return {}
    lines = result.stdout.split("Job stats:", 1)[1].splitlines()
    counts = {}
    for line in lines[3:]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        if parts[0] != "total":
            counts[parts[0]] = int(parts[1])
    return counts


@pytest.fixture
def finished_copy(default_run, tmp_path):
    """A copy of the finished default run (outputs, metadata and mtimes kept)."""
    destination = tmp_path / "finished"
    shutil.copytree(default_run, destination, symlinks=True)
    return destination


def edit_config(workdir, edit):
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    edit(config)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))


def test_unchanged_config_plans_nothing(finished_copy):
    assert planned_rules(finished_copy) == {}


# Which rules read each config key (section.key, or section.* for all its keys). Every rule
# not listed must keep its params when the key changes, so that a change re-runs exactly the
# rules that read it and what depends on their outputs. The nwb rule reads the keys the NWB
# file records (all but NOT_IN_NWB): the analysis's parameters, not how figures or the browser are made.
READERS = {
    "input.*": {"ingest"},
    "dff.*": {"dff", "browser"},  # the browser draws F0
    "detrend.*": {"detrend", "expected_accuracy"},  # expected accuracy repeats the chain
    "denoise.*": {"denoise"},  # not deconvolved by default: expected accuracy does not read it
    "deconvolution.input": {"browser", "expected_accuracy"},  # (deconvolve: its input file)
    "deconvolution.ar_order": set(),  # auto = 1: the settings resolved are the same
    # spike_times reads each neuron's lag from deconvolution.tsv (re-run as its input changes)
    "deconvolution.tau_decay_s": {"deconvolve", "events", "expected_accuracy"},
    "deconvolution.tau_rise_s": {"deconvolve", "events", "expected_accuracy"},
    "deconvolution.lag_s": {"deconvolve", "expected_accuracy"},
    "deconvolution.min_decay_frames": {"deconvolve", "expected_accuracy"},
    "deconvolution.*": {"deconvolve", "expected_accuracy"},
    "spike_times.method": {"spike_times", "expected_accuracy"},
    "spike_times.k_noise": {"spike_times", "expected_accuracy"},
    "spike_times.false_positive_rate_hz": {"spike_times", "expected_accuracy"},
    "spike_times.*": set(),  # thresholds of the methods not in use
    "events.input": {"browser", "trace_figures"},  # (events: its input file)
    "events.burst_iei_s": {"features"},
    "events.*": {"events"},
    "coactivity.event_time": {"coactivity", "features", "ensembles", "browser"},
    "coactivity.*": {"coactivity", "features", "ensembles"},
    "coactivity_null.min_active": {"coactivity", "ensembles"},
    "coactivity_null.*": {"coactivity"},
    "ensembles.*": {"ensembles"},
    "stimulus.input": {"browser", "trial_responses"},  # (regression: its input file)
    "stimulus.min_r2": {"regression", "stimulus_figures"},
    "stimulus.heatmap_bin_s": {"stimulus_figures"},
    "stimulus.examples_per_type": {"stimulus_figures", "trial_responses"},
    "stimulus.response_window_s": {"regression", "trial_responses"},
    "stimulus.baseline_window_s": {"regression", "trial_responses"},
    "stimulus.trial_window_s": {"trial_responses", "browser"},
    "stimulus.*": {"regression"},
    "evaluation.example_s": {"evaluate"},
    "evaluation.*": {"evaluate", "expected_accuracy"},
    "expected_accuracy.*": {"expected_accuracy"},
    "figures.max_neurons": {"trace_figures", "population_figures", "stimulus_figures"},
    "figures.*": {"trace_figures"},
    "browser.*": {"browser"},
    "nwb.*": set(),
    "study.*": set(),  # the study rule (`snakemake study`) is not in the default run
}
# Keys the nwb rule does not read: how figures, the browser page and DANDI names are made.
NOT_IN_NWB = {
    "figures.*",
    "browser.*",
    "stimulus.heatmap_bin_s",
    "stimulus.examples_per_type",
    "evaluation.example_s",
    "nwb.dandi_layout",
    "study.*",
}
# Keys whose change is not a parameter change: nwb.dandi_layout adds DANDI-named copies of the
# NWB files (targets, not params; tests/test_nwb.py runs it) and needs subject ids the bundled
# sheet does not give; study.variants adds rules and targets (a copy of the workflow per
# variant, tests/test_study.py).
NOT_PARAMETERS = {"nwb.dandi_layout", "study.variants"}
# New values for keys whose change cannot be derived from the schema (null defaults, free text).
NEW_VALUES = {
    "input.header": False,
    "input.index_column": False,
    "input.orientation": "neurons_x_frames",
    "dff.window_s": 60.0,
    "denoise.wavelet": "db4",
    "denoise.level": 2,
    "deconvolution.tau_decay_s": 1.0,
    "deconvolution.tau_rise_s": 0.1,
    "deconvolution.smoothing_s": 0.05,
    "deconvolution.lag_s": 0.0,
    "spike_times.k_noise": 4.0,
    "events.min_fwhm_s": 0.2,
    "ensembles.linkage": "complete",
    "stimulus.tau_decay_s": 1.5,
    "stimulus.tau_rise_s": 0.1,
    "stimulus.response_window_s": [0.0, 2.0],
    "stimulus.baseline_window_s": [-1.0, 0.0],
    "stimulus.trial_window_s": [-1.0, 4.0],
    "expected_accuracy.ground_truth_dir": "elsewhere",
    "evaluation.bin_s": 0.05,  # 0.8 x 40 ms is finer than both a frame and 40 ms: refused
    "figures.example_neurons": [0, 1],
    "figures.time_window_s": [0.0, 60.0],
    "nwb.institution": "An institute",
    "nwb.lab": "A lab",
    "nwb.experimenter": ["Doe, Jane"],
    "nwb.experiment_description": "a test",
    "study.group_by": [],
}


def changed_value(key: str, value, spec: dict):
    """A valid value of `key` other than `value` (from NEW_VALUES or the key's schema)."""
    if key in NEW_VALUES:
        return NEW_VALUES[key]
    if "enum" in spec:
        return next(option for option in spec["enum"] if option != value)
    if isinstance(value, bool):
        return not value
    if spec.get("type") == "integer":
        return value + 1
    return value * 0.8 if value else 0.1


def parse_each_snakefile_once(monkeypatch) -> None:
    """Snakemake turns each .smk file into Python anew for every workflow it builds, and reads
    config.yaml and the schemas again (half the time of one key's comparison); the files do not
    change between keys, so each is parsed once (a .smk per rule count) and re-used (the forked
    processes inherit what the first comparison parsed)."""
    import snakemake.api  # noqa: F401  (snakemake.workflow imports it first)
    import snakemake.workflow

    parse = snakemake.workflow.parse
    parsed: dict[tuple[str, int], tuple[str, int, dict]] = {}

    def parse_once(path, workflow, linemap, overwrite_shellcmd=None, rulecount=0):
        key = (str(path.get_path_or_uri(secret_free=True)), rulecount)
        if key not in parsed:
            lines: dict[int, int] = {}
            code, count = parse(path, workflow, lines, overwrite_shellcmd, rulecount)
            parsed[key] = code, count, lines
        code, count, lines = parsed[key]
        linemap.update(lines)
        return code, count

    monkeypatch.setattr(snakemake.workflow, "parse", parse_once)
    # The same for the YAML files (config.yaml, the schemas): each read once, a copy handed out
    # (the workflow fills the config's defaults in place).
    load = yaml.load
    loaded: dict[tuple[str, type], object] = {}

    def load_once(stream, Loader):  # noqa: N803  (yaml.load's own name)
        text = stream if isinstance(stream, str) else stream.read()
        if (text, Loader) not in loaded:
            loaded[text, Loader] = load(text, Loader)
        return copy.deepcopy(loaded[text, Loader])

    monkeypatch.setattr(yaml, "load", load_once)


def rules_whose_params_change(workdir, overrides: dict) -> set[str]:
    """Rules of the finished run in `workdir` whose params differ from those recorded, with
    `overrides` on top of config.yaml (Snakemake's own comparison, without running a job)."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import (
        ConfigSettings,
        DAGSettings,
        OutputSettings,
        ResourceSettings,
        StorageSettings,
    )

    with SnakemakeApi(OutputSettings(quiet={"all"})) as api:
        workflow_api = api.workflow(
            resource_settings=ResourceSettings(cores=1),
            config_settings=ConfigSettings(config=overrides),
            storage_settings=StorageSettings(),
            snakefile=workdir / "Snakefile",
            workdir=workdir,
        )
        workflow_api.dag(DAGSettings())
        workflow = workflow_api._workflow
        workflow._prepare_dag(forceall=False, ignore_incomplete=False, lock_warn_only=True)
        workflow._build_dag()
        return {job.rule.name for job in workflow.dag.jobs if workflow.persistence.params_changed(job)}


def test_each_config_key_changes_the_params_of_exactly_the_rules_that_read_it(finished_copy, monkeypatch):
    monkeypatch.chdir(finished_copy)
    parse_each_snakefile_once(monkeypatch)
    config = yaml.safe_load((finished_copy / "config.yaml").read_text())
    schema = yaml.safe_load((finished_copy / "workflow" / "schemas" / "config.schema.yaml").read_text())
    assert rules_whose_params_change(finished_copy, {}) == set()
    cases = []
    for section, values in config.items():
        if not isinstance(values, dict):
            continue  # `sessions`: the sheet, not a parameter
        for key, value in values.items():
            name = f"{section}.{key}"
            if name in NOT_PARAMETERS:
                continue
            spec = schema["properties"][section]["properties"][key]
            new = changed_value(name, value, spec)
            expected = set(READERS.get(name, READERS.get(f"{section}.*")))
            if name not in NOT_IN_NWB and f"{section}.*" not in NOT_IN_NWB:
                expected.add("nwb")
            cases.append((f"{name}: {value!r} -> {new!r}", {section: {key: new}}, expected))
    # Each key's DAG is built in its own forked process (two at a time): the same comparison,
    # in half the time on two cores.
    with multiprocessing.get_context("fork").Pool(2) as pool:
        got = pool.starmap(
            rules_whose_params_change, [(finished_copy, overrides) for _, overrides, _ in cases]
        )
    wrong = {
        case: f"re-runs {sorted(rules)}, expected {sorted(expected)}"
        for (case, _, expected), rules in zip(cases, got, strict=True)
        if rules != expected
    }
    assert not wrong, "\n".join(f"{key}: {problem}" for key, problem in wrong.items())


def test_dff_parameter_reruns_everything_downstream_of_dff(finished_copy):
    edit_config(finished_copy, lambda c: c["dff"].update(percentile=20))
    planned = planned_rules(finished_copy)
    assert "ingest" not in planned
    downstream = {
        "dff",
        "detrend",
        "denoise",
        "deconvolve",
        "spike_times",
        "events",
        "coactivity",
        "ensembles",
        "regression",
        "trace_figures",
        "stimulus_figures",
        "browser",
    }
    assert downstream <= set(planned)
    assert planned["dff"] == 2  # one job per session


# The analysis chain only: what comes after it (figures, NWB, browser, expected accuracy) is
# written the same way by every rule (a temporary file renamed into place), so resuming the chain
# tests it; the default run checks those outputs byte for byte elsewhere.
PRESENTATION_RULES = ("expected_accuracy", "trace_figures", "population_figures", "stimulus_figures")
PRESENTATION_RULES += ("roi_map", "nwb", "browser", "evaluate", "trial_responses")


def _killed_run_of_s2(workdir):
    """Session s2's analysis chain, killed once detrended.npy is written, then unlocked: the
    arguments that resume it (the finished ingest output's mtime in killed_mtime_ns)."""
    sheet = workdir / "resources" / "sessions.tsv"
    lines = sheet.read_text().splitlines()
    sheet.write_text("\n".join([lines[0]] + [line for line in lines[1:] if line.startswith("s2\t")]) + "\n")
    chain_only = ("--omit-from", *PRESENTATION_RULES)
    process = subprocess.Popen(
        [tool("snakemake"), "--cores", "1", *chain_only],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    marker = workdir / "results" / "s2" / "detrended.npy"
    deadline = time.monotonic() + 300
    while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, "the run finished before it could be interrupted"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (workdir / "results" / "s2" / "ensembles" / "ensembles.csv").exists()
    kept = workdir / "results" / "s2" / "ingest" / "fluorescence.npy"
    (workdir / "killed_mtime_ns").write_text(str(kept.stat().st_mtime_ns))
    # A killed run leaves its lock behind; unlock, then finish what was incomplete.
    assert snakemake(workdir, "--unlock").returncode == 0
    return ("--rerun-incomplete", *chain_only)


@prestarted(_killed_run_of_s2)
def test_killed_run_resumes_to_the_same_outputs(default_run, prestarted_run):
    """A second run, killed and resumed, gives the first run's outputs byte for byte (session s2)."""
    workdir, result = prestarted_run
    assert result.returncode == 0, result.stdout[-3000:]
    kept = workdir / "results" / "s2" / "ingest" / "fluorescence.npy"
    kept_mtime = int((workdir / "killed_mtime_ns").read_text())
    assert kept.stat().st_mtime_ns == kept_mtime  # finished outputs were kept, not redone
    resumed = checksums(workdir)
    expected = {name: digest for name, digest in checksums(default_run).items() if name in resumed}
    assert "results/s2/ensembles/ensembles.csv" in resumed and len(resumed) > 25
    assert resumed == expected


def test_report_holds_every_figure_with_its_caption(default_report):
    html = default_report.read_text(errors="replace")
    assert len(html) > 1_000_000  # figures are embedded
    for text in (
        "Signal chain",
        "Coactivity and ensembles",
        "Stimulus-locked",
        "circular shifts",
        "Jaccard similarity",
        "traces.png",
        "heatmaps.png",
    ):
        assert text in html, text

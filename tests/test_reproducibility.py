"""Re-runs after parameter changes, byte-identical repeats, resuming a killed run, the report."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

import pytest
import yaml
from conftest import checksums, copy_workflow, snakemake, tool


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


def test_ensemble_parameter_reruns_only_the_ensemble_rules(finished_copy):
    edit_config(finished_copy, lambda c: c["ensembles"].update(membership_alpha=0.01))
    planned = planned_rules(finished_copy)
    assert set(planned) == {"ensembles", "population_figures", "browser", "nwb", "all"}
    assert planned["ensembles"] == 2  # both sessions


def test_null_parameter_reruns_the_null_and_what_depends_on_it(finished_copy):
    edit_config(finished_copy, lambda c: c["coactivity_null"].update(n_shuffles=500))
    planned = set(planned_rules(finished_copy))
    assert planned == {"coactivity", "ensembles", "population_figures", "browser", "nwb", "all"}


def test_dff_parameter_reruns_everything_downstream_of_dff(finished_copy):
    edit_config(finished_copy, lambda c: c["dff"].update(percentile=20))
    planned = planned_rules(finished_copy)
    assert "ingest" not in planned and "regressors" not in planned
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


def test_killed_run_resumes_to_the_same_outputs(default_run, tmp_path):
    """A second run, killed and resumed, gives the first run's outputs byte for byte (session s2)."""
    workdir = copy_workflow(tmp_path / "killed")
    sheet = workdir / "resources" / "sessions.tsv"
    lines = sheet.read_text().splitlines()
    sheet.write_text("\n".join([lines[0]] + [line for line in lines[1:] if line.startswith("s2\t")]) + "\n")
    process = subprocess.Popen(
        [tool("snakemake"), "--cores", "1"],
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
    assert not (workdir / "results" / "s2" / "figures" / "ensembles.png").exists()
    kept = workdir / "results" / "s2" / "ingest" / "fluorescence.npy"
    kept_mtime = kept.stat().st_mtime_ns
    # A killed run leaves its lock behind; unlock, then finish what was incomplete.
    assert snakemake(workdir, "--unlock").returncode == 0
    result = snakemake(workdir, "--rerun-incomplete")
    assert result.returncode == 0, result.stdout[-3000:]
    assert kept.stat().st_mtime_ns == kept_mtime  # finished outputs were kept, not redone
    expected = {name: digest for name, digest in checksums(default_run).items() if "/s2/" in name}
    assert len(expected) > 30 and checksums(workdir) == expected


def test_report_holds_every_figure_with_its_caption(default_run):
    result = subprocess.run(
        [tool("snakemake"), "--report", "report.html"],
        cwd=default_run,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    html = (default_run / "report.html").read_text(errors="replace")
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

"""Shared fixtures: a private copy of the workflow to run Snakemake in."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

# One BLAS/OpenMP thread per process in the test session (and the workflow runs it starts):
# the suite runs a workflow in the background beside the unit tests on two cores, where two
# BLAS threads per process only oversubscribe them (measured: the suite 9 s faster). Set before
# any test module imports numpy; a value the caller set is kept.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
BIN = Path(sys.executable).parent
WORKFLOW_FILES = ["Snakefile", "config.yaml", "pyproject.toml", "workflow", "scripts", "envs", "resources"]


DATA_SUFFIXES = (".npy", ".npz", ".csv", ".tsv", ".json", ".html")


def checksums(workdir: Path) -> dict[str, str]:
    """sha256 of every table and array under results/ (not logs or benchmarks)."""
    files = sorted(
        p
        for p in (workdir / "results").rglob("*")
        if p.suffix in DATA_SUFFIXES and not {"logs", "benchmarks"} & set(p.parts)
    )
    return {str(p.relative_to(workdir)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def tool(name: str) -> str:
    """Path of a command installed beside the running Python (the project's venv)."""
    found = BIN / name
    return str(found) if found.exists() else name


def copy_workflow(destination: Path) -> Path:
    """Copy the workflow and its bundled data into `destination` (a fresh working dir)."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, destination / name)
    return destination


def snakemake(workdir: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run Snakemake in `workdir`; returns the finished process (stdout+stderr in .stdout)."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run(
        [tool("snakemake"), "--cores", "2", *args],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        env=env,
    )


@pytest.fixture
def workflow_copy(tmp_path: Path) -> Path:
    return copy_workflow(tmp_path / "run")


@pytest.fixture(scope="session", autouse=True)
def default_run_started(request, tmp_path_factory):
    """The full run of the workflow on the bundled data, started in the background when the
    session begins if a selected test reads it (None otherwise): the tests that do not read it
    run meanwhile (most use one core; the run is two cores' worth of jobs for ~35 s)."""
    if not any("default_run" in item.fixturenames for item in request.session.items):
        yield None
        return
    workdir = copy_workflow(tmp_path_factory.mktemp("default") / "run")
    output = open(workdir.parent / "snakemake.out", "w+")  # a file: a pipe would fill and stall it
    process = subprocess.Popen(
        [tool("snakemake"), "--cores", "2"],
        cwd=workdir,
        stdout=output,
        stderr=subprocess.STDOUT,
        env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"),
        start_new_session=True,
    )
    yield workdir, process, output
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait()
    output.close()


@pytest.fixture(scope="session")
def default_run(default_run_started) -> Path:
    """One full run of the workflow on the bundled data, shared by the tests that read it."""
    if default_run_started is None:  # asked for by request.getfixturevalue: not foreseen
        workdir = copy_workflow(Path(tempfile.mkdtemp(prefix="default")) / "run")
        result = snakemake(workdir)
        assert result.returncode == 0, result.stdout[-5000:]
        return workdir
    workdir, process, output = default_run_started
    process.wait(timeout=900)
    output.seek(0)
    assert process.returncode == 0, output.read()[-5000:]
    return workdir


def pytest_collection_modifyitems(config, items):
    """The tests that read the default run after all others (it runs in the background
    meanwhile), and the SLURM test last (its run too starts when the session begins)."""
    items.sort(
        key=lambda item: (item.path.name == "test_slurm.py", "default_run" in item.fixturenames)
    )  # a stable sort


@pytest.fixture(scope="session", autouse=True)
def slurm_run(request, tmp_path_factory):
    """The SLURM run of tests/test_slurm.py, started at once when that test is selected and a
    cluster is ready (None otherwise); stopped, if still going, when the session ends."""
    if not any(item.path.name == "test_slurm.py" for item in request.session.items):
        yield None
        return
    from slurm_run import SlurmRun, slurm_problem

    if slurm_problem() is not None:
        yield None
        return
    run = SlurmRun(tmp_path_factory.mktemp("slurm") / "run")
    yield run
    run.stop()

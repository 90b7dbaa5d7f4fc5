"""Shared fixtures: a private copy of the workflow to run Snakemake in."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
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


# The niceness of the workflow runs the session starts in the background (see `prestarted`).
BACKGROUND_NICE = 10

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


def _environment() -> dict:
    """A copy of os.environ taken from a background thread: pytest sets and removes
    PYTEST_CURRENT_TEST on the main thread meanwhile, and copying while a key goes raised KeyError
    (seen once in a full run)."""
    for _ in range(100):
        try:
            return dict(os.environ)
        except (KeyError, RuntimeError):
            continue
    return dict(os.environ)


def snakemake(workdir: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run Snakemake in `workdir`; returns the finished process (stdout+stderr in .stdout).

    From the test session's main thread, Snakemake's command line runs in a forked child of
    the session, which has imported Snakemake already: the same program, arguments and output
    as the `snakemake` command, without its second of imports (the suite runs it ~80 times).
    Elsewhere (the background threads) it is the command itself."""
    command = [tool("snakemake"), "--cores", "2", *args]
    if threading.current_thread() is threading.main_thread():
        return _forked_snakemake(workdir, command, timeout)
    env = dict(_environment(), PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run(
        command,
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        env=env,
    )


def _forked_snakemake(workdir: Path, command: list[str], timeout: float) -> subprocess.CompletedProcess:
    """`command` (snakemake and its arguments) run by snakemake.cli.main in a forked child."""
    import snakemake.api  # noqa: F401  (before snakemake.cli, which it imports in turn)
    import snakemake.cli

    with tempfile.TemporaryFile("w+") as output:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child: never returns into pytest
            code = 1
            try:
                os.chdir(workdir)
                os.dup2(output.fileno(), 1)
                os.dup2(output.fileno(), 2)
                sys.stdout = sys.stderr = os.fdopen(1, "w", closefd=False)
                sys.dont_write_bytecode = True
                sys.argv = command
                try:
                    snakemake.cli.main(command[1:])
                    code = 0
                except SystemExit as end:  # as the interpreter ends: a message is printed, exit 1
                    code = end.code if isinstance(end.code, int) else int(end.code is not None)
                    if end.code is not None and not isinstance(end.code, int):
                        print(end.code, file=sys.stderr)
            except BaseException:
                import traceback

                traceback.print_exc()
            finally:
                sys.stdout.flush()
                os._exit(code)
        deadline = time.monotonic() + timeout
        while True:
            finished, status = os.waitpid(pid, os.WNOHANG)
            if finished:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise subprocess.TimeoutExpired(command, timeout)
            time.sleep(0.02)
        output.seek(0)
        return subprocess.CompletedProcess(command, os.waitstatus_to_exitcode(status), output.read())


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
        ["nice", "-n", str(BACKGROUND_NICE), tool("snakemake"), "--cores", "2"],
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
def default_run(default_run_started, prestarted_runs) -> Path:
    """One full run of the workflow on the bundled data, shared by the tests that read it (once
    the runs made from it have copied its folder: some tests add a report to it)."""
    if default_run_started is None:  # asked for by request.getfixturevalue: not foreseen
        workdir = copy_workflow(Path(tempfile.mkdtemp(prefix="default")) / "run")
        result = snakemake(workdir)
        assert result.returncode == 0, result.stdout[-5000:]
        return workdir
    workdir, process, output = default_run_started
    process.wait(timeout=900)
    output.seek(0)
    assert process.returncode == 0, output.read()[-5000:]
    copied = prestarted_runs[2]
    assert copied.wait(timeout=900), "the runs made from the default run did not copy its folder"
    return workdir


@pytest.fixture(scope="session")
def default_report(default_run: Path, tmp_path_factory) -> Path:
    """The single-file Snakemake report of the default run, made once for the tests that read it
    (each report takes ~10 s)."""
    path = tmp_path_factory.mktemp("report") / "report.html"
    result = snakemake(default_run, "--report", str(path), timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
    return path


def prestarted(prepare: Callable[..., tuple[str, ...]], from_default_run: bool = False):
    """Marks a test whose own workflow run starts in the background when the session begins:
    `prepare(workdir)` edits a fresh copy of the workflow and returns the Snakemake arguments;
    the test reads `prestarted_run` (workdir, finished process) and asserts as before. The runs
    go one after another beside the unit tests, which use one core of two. With
    `from_default_run`, `prepare(workdir, default_run)` makes `workdir` itself from the default
    run's, once that run has finished (and the test reads `default_run`: they run after it)."""
    return pytest.mark.prestarted.with_args(prepare, from_default_run=from_default_run)


def pytest_configure(config):
    config.addinivalue_line("markers", "prestarted(prepare): the test's workflow run starts with the session")


def _prepare_of(item) -> Callable | None:
    marker = item.get_closest_marker("prestarted")
    if marker is None:
        return None
    prepare = marker.args[0]
    prepare.from_default_run = marker.kwargs.get("from_default_run", False)
    return prepare


def _will_run(item) -> bool:
    """False for a test a `skipif(True, ...)` skips (its run is not started)."""
    return not any(m.args and m.args[0] is True for m in item.iter_markers("skipif"))


def _from_default_run(prepare: Callable) -> bool:
    return getattr(prepare, "from_default_run", False)


def _prepared(
    workdir: Path, prepare: Callable, default_run: Path | None = None
) -> tuple[str, ...] | Exception:
    """`prepare` applied to `workdir`: Snakemake's arguments (the exception, if preparing failed)."""
    try:
        return prepare(workdir, default_run) if default_run else prepare(copy_workflow(workdir))
    except Exception as error:  # re-raised in the test that reads it
        return error


def _run(
    workdir: Path, args: tuple[str, ...] | Exception
) -> tuple[Path, subprocess.CompletedProcess | Exception]:
    """Snakemake run in `workdir` with `args` (or the exception preparing them raised)."""
    if isinstance(args, Exception):
        return workdir, args
    try:
        return workdir, snakemake(workdir, *args)
    except Exception as error:
        return workdir, error


def _start(
    workdir: Path, prepare: Callable, default_run: Path | None = None
) -> tuple[Path, subprocess.CompletedProcess | Exception]:
    """Prepare `workdir` and run Snakemake in it (the exception instead, if preparing failed)."""
    return _run(workdir, _prepared(workdir, prepare, default_run))


@pytest.fixture(scope="session", autouse=True)
def prestarted_runs(request, tmp_path_factory, default_run_started):
    """The runs of the selected tests marked `prestarted`, started when the session begins in
    two background threads. Both take the runs on a fresh copy of the workflow, in the order of
    their tests; the second, as soon as the default run has finished, makes the folders of the
    runs made from it (then sets `copied`, which the `default_run` fixture waits for: tests add
    reports to its folder) and runs those, then helps with the fresh ones again. A run leaves a
    core idle between its jobs, which the other thread's fill. Yields ({prepare: (workdir,
    result)} as each finishes, {prepare: its Event}, `copied`)."""
    found = (_prepare_of(item) for item in request.session.items if _will_run(item))
    prepares = list(dict.fromkeys(p for p in found if p is not None))
    finished: dict[Callable, tuple] = {}
    done = {prepare: threading.Event() for prepare in prepares}
    copied = threading.Event()
    stop = threading.Event()  # the session ends (with -x, say): start no further run

    def below_the_unit_tests():
        # Below the unit tests in priority: they run one at a time on one core, the slowest
        # path of the session, and keep it; the runs take what is left of the two cores (a
        # thread's nice value is its own on Linux, and what it starts inherits it).
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICE)

    def workdir_of(prepare) -> Path:
        return tmp_path_factory.mktemp(prepare.__name__.strip("_")) / "run"

    fresh = [p for p in prepares if not _from_default_run(p)]
    from_default = [p for p in prepares if _from_default_run(p)]
    queue = list(reversed(fresh))  # the fresh runs, in the order their tests come
    lock = threading.Lock()

    def next_fresh() -> Callable | None:
        with lock:
            return queue.pop() if queue and not stop.is_set() else None

    def run_fresh(prepare):
        finished[prepare] = _start(workdir_of(prepare), prepare)
        done[prepare].set()

    def fresh_runs():
        below_the_unit_tests()
        while (prepare := next_fresh()) is not None:
            run_fresh(prepare)

    def default_running() -> bool:
        return default_run_started is not None and default_run_started[1].poll() is None

    def runs_from_default():
        """Fresh runs while the default run goes on, then the runs made from it, then fresh
        runs again if any are left."""
        below_the_unit_tests()
        while default_running() and not stop.is_set():
            prepare = next_fresh() if queue else None
            if prepare is None:
                time.sleep(0.2)
            else:
                run_fresh(prepare)
        if stop.is_set():
            copied.set()
            return
        try:
            if default_run_started is None:
                failed = RuntimeError("the default run was not started")
            else:
                default_workdir = default_run_started[0]
                # the test's `default_run` fixture reports the run's failure
                failed = (
                    None if default_run_started[1].returncode == 0 else RuntimeError("the default run failed")
                )
            folders = {prepare: workdir_of(prepare) for prepare in from_default}
            arguments = {
                prepare: failed or _prepared(folders[prepare], prepare, default_workdir)
                for prepare in from_default
            }
        finally:
            copied.set()
        for prepare in from_default:
            if stop.is_set():
                return
            finished[prepare] = _run(folders[prepare], arguments[prepare])
            done[prepare].set()
        fresh_runs()

    if not from_default:
        copied.set()
    threads = [threading.Thread(target=fresh_runs, daemon=True)] if fresh else []
    if from_default or fresh:
        threads.append(threading.Thread(target=runs_from_default, daemon=True))
    for thread in threads:
        thread.start()
    yield finished, done, copied
    stop.set()
    for thread in threads:
        thread.join(timeout=900)


@pytest.fixture
def prestarted_run(request, prestarted_runs, tmp_path) -> tuple[Path, subprocess.CompletedProcess]:
    """(workdir, finished Snakemake process) of this test's `prestarted` run."""
    prepare = _prepare_of(request.node)
    assert prepare is not None, "prestarted_run needs the test to be marked @prestarted(prepare)"
    finished, done, _ = prestarted_runs
    if prepare in done:
        assert done[prepare].wait(timeout=900), f"{prepare.__name__}: the background run did not finish"
        workdir, result = finished[prepare]
    elif _from_default_run(prepare):  # not foreseen when the session began: run it now
        workdir, result = _start(tmp_path / "run", prepare, request.getfixturevalue("default_run"))
    else:
        workdir, result = _start(tmp_path / "run", prepare)
    if isinstance(result, Exception):
        raise result
    return workdir, result


def pytest_collection_modifyitems(config, items):
    """The unit tests first, then those that read the default run (it runs in the background
    meanwhile), then those whose runs start with the session (in the background, see
    `prestarted`: they have had the longest to finish), those made from the default run last
    of these (they start when it ends), and the SLURM test last (its run too starts when the
    session begins)."""

    def group(item) -> int:
        if item.path.name == "test_slurm.py":
            return 4
        prepare = _prepare_of(item)
        if prepare is None:
            return int("default_run" in item.fixturenames)
        return 3 if _from_default_run(prepare) else 2

    items.sort(key=group)  # a stable sort


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

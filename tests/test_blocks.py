"""Per-neuron stages over blocks of neurons on several processes give the one-block result."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from calcium.blocks import BlockResult, block_rows, process_blocks
from calcium.errors import InputError
from calcium.io import save_npy


def _stage(rows, traces, offset=0.0):
    """A per-neuron computation with a per-neuron table row."""
    out = np.cumsum(traces, axis=1) + offset
    return BlockResult(
        (out.astype(np.float32), (traces * 2).astype(np.float32)), ([(rows.start, rows.stop)],)
    )


def _failing(rows, traces):
    if rows.start > 0:
        raise InputError("neuron id 7 is bad")
    return BlockResult((traces,))


def test_block_rows_cover_every_neuron_once():
    blocks = block_rows(1000, 300, block_samples=30_000)
    assert blocks[0] == slice(0, 100) and blocks[-1].stop == 1000
    covered = np.concatenate([np.arange(b.start, b.stop) for b in blocks])
    np.testing.assert_array_equal(covered, np.arange(1000))
    assert block_rows(3, 10**9, block_samples=10) == [slice(0, 1), slice(1, 2), slice(2, 3)]


@pytest.mark.parametrize(("processes", "block_samples"), [(1, 10**9), (1, 700), (2, 700), (3, 250)])
def test_outputs_do_not_depend_on_blocks_or_processes(tmp_path, processes, block_samples):
    rng = np.random.default_rng(0)
    traces = rng.normal(size=(23, 50)).astype(np.float32)
    save_npy(tmp_path / "in.npy", traces)
    outputs = [tmp_path / "a.npy", tmp_path / "b.npy"]
    tables = process_blocks(
        functools.partial(_stage, offset=1.5),
        [tmp_path / "in.npy"],
        outputs,
        23,
        50,
        processes,
        block_samples,
    )
    np.testing.assert_array_equal(np.load(outputs[0]), (np.cumsum(traces, axis=1) + 1.5).astype(np.float32))
    np.testing.assert_array_equal(np.load(outputs[1]), traces * 2)
    spans = [span for (rows,) in tables for span in rows]
    assert spans[0][0] == 0 and spans[-1][1] == 23
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False))  # in block order


def test_a_failing_block_leaves_no_output_and_keeps_the_error(tmp_path):
    save_npy(tmp_path / "in.npy", np.ones((10, 20), dtype=np.float32))
    with pytest.raises(InputError, match="neuron id 7 is bad"):
        process_blocks(_failing, [tmp_path / "in.npy"], [tmp_path / "out.npy"], 10, 20, 2, 40)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.npy"]


def _dying(rows, traces):
    """A worker killed by the system (out of memory) while computing its block."""
    import os

    if rows.start > 0:
        os._exit(9)
    return BlockResult((traces,))


_KILLED_WORKER = """
import sys
sys.path[:0] = {paths!r}
import numpy as np
from calcium.blocks import process_blocks
from calcium.io import save_npy
from test_blocks import _dying, _failing
from calcium.errors import InputError
save_npy({folder!r} + "/in.npy", np.ones((10, 20), dtype=np.float32))
try:
    process_blocks(_dying, [{folder!r} + "/in.npy"], [{folder!r} + "/out.npy"], 10, 20, 2, 40)
except RuntimeError as error:
    print("broken" if "worker process of _dying died" in str(error) else str(error))
for _ in range(150):  # multiprocessing.Pool's terminate deadlocked about once in 100 of these
    try:
        process_blocks(_failing, [{folder!r} + "/in.npy"], [{folder!r} + "/out.npy"], 10, 20, 2, 40)
    except InputError:
        pass
print("done")
"""


def test_a_killed_worker_or_a_failing_block_stops_the_run_instead_of_hanging_it(tmp_path):
    """A worker process that dies (os._exit, as when the system kills it for memory) stops the run
    with an error naming the step and memory; multiprocessing.Pool waited for its block forever.
    And 150 failing blocks in a row all end (Pool's terminate, called with blocks queued,
    deadlocked about once in 100). Run in a child process with a timeout, so that a hang fails
    the test instead of the suite."""
    import subprocess
    import sys
    from pathlib import Path

    paths = [str(Path(__file__).resolve().parents[1] / "scripts"), str(Path(__file__).resolve().parent)]
    code = _KILLED_WORKER.format(paths=paths, folder=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["broken", "done"], done.stderr[-2000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.npy"]  # nothing half-written


def _sleeping(rows, traces, folder=""):
    """A block that takes long: its worker writes its pid, then sleeps."""
    import os
    import time

    with open(f"{folder}/worker_{os.getpid()}", "w"):
        pass
    time.sleep(60)
    return BlockResult((traces,))


_PARENT = """
import functools, sys
sys.path[:0] = {paths!r}
import numpy as np
from calcium.blocks import process_blocks
from calcium.io import save_npy
from test_blocks import _sleeping
save_npy({folder!r} + "/in.npy", np.ones((10, 20), dtype=np.float32))
process_blocks(functools.partial(_sleeping, folder={folder!r}), [{folder!r} + "/in.npy"],
               [{folder!r} + "/out.npy"], 10, 20, 2, 40)
"""


def test_workers_end_when_their_parent_is_killed(tmp_path):
    """The step's process killed (SIGKILL, as the system does for memory): its two workers, in the
    middle of their blocks, end within seconds instead of running on as orphans."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    paths = [str(Path(__file__).resolve().parents[1] / "scripts"), str(Path(__file__).resolve().parent)]
    parent = subprocess.Popen([sys.executable, "-c", _PARENT.format(paths=paths, folder=str(tmp_path))])
    try:
        deadline = time.time() + 60
        while len(list(tmp_path.glob("worker_*"))) < 2 and time.time() < deadline:
            time.sleep(0.1)
        workers = [int(p.name.split("_")[1]) for p in tmp_path.glob("worker_*")]
        assert len(workers) == 2
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()

    def alive(pid):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        with open(f"/proc/{pid}/stat") as stat:  # a zombie awaiting its reaper is gone
            return stat.read().split(")")[-1].split()[0] != "Z"

    deadline = time.time() + 10
    while any(alive(pid) for pid in workers) and time.time() < deadline:
        time.sleep(0.1)
    assert not any(alive(pid) for pid in workers)


class _CountingExecutor:
    """Runs each task at once in this process and counts what was submitted."""

    def __init__(self):
        self.submitted = 0
        self.futures = []

    def submit(self, function, item):
        from concurrent.futures import Future

        self.submitted += 1
        future = Future()
        try:
            future.set_result(function(item))
        except Exception as error:  # noqa: BLE001 - handed to the consumer, as an executor does
            future.set_exception(error)
        self.futures.append(future)
        return future


def test_blocks_waiting_to_be_written_stay_bounded():
    """What is submitted and not yet written is at most `ahead` blocks, however many blocks there
    are (executor.map submits all and keeps every finished result while the first one stalls:
    memory grew with the recording); results come in order; a failing block cancels none of the
    finished ones' order and submits nothing after it."""
    from calcium.workers import in_order

    executor = _CountingExecutor()
    results = in_order(executor, lambda x: x * x, range(1000), ahead=4)
    assert next(results) == 0
    assert executor.submitted == 4
    assert [next(results) for _ in range(3)] == [1, 4, 9]
    assert executor.submitted <= 4 + 3
    assert list(results) == [x * x for x in range(4, 1000)]

    def failing(x):
        if x == 10:
            raise InputError("block 10 is bad")
        return x

    executor = _CountingExecutor()
    with pytest.raises(InputError, match="block 10"):
        list(in_order(executor, failing, range(1000), ahead=4))
    assert executor.submitted <= 10 + 4


_FORKED_WITH = []


def _record_threads_at_fork():
    import threading

    _FORKED_WITH.append(sorted(t.name for t in threading.enumerate()))


def test_workers_are_forked_before_the_progress_thread_starts(tmp_path):
    """A fork while another thread runs can leave a lock held in the child: the workers are forked
    (on the pool's first submission) before the progress heartbeat starts."""
    import os

    os.register_at_fork(before=_record_threads_at_fork)
    traces = np.random.default_rng(0).normal(size=(40, 50)).astype(np.float32)
    save_npy(tmp_path / "in.npy", traces)
    _FORKED_WITH.clear()
    process_blocks(_stage, [tmp_path / "in.npy"], [tmp_path / "a.npy", tmp_path / "b.npy"], 40, 50, 2, 200)
    assert _FORKED_WITH, "no worker was forked"
    assert all(not any(name.startswith("progress") for name in names) for names in _FORKED_WITH), _FORKED_WITH


_FAILING_START = """
import sys
sys.path[:0] = {paths!r}
from calcium.logs import log_to
from calcium.workers import forked_workers, in_order, named_breakage
log_to({log!r}, "session s1")
def start():
    raise ValueError("no such device")
with forked_workers(2, start) as executor:
    try:
        list(named_breakage(in_order(executor, abs, range(4), 2), "dff"))
    except RuntimeError as error:
        print("broken" if "failed as it started" in str(error) else str(error))
"""


def test_a_worker_failing_as_it_starts_leaves_its_error_in_the_log(tmp_path):
    """The error of a worker's initializer reached stderr only (the executor's logger): the rule's log
    said the worker died, most often for lack of memory, and nothing else."""
    import subprocess
    import sys
    from pathlib import Path

    paths = [str(Path(__file__).resolve().parents[1] / "scripts")]
    log = tmp_path / "dff.log"
    code = _FAILING_START.format(paths=paths, log=str(log))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["broken"], done.stderr[-2000:]
    text = log.read_text()
    assert "a worker process failed as it started" in text and "ValueError: no such device" in text


_KILLED_IN_A_RULE = """
import sys
sys.path[:0] = {paths!r}
import numpy as np
from calcium.logs import log_to
from calcium.blocks import process_blocks
from calcium.io import save_npy
from test_blocks import _dying
log_to({log!r}, "session s1")
save_npy({folder!r} + "/in.npy", np.ones((10, 20), dtype=np.float32))
process_blocks(_dying, [{folder!r} + "/in.npy"], [{folder!r} + "/out.npy"], 10, 20, 2, 40)
"""


def test_a_killed_worker_is_logged_as_an_error_with_its_fix_not_as_a_bug(tmp_path):
    """A worker the system kills stops the rule with the step's error and what to give it (memory),
    logged as an error; it was logged CRITICAL as 'unexpected error (a bug in the workflow)'."""
    import subprocess
    import sys
    from pathlib import Path

    here = Path(__file__).resolve().parent
    log = tmp_path / "rule.log"
    code = _KILLED_IN_A_RULE.format(
        paths=[str(here.parent / "scripts"), str(here)], log=str(log), folder=str(tmp_path)
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    text = log.read_text() + done.stderr
    assert "died before finishing" in text and "mem_mb" in text, text[-2000:]
    assert "bug in the workflow" not in text and "CRITICAL" not in text and "Traceback" not in text, text[
        -2000:
    ]


def test_a_pool_broken_before_its_first_results_is_explained_too():
    """A worker whose initializer fails at once can break the pool while `in_order` still submits
    its first tasks: that BrokenProcessPool was raised before `named_breakage` could explain it
    (seen once in a full run under load)."""
    from concurrent.futures import Future
    from concurrent.futures.process import BrokenProcessPool

    from calcium.errors import ResourceError
    from calcium.workers import in_order, named_breakage

    class BreaksOnSecondTask:
        def __init__(self):
            self.futures = []

        def submit(self, function, item):
            if self.futures:
                raise BrokenProcessPool("A child process terminated abruptly")
            self.futures.append(Future())
            return self.futures[-1]

    executor = BreaksOnSecondTask()
    with pytest.raises(ResourceError, match="died before finishing"):
        list(named_breakage(in_order(executor, abs, range(4), 2), "dff"))
    assert executor.futures[0].cancelled()

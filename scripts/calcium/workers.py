"""Worker processes shared by the stages that spread work over several processes (`calcium.blocks`,
the circular-shift nulls of `calcium.population`)."""

from __future__ import annotations

import contextlib
import multiprocessing
from collections.abc import Callable


@contextlib.contextmanager
def forked_workers(processes: int, initializer: Callable | None = None):
    """A pool of `processes` forked worker processes (they inherit the module globals set before
    its first task), as a `concurrent.futures.ProcessPoolExecutor`: its `map` yields results in
    order. On leaving, tasks not started are cancelled and running ones awaited. Not
    `multiprocessing.Pool`: its terminate(), called when a task raises with others queued, can
    deadlock (its task handler blocked on the queue's lock; measured: about 1 in 100 failing
    blocks hung the run), and a worker killed by the system (out of memory) leaves its `map`
    waiting forever, where the executor raises BrokenProcessPool."""
    from concurrent.futures import ProcessPoolExecutor

    executor = ProcessPoolExecutor(
        processes, mp_context=multiprocessing.get_context("fork"), initializer=initializer
    )
    try:
        yield executor
    finally:
        executor.shutdown(wait=True, cancel_futures=True)

"""Worker processes shared by the stages that spread work over several processes (`calcium.blocks`,
the circular-shift nulls of `calcium.population`)."""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
import os
import signal
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
        processes,
        mp_context=multiprocessing.get_context("fork"),
        initializer=functools.partial(_start_worker, os.getpid(), initializer),
    )
    try:
        yield executor
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def _start_worker(parent: int, initializer: Callable | None) -> None:
    """Worker start: end with the parent. An executor's workers wait on their task pipe and,
    unlike multiprocessing.Pool's, never see it close when the parent is killed (by the system
    for memory, or by a scheduler): on Linux the kernel sends them SIGTERM then
    (prctl PR_SET_PDEATHSIG); a parent already gone ends the worker at once."""
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: no such call
        pass
    if os.getppid() != parent:
        os._exit(1)
    if initializer is not None:
        try:
            initializer()
        except Exception:
            # Into the rule's log (the executor reports it on stderr only), before the worker dies.
            import logging

            logging.getLogger("calcium.workers").exception("a worker process failed as it started")
            raise


def in_order(executor, function: Callable, items, ahead: int):
    """function(item) for each item, run on `executor`, yielded in order with at most `ahead`
    submitted and not yet yielded: what waits for the consumer is bounded (`executor.map` submits
    every item at once and keeps every finished result until the consumer takes it, all of them
    while the first one stalls). The first `ahead` are submitted at once, before this returns (a
    forked pool forks its workers on the first submission: before the caller starts threads).
    Leaving early (an error, the consumer's or a task's) cancels what has not started."""
    import itertools
    from collections import deque
    from concurrent.futures.process import BrokenProcessPool

    items = iter(items)
    pending: deque = deque()
    try:
        for item in itertools.islice(items, ahead):
            pending.append(executor.submit(function, item))
    except BrokenProcessPool as error:
        # A worker died already (its initializer failed at once): raised from the first result,
        # inside the caller's `named_breakage`, which explains it (raised here, it went unexplained).
        return _broken(error, pending)
    return _in_order(executor, function, items, pending)


def _broken(error: BaseException, pending):
    """A generator that cancels `pending` and raises `error` when first asked for a result."""
    for future in pending:
        future.cancel()
    raise error
    yield  # a generator: the error is raised where its results are read


def _in_order(executor, function: Callable, items, pending):
    try:
        for item in items:
            yield pending.popleft().result()
            pending.append(executor.submit(function, item))
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()


def named_breakage(results, name: str):
    """The results of a `forked_workers` map, with a worker's death (BrokenProcessPool) explained
    in terms of the run: a `calcium.errors.ResourceError` (a RuntimeError), which the rule's log
    reports as an error with its fix, not as a bug in the workflow."""
    from concurrent.futures.process import BrokenProcessPool

    from calcium.errors import ResourceError

    try:
        yield from results
    except BrokenProcessPool as error:
        raise ResourceError(
            f"a worker process of {name} died before finishing its part, nothing of this step was "
            "written. Killed by the system, most often for lack of memory: give the rule more memory "
            "(--resources mem_mb, or a cluster profile's mem_mb) or fewer threads. Or it failed as it "
            "started ('a worker process failed as it started' above in this log): that error says why."
        ) from error

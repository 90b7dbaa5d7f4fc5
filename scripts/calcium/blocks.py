"""Per-neuron stages over a whole session, block of neurons by block, on several processes.

A stage is a function of one block of neurons' rows of its input arrays that returns that
block's rows of its output arrays (and, optionally, table rows). `process_blocks` reads each
block by offset from the input .npy files (never the whole session), hands blocks to a
process pool (at most two per process submitted and not yet written), and writes the results
in order straight into the output .npy files, so memory stays at a few blocks per process
however long the recording, and the outputs do not depend on the block size or the number of
processes.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from calcium.io import npy_writer, read_npy_rows
from calcium.progress import Progress
from calcium.workers import forked_workers, in_order, named_breakage

# Samples (neurons x frames) per block by default: 16 MB of float32 per array.
BLOCK_SAMPLES = 1 << 22


class BlockResult(NamedTuple):
    """What a stage returns for one block: output arrays (block rows, frames) and table rows."""

    arrays: tuple[np.ndarray, ...] = ()
    tables: tuple = ()


def block_rows(
    n_neurons: int, n_frames: int, block_samples: int = BLOCK_SAMPLES, min_blocks: int = 1
) -> list[slice]:
    """Consecutive blocks of neurons of at most `block_samples` samples each (at least one
    neuron), and at least `min_blocks` blocks when there are that many neurons (so that
    every process gets work)."""
    per_block = max(1, block_samples // max(n_frames, 1))
    per_block = max(1, min(per_block, -(-n_neurons // max(min_blocks, 1))))
    return [slice(first, min(first + per_block, n_neurons)) for first in range(0, n_neurons, per_block)]


def block_memory_mb(n_neurons: int, n_frames: int, processes: int, arrays: float) -> int:
    """Memory (MB) for `processes` workers each holding `arrays` float32 copies of a block,
    plus the interpreter and libraries (~300 MB per process)."""
    block = block_rows(n_neurons, n_frames, BLOCK_SAMPLES, processes)[0]
    block_mb = (block.stop - block.start) * n_frames * 4 / 1e6
    return int(300 * (processes + 1) + processes * arrays * block_mb)


def _one_thread_each() -> None:
    """Worker initializer: numerical libraries (OpenBLAS, OpenMP) use one thread per worker
    process. Snakemake gives a job's processes as many library threads as the job has
    threads, which would oversubscribe the cores when the job runs one process per thread
    (measured: OASIS three times slower)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)


def _run(stage: Callable, sources: Sequence[str], rows: slice) -> BlockResult:
    return stage(rows, *(read_npy_rows(path, rows) for path in sources))


def process_blocks(
    stage: Callable[..., BlockResult],
    sources: Sequence[str | os.PathLike],
    outputs: Sequence[str | os.PathLike],
    n_neurons: int,
    n_frames: int,
    processes: int = 1,
    block_samples: int = BLOCK_SAMPLES,
    label: str = "",
) -> list[tuple]:
    """Run `stage` over every block of neurons and write its arrays to `outputs` (float32 .npy).

    stage(rows, *source_blocks) -> BlockResult: rows is the block's slice of neuron ids,
        each source block its (neurons, frames) rows of one source .npy. It must be a
        module-level function (or a functools.partial of one), as it runs in other
        processes.
    outputs: one path per array the stage returns, each (n_neurons, n_frames) float32,
        written atomically.
    processes: worker processes (1: run in this process).
    label: names the stage in the progress lines logged (`calcium.progress.Progress`: blocks
        done, percent, time left, at least every 10 s) to the "calcium" logger.
    Returns the table rows of every block, in block order.
    """
    blocks = block_rows(n_neurons, n_frames, block_samples, processes)
    run = functools.partial(_run, stage, [str(path) for path in sources])
    tables = []
    with contextlib.ExitStack() as stack:
        writers = [stack.enter_context(npy_writer(path, (n_neurons, n_frames))) for path in outputs]
        if processes > 1 and len(blocks) > 1:
            workers = min(processes, len(blocks))
            pool = stack.enter_context(forked_workers(workers, _one_thread_each))
            # Two blocks per worker in flight: one running, one ready to write.
            results = in_order(pool, run, blocks, ahead=2 * workers)
        else:
            results = map(run, blocks)
        # after the fork: the workers inherit no progress thread
        name = (
            label
            or getattr(stage, "__name__", None)
            or getattr(getattr(stage, "func", None), "__name__", "stage")
        )
        progress = stack.enter_context(Progress(len(blocks), f"{name} ({n_neurons} neurons)", "blocks"))
        for result in named_breakage(results, name):
            if len(result.arrays) != len(writers):
                raise ValueError(f"stage returned {len(result.arrays)} arrays for {len(writers)} outputs")
            for writer, array in zip(writers, result.arrays, strict=True):
                writer.append(array)
            tables.append(result.tables)
            progress.advance()
    return tables


def trace_sources(inputs) -> list[str]:
    """The .npy files a stage of traces reads (`process_blocks`' sources): a rule's input `traces`,
    then its `noise_traces` if it has them (the detrended traces wavelet-denoised ones came from,
    where the scan's rates and noise are read)."""
    noise = getattr(inputs, "noise_traces", None)
    return [str(inputs.traces)] + ([str(noise)] if noise else [])


def for_sources(stage: Callable, sources: Sequence) -> Callable:
    """`stage` as `process_blocks` calls it with `trace_sources`: the second, if any, passed as the
    keyword noise_traces (`calcium.signal.deconvolve.deconvolve_block`, `calcium.signal.stages.events`)."""
    return functools.partial(_with_noise_traces, stage) if len(sources) > 1 else stage


def _with_noise_traces(
    stage: Callable, rows: slice, traces: np.ndarray, noise_traces: np.ndarray, **settings
):
    return stage(rows, traces, noise_traces=noise_traces, **settings)


def concat_tables(tables: list[tuple], which: int = 0):
    """One table (DataFrame) from the `which`-th table of every block (in block order)."""
    import pandas as pd

    parts = [block[which] for block in tables]
    nonempty = [part for part in parts if len(part)]
    return pd.concat(nonempty, ignore_index=True) if nonempty else parts[0].iloc[0:0]

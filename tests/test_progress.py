"""Long jobs log how far they are: work done, percent, time left, at least every 10 s."""

from __future__ import annotations

import logging
import time

import numpy as np
import pytest

from calcium.blocks import BlockResult, process_blocks
from calcium.io import save_npy
from calcium.progress import Progress, duration_text, track


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture
def calcium_lines():
    logger = logging.getLogger("calcium")
    handler, level = Lines(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler.lines
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_lines_every_interval_with_linear_estimate():
    clock = FakeClock()
    logger = logging.getLogger("test.progress")
    progress = Progress(10, "deconvolve", "blocks", logger=logger, every_s=10, clock=clock)
    clock.now += 4
    assert progress.advance() is None  # 4 s since the start: too soon
    clock.now += 6
    line = progress.advance()  # 10 s: 2 of 10 done in 10 s -> 40 s left
    assert line == "deconvolve: 2/10 blocks (20%), 10 s elapsed, ~40 s left"
    clock.now += 3
    assert progress.advance(3) is None
    clock.now += 7  # 20 s, 5 of 10
    assert progress.beat() == "deconvolve: 5/10 blocks (50%), 20 s elapsed, ~20 s left"
    assert progress.beat() is None  # just logged
    clock.now += 1
    assert progress.advance(5) == "deconvolve: 10/10 blocks (100%), 21 s elapsed, done"  # the end always
    assert progress.beat() is None  # nothing after the end


def test_nothing_done_yet_says_so_and_durations_read():
    clock = FakeClock()
    progress = Progress(3, "nwb", "neuron traces", logger=logging.getLogger("test.progress"), clock=clock)
    clock.now += 12
    assert progress.beat() == "nwb: 0/3 neuron traces (0%), 12 s elapsed, time left not yet known"
    assert duration_text(185) == "3 min 5 s" and duration_text(7500) == "2 h 05 min"


def test_heartbeat_logs_while_one_unit_runs_long(calcium_lines):
    with Progress(2, "slow", every_s=0.05) as progress:
        time.sleep(0.4)  # one long block: no unit finishes
        assert progress.done == 0
    beats = [line for line in calcium_lines if line.startswith("slow: 0/2")]
    assert len(beats) >= 3, calcium_lines  # the start and repeated heartbeats
    n = len(calcium_lines)
    time.sleep(0.2)
    assert len(calcium_lines) == n  # the heartbeat stops with the context


def test_track_counts_units():
    clock = FakeClock()
    progress = Progress(7, "null", "shuffles", logger=logging.getLogger("test.progress"), clock=clock)
    assert [len(x) for x in track([[1, 2], [3, 4, 5], [6, 7]], progress, len)] == [2, 3, 2]
    assert progress.done == 7 and progress.lines[-1].startswith("null: 7/7 shuffles (100%)")


def _double(rows, traces):
    return BlockResult(((traces * 2).astype(np.float32),))


@pytest.mark.parametrize("processes", [1, 2])
def test_block_stage_logs_progress(tmp_path, calcium_lines, processes):
    traces = np.arange(40 * 5, dtype=np.float32).reshape(40, 5)
    save_npy(tmp_path / "in.npy", traces)
    process_blocks(_double, [tmp_path / "in.npy"], [tmp_path / "out.npy"], 40, 5, processes, 50, label="dff")
    lines = [line for line in calcium_lines if line.startswith("dff (40 neurons): ")]
    assert lines[0] == "dff (40 neurons): 0/4 blocks (0%), 0 s elapsed, time left not yet known"
    assert lines[-1].startswith("dff (40 neurons): 4/4 blocks (100%)") and lines[-1].endswith("done")
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), traces * 2)

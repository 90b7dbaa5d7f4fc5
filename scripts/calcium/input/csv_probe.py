"""CSV shape: what a fluorescence table holds (neurons, frames, frame times), found cheaply
from its layout, a byte count of its lines and, for one line per frame, its time column.

Errors are :class:`calcium.errors.InputError` and name the file, the line (counted from 1,
as a text editor shows them) and the fix.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from calcium.errors import InputError
from calcium.input.clock import fit_clock
from calcium.input.csv_columns import refuse_non_neuron_columns, time_unit_s
from calcium.input.csv_layout import DEFAULT_LAYOUT, Layout, TableLayout, detect_layout
from calcium.input.csv_text import check_text_csv, first_lines

# With input.orientation auto and nothing in the file naming its axes, one line per neuron is
# assumed only if the lines are at least this many times longer than there are lines.
AUTO_FRAMES_PER_NEURON = 2


class CsvShape(NamedTuple):
    """What a CSV holds, found without parsing its numbers (except the time column).

    n_neurons, n_frames: the shape the reader will return (after orientation).
    has_header, has_index: the resolved layout (and `layout`, the whole decision).
    first_time_s, last_time_s: the first and last frame's time stamp when the file
        has one line per frame and an index column of times (else None).
    times_s: every frame's time stamp in that case (else None).
    """

    n_neurons: int
    n_frames: int
    has_header: bool
    has_index: bool
    first_time_s: float | None
    last_time_s: float | None
    layout: Layout | None = None
    times_s: np.ndarray | None = None


def _count_data_lines(path: Path) -> int:
    """Number of non-blank lines (blank lines are skipped by the reader too), by a byte scan."""
    count = 0
    after_newline = True  # the start of the file behaves like the start of a line
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 24):
            data = np.frombuffer(chunk, dtype=np.uint8)
            data = data[data != 13]  # "\r\n" line ends count as "\n"
            if data.size == 0:
                continue
            newline = data == 10
            before = np.concatenate([[after_newline], newline[:-1]])
            count += int(np.count_nonzero(newline & ~before))
            after_newline = bool(newline[-1])
    return count + (0 if after_newline else 1)


def _read_time_column(path: Path, decided: Layout) -> np.ndarray:
    """Every data line's first cell as float64 (the frame times), refusing cells that are not numbers."""
    skip = decided.data_line
    column = pd.read_csv(
        path,
        header=None,
        usecols=[0],
        skiprows=skip,
        dtype=str,
        keep_default_na=False,
        skip_blank_lines=True,
        encoding="utf-8-sig",
        engine="c",
    )[0].str.strip()
    times = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(times))
    if bad.size:
        raise InputError(
            f"{path}: data line {bad[0] + 1} (below the header): time stamp {column.iloc[bad[0]]!r} is not "
            "a finite number; every frame needs its time"
            + (
                " (an empty row, as spreadsheets leave below the data? delete it)."
                if column.iloc[bad[0]] == ""
                else "."
            )
        )
    return times


def check_frame_times(times_s: np.ndarray, source: str) -> None:
    """Refuse frame times that go backwards, repeat, or stray by more than half a frame from one
    constant rate (a pause, dropped frames, a reversed block): the workflow places frame k at
    start + k / rate, as it does for an NWB series' timestamps. Lines are data lines below the header."""
    if times_s.size < 2:
        return
    steps = np.diff(times_s)
    backwards = np.flatnonzero(steps <= 0)
    if backwards.size:
        k = int(backwards[0])
        raise InputError(
            f"{source}: data line {k + 2}: the time stamp {times_s[k + 1]:.6g} s does not follow "
            f"{times_s[k]:.6g} s on the line before; frame times must increase (a repeated or reversed "
            "block of lines?)."
        )
    # The constant rate that fits the stamps best (least squares: stamps written with few decimals
    # scatter around it by their rounding), each frame's distance from it, and a lasting shift (one
    # frame dropped mid-recording moves the others by only half a frame from the fit).
    rate, drift, k = fit_clock(times_s)
    worst = int(np.argmax(drift))
    if drift[worst] > 0.5 / rate or k is not None:
        if k is not None:
            where = (
                f"data line {k + 1} follows a step of {steps[k - 1]:.6g} s, {steps[k - 1] * rate:.3g} frames"
            )
        else:
            where = (
                f"data line {worst + 1} lies {drift[worst]:.3g} s, over half a frame, from a constant rate"
            )
        raise InputError(
            f"{source}: the frame times are irregular ({where} at the mean rate {rate:.6g} Hz): dropped "
            "frames or a pause (split the recording into sessions there, or fill in the missing frames), or "
            "time stamps rounded to about a frame (write them with more decimals)."
        )


def _frame_times(path: Path, decided: Layout, name: str) -> np.ndarray | None:
    """The frame times (s) of a one-line-per-frame file's index column named like a time, in its
    unit ("time_s", "Time (s)": s; "time_ms", "Time (ms)": ms), checked frame by frame
    (`check_frame_times`); None for any other index (frame numbers, which may restart per trial;
    an unnamed column, whose unit nothing tells)."""
    if not (decided.one_row_per_frame and decided.index) or decided.short_header:
        return None
    unit = time_unit_s(name) if name else None
    if unit is None:
        return None
    times = _read_time_column(path, decided) * unit
    check_frame_times(times, str(path))
    return times


def probe_csv(path: str | os.PathLike, layout: TableLayout = DEFAULT_LAYOUT) -> CsvShape:
    """Shape and time stamps of a fluorescence CSV from its first and last lines (cheap).

    Decides the layout (`detect_layout`), counts lines (a fast byte scan) and parses no
    numbers beyond the first lines, except a time column, which is read and checked frame by
    frame (`check_frame_times`). Raises InputError for files that are empty, binary, not
    comma-separated, ambiguous in layout, or hold no data below the header; with
    input.orientation auto, one line per neuron that gives more neurons than frames.
    """
    path = Path(path)
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty; expected a table of fluorescence values.")
    check_text_csv(path)
    decided = detect_layout(path, layout)
    has_header, has_index = decided.header, decided.index
    above = decided.lines_above
    top_lines = first_lines(path, 1 + above)
    if len(top_lines) <= above:
        raise InputError(f"{path}: the table has no data lines below its header.")
    n_columns = len(top_lines[-1]) - int(has_index)
    if n_columns <= 0:
        raise InputError(
            f"{path}: line {1 + above} holds a single cell, taken for a label; a table needs "
            "numbers in comma-separated columns (set input.index_column: false if the first column "
            "holds data)."
        )
    n_lines = _count_data_lines(path) - above
    labelled = has_index and not decided.short_header  # the header's first cell names the index
    if decided.one_row_per_frame and has_header:
        refuse_non_neuron_columns(path, top_lines[0][int(labelled) :], 1 + int(labelled))
    times = _frame_times(
        path, decided, decided.index_name or (top_lines[0][0] if has_header and labelled else "")
    )
    first_time = float(times[0]) if times is not None else None
    last_time = float(times[-1]) if times is not None else None
    if decided.statuses is not None:  # Inscopix's rejected cells are not read
        if not decided.one_row_per_frame:
            raise InputError(
                f"{path}: the line under the header holds Inscopix's cell statuses, one per column, so the "
                "file has one line per frame; set input.orientation: frames_x_neurons (or auto)."
            )
        n_columns = sum(status != "rejected" for status in decided.statuses)
        if n_columns == 0:
            raise InputError(
                f"{path}: the line of Inscopix's cell statuses marks every cell 'rejected'; there is no "
                "neuron to analyse. Accept cells in Inscopix, or export the accepted ones."
            )
    if decided.one_row_per_frame:
        return CsvShape(n_columns, n_lines, has_header, has_index, first_time, last_time, decided, times)
    if layout.orientation == "auto" and n_columns < AUTO_FRAMES_PER_NEURON * n_lines:
        raise InputError(
            f"{path}: read as one line per neuron it holds {n_lines} neurons x {n_columns} frames, not "
            f"{AUTO_FRAMES_PER_NEURON} or more times as many frames as neurons, so it may as well hold one "
            "line per frame. "
            "If the file has one line per frame, set input.orientation: frames_x_neurons in config.yaml; "
            "if one line per neuron, set input.orientation: neurons_x_frames."
        )
    return CsvShape(n_lines, n_columns, has_header, has_index, None, None, decided, None)

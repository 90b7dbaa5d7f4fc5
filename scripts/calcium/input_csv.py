"""Fluorescence tables in CSV: layout detection and a chunked, validating reader.

Errors are :class:`calcium.errors.InputError` and name the file, the line/column
(counted from 1, as a text editor shows them) and the fix.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from .errors import InputError

FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass(frozen=True)
class TableLayout:
    """How a fluorescence CSV is laid out.

    header: "auto", True or False: whether the first line holds column names.
    index_column: "auto", True or False: whether the first column holds labels
        (neuron names, or frame numbers/times for the transposed layout).
    orientation: "neurons_x_frames" (one row per neuron), "frames_x_neurons" (one
        row per frame), or "auto" (read as neurons_x_frames; the caller checks that
        the shape is plausible).
    """

    header: bool | str = "auto"
    index_column: bool | str = "auto"
    orientation: str = "neurons_x_frames"

    @property
    def one_row_per_frame(self) -> bool:
        return self.orientation == "frames_x_neurons"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_text(cell: str) -> bool:
    """A non-empty cell that is not a number (an empty cell is a missing value, not a label)."""
    return cell != "" and not _is_number(cell)


def check_text_csv(path: Path) -> None:
    """Refuse files that cannot be a comma-separated text table, with the reason.

    Binary content (NUL bytes or invalid UTF-8 in the first 64 KiB) and lines
    whose cells are separated by ';' or tabs instead of commas are reported as such.
    """
    with open(path, "rb") as handle:
        head = handle.read(1 << 16)
    if b"\x00" in head:
        raise InputError(
            f"{path}: binary content, not a text CSV; give a comma-separated text table "
            "(or a NumPy array with the .npy suffix, or a Suite2p folder)."
        )
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 4:  # not merely a character cut at the 64 KiB boundary
            raise InputError(
                f"{path}: byte {error.start + 1} is not UTF-8 text; save the table as a UTF-8 CSV."
            ) from None
        text = head[: error.start].decode("utf-8")
    first = next((line for line in text.splitlines() if line.strip()), "")
    if "," not in first:
        for name, separator in (("semicolons", ";"), ("tabs", "\t")):
            if first.count(separator) >= 1:
                raise InputError(
                    f"{path}: line 1 separates its cells with {name}, not commas; save the table "
                    "as comma-separated CSV (e.g. in pandas: to_csv(path, sep=','))."
                )


def _first_lines(path: Path, n: int, whole: int | None = None) -> list[list[str]]:
    """Cells of the first `n` non-blank lines; beyond the first `whole` lines only the first
    cell is split off (wide tables have thousands of cells per line)."""
    rows = []
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if line.strip():
                line = line.rstrip("\r\n")
                cells = line.split(",") if whole is None or len(rows) < whole else line.split(",", 1)[:1]
                rows.append([cell.strip() for cell in cells])
            if len(rows) >= n:
                break
    return rows


def _last_line(path: Path) -> list[str]:
    """Cells of the last non-blank line (read from the end of the file)."""
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - (1 << 16)))
        tail = handle.read().decode("utf-8", errors="replace")
    lines = [line for line in tail.splitlines() if line.strip()]
    return [cell.strip() for cell in lines[-1].split(",")] if lines else []


def _looks_like_axis(values: list[str], times_allowed: bool) -> bool:
    """True if the cells count 0,1,2,... or 1,2,3,... (a row counter), or, when
    `times_allowed` (one line per frame), increase by a constant step (frame times).

    Fluorescence never climbs by exactly the same step on every line.
    """
    try:
        numbers = np.array([float(v) for v in values])
    except ValueError:
        return False
    if numbers.size < 3:
        return False
    steps = np.diff(numbers)
    if np.all(steps == 1) and numbers[0] in (0.0, 1.0):
        return True
    return bool(times_allowed and steps[0] > 0 and np.allclose(steps, steps[0], rtol=1e-6, atol=1e-9))


_INDEX_NAMES = re.compile(
    r"^(|index|idx|id|neuron|neuron_id|cell|roi|frame|frames|t|time|time_s|time_ms|timestamp)$", re.I
)
# Index-column names that mean "time of the frame", and their unit in seconds.
_TIME_UNITS = {"t": 1.0, "time": 1.0, "time_s": 1.0, "timestamp": 1.0, "time_ms": 1e-3}


def detect_layout(path: Path, layout: TableLayout) -> tuple[bool, bool]:
    """Decide (has_header, has_index_column) for a CSV, resolving "auto".

    A header is detected when the first line has any non-numeric cell. An index
    column is detected when the first column (below any header) has a non-numeric
    cell, counts 0,1,2,... or 1,2,3,..., or (one line per frame) increases by a
    constant step (frame times, never a trace), or when its header cell is empty
    or reads like an index ("time_s", "frame", "neuron", "roi", ...).
    """
    lines = _first_lines(path, 50, whole=2)
    if not lines:
        raise InputError(f"{path}: the file is empty; expected a table of fluorescence values.")
    first = lines[0]
    if layout.header == "auto":
        # A first cell that is empty or text with numbers after it is a corner label.
        has_header = any(_is_text(cell) for cell in first[1:]) or (len(first) == 1 and _is_text(first[0]))
    else:
        has_header = bool(layout.header)
    body = lines[1:] if has_header else lines
    if layout.index_column == "auto":
        first_column = [row[0] for row in body if row]
        has_index = bool(first_column) and (
            any(_is_text(v) for v in first_column)
            or (_looks_like_axis(first_column, layout.one_row_per_frame) and len(body[0]) > 1)
        )
        if has_header and not has_index and first and _INDEX_NAMES.match(first[0]):
            has_index = True
    else:
        has_index = bool(layout.index_column)
    return has_header, has_index


class CsvShape(NamedTuple):
    """What a CSV holds, found without parsing its numbers.

    n_neurons, n_frames: the shape the reader will return (after orientation).
    has_header, has_index: the resolved layout.
    first_time_s, last_time_s: the first and last frame's time stamp when the file
        has one line per frame and an index column of times (else None).
    """

    n_neurons: int
    n_frames: int
    has_header: bool
    has_index: bool
    first_time_s: float | None
    last_time_s: float | None


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


def time_unit_s(index_name: str) -> float | None:
    """Seconds per unit of an index column named like a time ("time_s": 1, "time_ms": 0.001), else None."""
    return _TIME_UNITS.get(index_name.strip().lower())


def probe_csv(path: str | os.PathLike, layout: TableLayout = TableLayout()) -> CsvShape:
    """Shape and time stamps of a fluorescence CSV from its first and last lines (cheap).

    Counts lines (a fast byte scan) but parses no numbers beyond the first lines;
    raises InputError for files that are empty, binary, not comma-separated or
    hold no data below the header.
    """
    path = Path(path)
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty; expected a table of fluorescence values.")
    check_text_csv(path)
    has_header, has_index = detect_layout(path, layout)
    first_lines = _first_lines(path, 1 + int(has_header))
    if len(first_lines) <= int(has_header):
        raise InputError(f"{path}: the table has no data lines below its header.")
    n_columns = len(first_lines[-1]) - int(has_index)
    if n_columns <= 0:
        raise InputError(
            f"{path}: line {1 + int(has_header)} holds a single cell, taken for a label; a table needs "
            "numbers in comma-separated columns (set input.index_column: false if the first column "
            "holds data)."
        )
    n_lines = _count_data_lines(path) - int(has_header)
    first_time = last_time = None
    if layout.one_row_per_frame and has_index:
        unit = time_unit_s(first_lines[0][0]) if has_header else None
        last = _last_line(path)
        if unit is not None and _is_number(first_lines[-1][0]) and last and _is_number(last[0]):
            first_time = float(first_lines[-1][0]) * unit
            last_time = float(last[0]) * unit
    if layout.one_row_per_frame:
        return CsvShape(n_columns, n_lines, has_header, has_index, first_time, last_time)
    return CsvShape(n_lines, n_columns, has_header, has_index, None, None)


def _ragged_line(path: Path, n_cells: int) -> str | None:
    """Describe the first line whose number of cells differs from n_cells (None if none)."""
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            cells = line.count(",") + 1
            if cells != n_cells:
                return (
                    f"{path}: line {number} has {cells} cells but the first data line has "
                    f"{n_cells}; every line needs the same number of comma-separated cells."
                )
    return None


def _locate_bad_cell(path: Path, has_header: bool, has_index: bool, rows_per_chunk: int) -> str:
    """Find the first cell that is not a number (slow path, only after a failure)."""
    reader = pd.read_csv(
        path,
        header=0 if has_header else None,
        index_col=0 if has_index else None,
        dtype=str,
        chunksize=rows_per_chunk,
        keep_default_na=False,
    )
    done = 0
    for chunk in reader:
        cells = chunk.to_numpy().ravel()
        numbers = pd.to_numeric(pd.Series(cells), errors="coerce").to_numpy()
        missing = np.isin(np.char.lower(cells.astype(str)), ["", "nan", "na", "n/a"])
        bad = np.flatnonzero(np.isnan(numbers) & ~missing)
        if bad.size:
            i, j = divmod(int(bad[0]), chunk.shape[1])
            return (
                f"{path}: line {done + i + 1 + int(has_header)}, column {j + 1 + int(has_index)}: "
                f"{cells[bad[0]]!r} is not a number. Every cell must be a number: fix or remove "
                "that cell, or set input.header / input.index_column in config.yaml if that line "
                "or column holds labels."
            )
        done += chunk.shape[0]
    return f"{path}: could not read the table as numbers; check its delimiter (a comma is expected)."


def _read_plain_numbers(
    path: Path, skip_lines: int, n_columns: int, out: np.ndarray, chunk_bytes: int = 1 << 26
) -> int:
    """Fast path for a table of numbers only (no index column): fill `out` row by row.

    Wide tables (one line per neuron, thousands of columns) are slow in pandas' parser,
    which works column by column; here each block of lines becomes one column of numbers
    (commas replaced by line breaks) and is reshaped. Blocks of `chunk_bytes` keep memory
    bounded. Raises ValueError for a cell that is not a number (the caller then locates
    it) and InputError for a ragged line. Returns the number of rows filled.
    """
    filled = 0
    with open(path, "rb") as handle:
        skipped = 0
        while skipped < skip_lines:
            line = handle.readline()
            if not line:
                break
            skipped += bool(line.strip())
        carry = b""
        while True:
            chunk = handle.read(chunk_bytes)
            data = carry + chunk
            if chunk:
                cut = data.rfind(b"\n") + 1
                data, carry = data[:cut], data[cut:]
                if not data:
                    continue
            elif not data:
                break
            else:
                carry = b""
            data = data.replace(b"\r", b"")
            while b"\n\n" in data:  # blank lines are skipped, as by the reader with an index column
                data = data.replace(b"\n\n", b"\n")
            data = data.lstrip(b"\n")
            if not data:
                continue
            if not data.endswith(b"\n"):
                data += b"\n"
            n_rows = _check_cells_per_line(path, data, n_columns)
            values = pd.read_csv(
                io.BytesIO(data.replace(b",", b"\n")),
                header=None,
                names=["value"],
                dtype=np.float64,
                skip_blank_lines=False,
                engine="c",
            )["value"].to_numpy()
            block = values.reshape(n_rows, n_columns)
            _check_float32_range(path, block, filled + skip_lines, 0)
            out[filled : filled + n_rows] = block
            filled += n_rows
    return filled


def _check_cells_per_line(path: Path, data: bytes, n_columns: int) -> int:
    """Number of lines in `data` (each ending in a line break), refusing any with another cell count."""
    commas = np.fromiter((line.count(b",") for line in data.split(b"\n")[:-1]), dtype=np.int64)
    if np.any(commas != n_columns - 1):
        raise InputError(_ragged_line(path, n_columns) or f"{path}: lines differ in their number of cells.")
    return int(commas.size)


def _check_float32_range(path: Path, values: np.ndarray, lines_before: int, index_columns: int) -> None:
    """Refuse finite values that overflow float32 (naming the 1-based line and column)."""
    huge = np.abs(np.where(np.isfinite(values), values, 0.0)) > FLOAT32_MAX
    if huge.any():
        i, j = np.argwhere(huge)[0]
        raise InputError(
            f"{path}: line {lines_before + i + 1}, column {j + 1 + index_columns}: {values[i, j]:g} is "
            "beyond the range of 32-bit floats (±3.4e38) in which traces are stored; rescale the data "
            "(e.g. divide by a constant)."
        )


class CsvTable(NamedTuple):
    """A fluorescence CSV read into memory.

    traces: (neurons, frames) float32.
    neuron_labels: from the index column or header, or None.
    frame_index: the index column of a one-row-per-frame table (its text), or None.
    notes: what was detected, for the log.
    """

    traces: np.ndarray
    neuron_labels: list[str] | None
    frame_index: list[str] | None
    notes: list[str]


def read_fluorescence_csv(
    path: str | os.PathLike,
    layout: TableLayout = TableLayout(),
    allow_missing: bool = False,
    rows_per_chunk: int = 1000,
) -> CsvTable:
    """Read a fluorescence CSV into a float32 array of shape (neurons, frames).

    The file is read in blocks (of 64 MiB of text, or of `rows_per_chunk` lines when
    it has an index column), so peak memory is the output array plus one block.

    allow_missing: keep empty/NaN cells as NaN (to be interpolated) instead of
        raising.
    Raises InputError for a missing, empty, binary or not comma-separated file, a
    non-numeric, missing or float32-overflowing cell (naming line and column),
    ragged rows, or a table with no neurons or a single frame.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found; check the `path` column of the session sheet.")
    shape = probe_csv(path, layout)
    has_header, has_index = shape.has_header, shape.has_index
    notes = [
        f"header row: {'yes' if has_header else 'no'}",
        f"index column: {'yes' if has_index else 'no'}",
    ]
    first_lines = _first_lines(path, 1 + int(has_header))
    header_names = first_lines[0] if has_header else None
    n_columns = len(first_lines[-1]) - int(has_index)
    n_lines = shape.n_frames if layout.one_row_per_frame else shape.n_neurons
    out = np.empty((n_lines, n_columns), dtype=np.float32)
    labels: list[str] = []
    filled = 0
    try:
        if not has_index:
            filled = _read_plain_numbers(path, int(has_header), n_columns, out)
        else:
            reader = pd.read_csv(
                path,
                header=0 if has_header else None,
                index_col=0,
                chunksize=rows_per_chunk,
                skip_blank_lines=True,
                engine="c",
            )
            for chunk in reader:
                if chunk.shape[1] != n_columns:
                    raise InputError(
                        f"{path}: a line near line {filled + 1 + int(has_header)} has "
                        f"{chunk.shape[1] + 1} cells but the first data line has "
                        f"{n_columns + 1}; every line needs the same number of cells."
                    )
                values = chunk.to_numpy(dtype=np.float64)
                _check_float32_range(path, values, filled + int(has_header), 1)
                out[filled : filled + values.shape[0]] = values
                labels.extend(str(v) for v in chunk.index)
                filled += values.shape[0]
    except InputError:
        raise
    except pd.errors.ParserError:
        raise InputError(
            _ragged_line(path, n_columns + int(has_index)) or f"{path}: not a well-formed CSV."
        ) from None
    except (ValueError, TypeError):
        raise InputError(_locate_bad_cell(path, has_header, has_index, rows_per_chunk)) from None
    out = out[:filled]
    finite = np.isfinite(out)
    if not finite.all():
        # pandas pads short lines with NaN: tell a ragged line from a missing value.
        ragged = _ragged_line(path, n_columns + int(has_index))
        if ragged:
            raise InputError(ragged)
    if not allow_missing and not finite.all():
        i, j = np.argwhere(~finite)[0]
        raise InputError(
            f"{path}: line {i + 1 + int(has_header)}, column {j + 1 + int(has_index)} is empty, "
            f"NaN or infinite ({int((~finite).sum())} such cells in all). Fill them in, or set "
            "input.missing_values: interpolate in config.yaml to interpolate them in time."
        )
    frame_index = None
    if layout.one_row_per_frame:
        out = np.ascontiguousarray(out.T)
        neuron_labels = header_names[int(has_index) :] if has_header else None
        frame_index = labels if has_index else None
    else:
        neuron_labels = labels if has_index else None
    if out.shape[0] == 0:
        raise InputError(f"{path}: the table holds no neurons.")
    if out.shape[1] < 2:
        raise InputError(
            f"{path}: only {out.shape[1]} frame per neuron; a recording needs at least 2 frames "
            "(if the file has one line per frame, set input.orientation: frames_x_neurons)."
        )
    return CsvTable(out, neuron_labels, frame_index, notes)

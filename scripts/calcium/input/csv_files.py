"""Fluorescence tables in CSV: a chunked, validating reader of the numbers.

The layout is decided in `csv_layout` and the shape in `csv_probe`; here the numbers are read
block by block into float32. Errors are :class:`calcium.errors.InputError` and name the file,
the line/column (counted from 1, as a text editor shows them) and the fix.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from calcium.errors import InputError
from calcium.input.csv_layout import DEFAULT_LAYOUT, Layout, TableLayout
from calcium.input.csv_probe import probe_csv
from calcium.input.csv_text import (
    BOM,
    first_lines,
    is_na,
    is_number,
    is_spreadsheet_error,
    spreadsheet_error_message,
)

FLOAT32_MAX = float(np.finfo(np.float32).max)
# Neuron labels (index column or header) longer than this are not labels.
MAX_LABEL_CHARS = 200


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


def _data_rows(path: Path, lines_above: int):
    """(line number, cells) of each data line, numbered as the file has them (blank lines and a
    quoted cell's line breaks counted): the slow path that locates a bad cell after a failure."""
    import csv

    with open(path, newline="", encoding="utf-8-sig", errors="replace") as handle:
        rows = csv.reader(handle)
        header_left = lines_above
        for row in rows:
            if not row or (len(row) == 1 and not row[0].strip()):  # a blank line (',,,' is not)
                continue
            if header_left:
                header_left -= 1
                continue
            yield rows.line_num, [cell.strip() for cell in row]


def _locate_bad_cell(path: Path, decided: Layout) -> str:
    """Find the first cell that is not a number, by its line in the file."""
    import csv

    try:
        return _first_bad_cell(path, decided)
    except csv.Error as error:  # e.g. a stray quote opening a field longer than the csv module allows
        return f'{path}: could not read the table as numbers ({error}); check for a stray quote (").'


def _first_bad_cell(path: Path, decided: Layout) -> str:
    first = 1 + int(decided.index)
    rejected = {first + k for k, status in enumerate(decided.statuses or ()) if status == "rejected"}
    for line, row in _data_rows(path, decided.lines_above):
        for j, cell in enumerate(row[first - 1 :], start=first):
            if is_number(cell) or is_na(cell) or j in rejected:  # Inscopix's rejected cells are not read
                continue
            if is_spreadsheet_error(cell):
                return spreadsheet_error_message(path, line, j, cell)
            return (
                f"{path}: line {line}, column {j}: {cell!r} is not a number. Every cell must be a number "
                "or a missing value ('', NA, NaN, #N/A, ...): fix or remove that cell, or set "
                "input.header / input.index_column in config.yaml if that line or column holds labels."
            )
    return f"{path}: could not read the table as numbers; check its delimiter (a comma is expected)."


def _locate_bad_label(path: Path, decided: Layout) -> str:
    """The first label of the index column that is a spreadsheet's error value, by its line."""
    import csv

    with contextlib.suppress(csv.Error):
        for line, row in _data_rows(path, decided.lines_above):
            if is_spreadsheet_error(row[0]):
                return spreadsheet_error_message(path, line, 1, row[0])
    return f"{path}: a label of its first column is a spreadsheet's error value."


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
        if handle.read(3) != BOM.encode():  # a byte-order mark (Excel's "CSV UTF-8") is not data
            handle.seek(0)
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
            _check_float32_range(path, block, filled + skip_lines, 0, np.arange(n_columns))
            out[filled : filled + n_rows] = block
            filled += n_rows
    return filled


def _check_cells_per_line(path: Path, data: bytes, n_columns: int) -> int:
    """Number of lines in `data` (each ending in a line break), refusing any with another cell count."""
    commas = np.fromiter((line.count(b",") for line in data.split(b"\n")[:-1]), dtype=np.int64)
    if np.any(commas != n_columns - 1):
        raise InputError(_ragged_line(path, n_columns) or f"{path}: lines differ in their number of cells.")
    return int(commas.size)


def _check_float32_range(
    path: Path, values: np.ndarray, lines_before: int, index_columns: int, columns: np.ndarray
) -> None:
    """Refuse finite values that overflow float32 (naming the 1-based line and column; `columns`:
    each value column's place among the file's columns after the index)."""
    huge = np.abs(np.where(np.isfinite(values), values, 0.0)) > FLOAT32_MAX
    if huge.any():
        i, j = np.argwhere(huge)[0]
        column = columns[j] + 1 + index_columns
        raise InputError(
            f"{path}: line {lines_before + i + 1}, column {column}: {values[i, j]:g} is "
            "beyond the range of 32-bit floats (±3.4e38) in which traces are stored; rescale the data "
            "(e.g. divide by a constant)."
        )


class CsvTable(NamedTuple):
    """A fluorescence CSV read into memory.

    traces: (neurons, frames) float32.
    neuron_labels: from the index column or header, or None.
    layout: the layout decided (header, index_column, orientation, byte_order_mark, quoted,
        na_cells: cells read as missing), for the log and recording.json.
    notes: what was detected and why, for the log.
    """

    traces: np.ndarray
    neuron_labels: list[str] | None
    layout: dict
    notes: list[str]


def read_fluorescence_csv(
    path: str | os.PathLike,
    layout: TableLayout = DEFAULT_LAYOUT,
    allow_missing: bool = False,
    rows_per_chunk: int = 1000,
) -> CsvTable:
    """Read a fluorescence CSV into a float32 array of shape (neurons, frames).

    The layout is decided by `detect_layout`; NA tokens (`NA_TOKENS`) are missing values.
    The file is read in blocks (of 64 MiB of text, or of `rows_per_chunk` lines when
    it has an index column), so peak memory is the output array plus one block.

    allow_missing: keep missing/NaN cells as NaN (to be interpolated) instead of
        raising.
    Raises InputError for a missing, empty, binary or not comma-separated file, an
    ambiguous layout (naming the config key that settles it), a non-numeric, missing or
    float32-overflowing cell (naming line and column), ragged rows, or a table with no
    neurons or a single frame.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found; check the `path` column of the session sheet.")
    shape = probe_csv(path, layout)
    decided = shape.layout
    has_header, has_index = shape.has_header, shape.has_index
    above = decided.lines_above
    top_lines = first_lines(path, 1 + above)
    header_names = top_lines[0] if has_header else None
    n_columns = len(top_lines[-1]) - int(has_index)
    n_lines = shape.n_frames if decided.one_row_per_frame else shape.n_neurons
    # The file's columns (after the index) read: Inscopix's rejected cells are not (nor checked).
    statuses = decided.statuses
    columns = (
        np.arange(n_columns) if statuses is None else np.flatnonzero([s != "rejected" for s in statuses])
    )
    out = np.empty((n_lines, columns.size), dtype=np.float32)
    labels: list[str] = []
    filled = 0
    try:
        if not has_index:
            filled = _read_plain_numbers(path, above, n_columns, out)
        else:
            reader = pd.read_csv(
                path,
                header=None,
                skiprows=decided.data_line,
                index_col=0,
                chunksize=rows_per_chunk,
                skip_blank_lines=True,
                encoding="utf-8-sig",
                engine="c",
            )
            for chunk in reader:
                if chunk.shape[1] != n_columns:
                    raise InputError(
                        f"{path}: a line near line {filled + 1 + above} has "
                        f"{chunk.shape[1] + 1} cells but the first data line has "
                        f"{n_columns + 1}; every line needs the same number of cells."
                    )
                values = chunk.iloc[:, columns].to_numpy(dtype=np.float64)
                _check_float32_range(path, values, filled + above, 1, columns)
                out[filled : filled + values.shape[0]] = values
                labels.extend(str(v) for v in chunk.index)
                if any(is_spreadsheet_error(str(v).strip()) for v in chunk.index):
                    raise InputError(_locate_bad_label(path, decided))
                filled += values.shape[0]
    except InputError:
        raise
    except pd.errors.ParserError:
        raise InputError(
            _ragged_line(path, n_columns + int(has_index)) or f"{path}: not a well-formed CSV."
        ) from None
    except (ValueError, TypeError):
        raise InputError(_locate_bad_cell(path, decided)) from None
    out = out[:filled]
    finite = np.isfinite(out)
    if not finite.all():
        # pandas pads short lines with NaN: tell a ragged line from a missing value.
        ragged = _ragged_line(path, n_columns + int(has_index))
        if ragged:
            raise InputError(ragged)
    # Lines of empty cells (',,,,') at the end, where spreadsheets leave them: not a frame (or a
    # neuron) of missing values to interpolate. A line with an index cell is a frame (or neuron)
    # whose values are missing: the missing-value rule below.
    trailing = len(out) - (np.flatnonzero(finite.any(axis=1))[-1] + 1 if finite.any() else 0)
    if trailing and has_index:  # pandas reads an empty index cell as NaN
        trailing = next(
            (k for k in range(trailing) if labels[len(out) - 1 - k].strip().lower() not in ("", "nan")),
            trailing,
        )
    if trailing:
        raise InputError(
            f"{path}: its last {trailing} data line(s) hold no value at all: empty rows, as spreadsheets "
            "leave below the data; delete them."
        )
    if not allow_missing and not finite.all():
        i, j = np.argwhere(~finite)[0]
        raise InputError(
            f"{path}: line {i + 1 + above}, column {columns[j] + 1 + int(has_index)} is empty, "
            f"NaN, NA or infinite ({int((~finite).sum())} such cells in all). Fill them in, or set "
            "input.missing_values: interpolate in config.yaml to interpolate them in time."
        )
    if decided.one_row_per_frame:
        out = np.ascontiguousarray(out.T)
        if has_header:
            neuron_labels = header_names if decided.short_header else header_names[int(has_index) :]
        else:
            neuron_labels = None
    else:
        neuron_labels = labels if has_index else None
    if statuses is not None:  # Inscopix: cells rejected there are not neurons
        neuron_labels = [neuron_labels[j] for j in columns]
    if out.shape[0] == 0:
        raise InputError(f"{path}: the table holds no neurons.")
    if out.shape[1] < 2:
        raise InputError(
            f"{path}: only {out.shape[1]} frame per neuron; a recording needs at least 2 frames "
            "(if the file has one line per frame, set input.orientation: frames_x_neurons)."
        )
    long = [i for i, name in enumerate(neuron_labels or []) if len(name) > MAX_LABEL_CHARS]
    if long:
        if decided.one_row_per_frame:
            place = f"line 1, column {columns[long[0]] + 1 + int(has_index and not decided.short_header)}"
        else:
            place = f"line {long[0] + 1 + above}, column 1"
        raise InputError(
            f"{path}: {place}: a neuron label of {len(neuron_labels[long[0]])} characters; labels are at "
            f"most {MAX_LABEL_CHARS} (they name neurons in tables, figures and the NWB file)."
        )
    facts = {
        "format": "csv",
        "header": has_header,
        "index_column": has_index,
        "orientation": decided.orientation,
        "byte_order_mark": decided.bom,
        "quoted": decided.quoted,
        "na_cells": int(np.isnan(out).sum()),
    }
    if statuses is not None:
        facts["cell_statuses"] = {status: statuses.count(status) for status in sorted(set(statuses))}
    notes = [
        f"header row: {'yes' if has_header else 'no'}",
        f"index column: {'yes' if has_index else 'no'}",
        f"orientation: {decided.orientation}",
        *decided.reasons,
    ]
    return CsvTable(out, neuron_labels, facts, notes)

"""Fluorescence tables in CSV: layout detection and a chunked, validating reader.

Errors are :class:`calcium.errors.InputError` and name the file, the line/column
(counted from 1, as a text editor shows them) and the fix.
"""

from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from calcium.errors import InputError

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


# Cells read as missing values: pandas' default NA tokens (what its reader turns into NaN), which
# cover R's NA, pandas' empty cell and NaN, NumPy's nan, Excel's #N/A and SQL's NULL. Matched
# case-sensitively, exactly as pandas does; such a cell is never a label, never makes a header.
NA_TOKENS = frozenset(
    [
        "",
        "NA",
        "N/A",
        "n/a",
        "#N/A",
        "#N/A N/A",
        "#NA",
        "<NA>",
        "NaN",
        "-NaN",
        "nan",
        "-nan",
        "NULL",
        "null",
        "None",
        "1.#IND",
        "-1.#IND",
        "1.#QNAN",
        "-1.#QNAN",
    ]
)
_NUMBER = re.compile(r"^[+-]?((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|inf|infinity)$", re.IGNORECASE)
_INTEGER = re.compile(r"^[+-]?\d+$")
BOM = "\ufeff"
# With input.orientation auto and nothing in the file naming its axes, one line per neuron is
# assumed only if the lines are at least this many times longer than there are lines.
AUTO_FRAMES_PER_NEURON = 2
# Neuron labels (index column or header) longer than this are not labels.
MAX_LABEL_CHARS = 200
# Lines sampled from the top of a file to decide its layout.
SAMPLE_LINES = 50
# A first line or column of this many numbers in strictly increasing order is taken for an axis
# (names, times or ids) only when the rules below say so; otherwise the file is ambiguous. Below
# this many, increasing order happens by chance (1 in 8! = 40320 at 8 values).
MIN_ORDERED = 8


def _is_na(cell: str) -> bool:
    return cell in NA_TOKENS


def _is_number(text: str) -> bool:
    return bool(_NUMBER.match(text))


def _is_text(cell: str) -> bool:
    """A cell that is neither a number nor a missing-value token: a label."""
    return not _is_na(cell) and not _is_number(cell)


def _unquote(cell: str) -> str:
    cell = cell.strip()
    if len(cell) >= 2 and cell[0] == cell[-1] == '"':
        cell = cell[1:-1].replace('""', '"').strip()
    return cell


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
    if "\r" in text and "\n" not in text:
        raise InputError(
            f"{path}: its lines end with a carriage return alone (classic Mac OS, Excel's CSV (Macintosh)); "
            'save it with LF or CRLF line ends (e.g. as "CSV UTF-8").'
        )
    first = next((line for line in text.lstrip(BOM).splitlines() if line.strip()), "")
    if "," not in first:
        spaced = len(first.split()) > 1 and all(_is_number(cell) or _is_na(cell) for cell in first.split())
        for name, separator in (("semicolons", ";"), ("tabs", "\t"), ("spaces", " ")):
            if first.count(separator) >= 1 and (separator != " " or spaced):
                raise InputError(
                    f"{path}: line 1 separates its cells with {name}, not commas; save the table "
                    "as comma-separated CSV (e.g. in pandas: to_csv(path, sep=','))."
                )


def _split_line(line: str) -> list[str]:
    """Cells of one CSV line, quotes removed (RFC 4180: "" inside quotes is one quote)."""
    if '"' not in line:
        return [cell.strip() for cell in line.split(",")]
    return [_unquote(cell) for cell in next(csv.reader([line], skipinitialspace=True))] or [""]


def _first_cell(line: str) -> str:
    if line.lstrip().startswith('"'):
        return _split_line(line.split(",", 1)[0] if line.count('"') < 2 else line)[0]
    return line.split(",", 1)[0].strip()


class _Sample(NamedTuple):
    """The top of a file: the first lines' cells (later lines: only their first cell), where the
    first non-blank line is (raw line number from 0), and whether a byte-order mark or quotes occur."""

    rows: list[list[str]]
    first_line_number: int
    bom: bool
    quoted: bool


def _sample(path: Path, n: int = SAMPLE_LINES, whole: int = 2) -> _Sample:
    """Cells of the first `n` non-blank lines; beyond the first `whole` lines only the first
    cell is split off (wide tables have thousands of cells per line)."""
    rows: list[list[str]] = []
    first_number, bom, quoted = 0, False, False
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle):
            if number == 0 and line.startswith(BOM):
                line, bom = line[1:], True
            if not line.strip():
                continue
            if not rows:
                first_number = number
            line = line.rstrip("\r\n")
            quoted |= '"' in line
            rows.append(_split_line(line) if len(rows) < whole else [_first_cell(line)])
            if len(rows) >= n:
                break
    return _Sample(rows, first_number, bom, quoted)


def _first_lines(path: Path, n: int, whole: int | None = None) -> list[list[str]]:
    """Cells of the first `n` non-blank lines (quotes and a byte-order mark removed)."""
    return _sample(path, n, n if whole is None else whole).rows


def _last_line(path: Path) -> list[str]:
    """Cells of the last non-blank line (read from the end of the file)."""
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - (1 << 16)))
        tail = handle.read().decode("utf-8", errors="replace")
    lines = [line for line in tail.splitlines() if line.strip()]
    return _split_line(lines[-1].lstrip(BOM)) if lines else []


def _counts(values: list[str]) -> bool:
    """Whole numbers written as such (no decimal point) counting 0,1,2,... or 1,2,3,...:
    pandas' default column names and index, R's row names. Fluorescence is never that."""
    if not values or not all(_INTEGER.match(v) for v in values):
        return False
    numbers = [int(v) for v in values]
    return numbers[0] in (0, 1) and all(b - a == 1 for a, b in zip(numbers, numbers[1:], strict=False))


def _numbers(values: list[str]) -> np.ndarray | None:
    if not values or not all(_is_number(v) for v in values):
        return None
    return np.array([float(v) for v in values])


def _increasing(values: list[str]) -> bool:
    numbers = _numbers(values)
    return numbers is not None and numbers.size >= 2 and bool(np.all(np.diff(numbers) > 0))


def _constant_step(values: list[str]) -> bool:
    """Finite numbers increasing by one step (within 1e-6): frame times, never a trace."""
    numbers = _numbers(values)
    if numbers is None or numbers.size < 3 or not np.isfinite(numbers).all():
        return False
    steps = np.diff(numbers)
    return bool(steps[0] > 0 and np.allclose(steps, steps[0], rtol=1e-6, atol=1e-12))


def _whole_numbers_only(cells: list[str]) -> bool:
    return all(_INTEGER.match(c) or _is_na(c) for c in cells)


_INDEX_NAMES = re.compile(
    r"^(index|idx|id|neuron|neuron_id|cell|cell_id|roi|roi_id|unit|frame|frames|frame_index|t|time|time_s|"
    r"time_ms|timestamp|timestamps)$",
    re.I,
)
# Index-column names that mean "time of the frame", and their unit in seconds.
_TIME_UNITS = {"t": 1.0, "time": 1.0, "time_s": 1.0, "timestamp": 1.0, "timestamps": 1.0, "time_ms": 1e-3}
_FRAME_NAMES = re.compile(r"^(frame|frames|frame_index|t|time|time_s|time_ms|timestamp|timestamps)$", re.I)
_NEURON_NAMES = re.compile(r"^(neuron|neuron_id|cell|cell_id|roi|roi_id|unit)$", re.I)


class Layout(NamedTuple):
    """The layout of a fluorescence CSV as decided (see `detect_layout`).

    header, index: whether the first line holds names / the first column labels.
    orientation: "neurons_x_frames" or "frames_x_neurons".
    short_header: the header has one cell fewer than the data lines (R's write.table: no
        corner cell above the row names).
    header_line: raw line number (from 0) of the header, or of the first data line if none.
    bom, quoted: a byte-order mark starts the file / cells are quoted.
    reasons: why each was decided, for the log.
    """

    header: bool
    index: bool
    orientation: str
    short_header: bool
    header_line: int
    bom: bool
    quoted: bool
    reasons: tuple[str, ...]

    @property
    def one_row_per_frame(self) -> bool:
        return self.orientation == "frames_x_neurons"


def _ambiguous(path: Path, what: str, key: str, choices: str) -> InputError:
    return InputError(
        f"{path}: {what}; the layout cannot be told for sure, so set {key}: {choices} in config.yaml."
    )


def detect_layout(path: Path, layout: TableLayout) -> Layout:
    """Decide the header, index column and orientation of a fluorescence CSV.

    Rules (documented in docs/inputs.md, "Input layout"), on the first 50 non-blank lines with
    quotes and a byte-order mark removed; NA tokens (`NA_TOKENS`: R's NA, empty cells,
    NaN, #N/A, NULL, ...) are missing values, never labels:

    header (input.header: auto): the first line is a header if a cell after its first is
      text, or if its cells (after a corner cell that is text or empty) are whole numbers
      counting 0,1,2,... or 1,2,3,... (pandas' default names). A first line of at least
      8 numbers in increasing order that is neither is ambiguous (names or times, or data?).
    index column (input.index_column: auto): the first column holds labels if a cell of it
      below the header is text, if the header has one cell fewer than the data lines (R's
      write.table), if its header cell is empty or names an index (neuron, roi, frame,
      time_s, ...), or if it counts 0,1,2,... / 1,2,3,... in whole numbers (at least 3
      lines, or 2 when the other cells are not whole numbers), or, with one line per frame,
      rises by a constant step (frame times). A first column of at least 8 numbers in
      increasing order that is none of these is ambiguous.
    orientation (input.orientation: auto): one line per frame if the index column's header
      names a time or frame, or the index column rises by a constant non-integer step (times);
      else one line per neuron, if the lines hold at least twice as many cells as there are
      lines (else refused, naming input.orientation).
    Raises InputError naming the file and the config key that settles an ambiguity.
    """
    sample = _sample(path)
    lines = sample.rows
    if not lines:
        raise InputError(f"{path}: the file is empty; expected a table of fluorescence values.")
    first = lines[0]
    # Every data line ending in an empty cell is a trailing delimiter (a header may or may not have
    # one): refused, as it would add a frame or a neuron (or make the header look one cell short).
    data_line = lines[1] if len(lines) > 1 else first
    if len(data_line) > 1 and data_line[-1] == "" and _last_line(path)[-1:] == [""]:
        raise InputError(
            f"{path}: every data line ends with a comma (an empty last column), which would add a frame or a "
            "neuron of missing values; remove the trailing commas."
        )
    reasons = []
    rest = first[1:]
    corner_ok = _is_text(first[0]) or first[0] == ""  # a corner cell above an index column
    if layout.header != "auto":
        has_header = bool(layout.header)
        reasons.append(f"header {'yes' if has_header else 'no'} (input.header)")
    elif len(first) == 1 and not _counts(first):
        has_header = _is_text(first[0])
        reasons.append("header yes: a text cell" if has_header else "header no: a number")
    elif any(_is_text(cell) for cell in rest):
        numbers = [cell for cell in rest if _is_number(cell)]
        if numbers:
            text = next(cell for cell in rest if _is_text(cell))
            raise InputError(
                f"{path}: line 1 mixes text ({text!r}) and numbers ({numbers[0]!r}). If it is data, "
                f"{text!r} is not a number: fix that cell. If it names the columns, set input.header: true."
            )
        has_header, _ = True, reasons.append("header yes: line 1 holds text")
    elif _counts(first) or (corner_ok and _counts(rest)):
        second = lines[1] if len(lines) > 1 else []
        counted = len(first) if _counts(first) else len(rest)
        if counted < 2 or (counted < 3 and _whole_numbers_only(second)):
            raise _ambiguous(
                path,
                "line 1 counts like column names but is too short to tell",
                "input.header",
                "true or false",
            )
        has_header = True
        reasons.append("header yes: line 1 counts 0,1,2,... or 1,2,3,... in whole numbers (column names)")
    elif len(rest) + 1 >= MIN_ORDERED and (_increasing(first) or (corner_ok and _increasing(rest))):
        raise _ambiguous(
            path,
            f"line 1 holds {len(first)} numbers in increasing order (column names or times, or data?)",
            "input.header",
            "true (it names the columns) or false (it is data)",
        )
    else:
        has_header = False
        reasons.append("header no: line 1 holds only numbers and missing values")
    body = lines[1:] if has_header else lines
    data_width = len(body[0]) if body else len(first)
    short_header = has_header and len(body) > 0 and len(first) == data_width - 1
    orientation = layout.orientation
    frames_allowed = orientation != "neurons_x_frames"
    column = [row[0] for row in body if row]
    corner = first[0] if has_header and not short_header else None
    if layout.index_column != "auto":
        has_index = bool(layout.index_column)
        reasons.append(f"index column {'yes' if has_index else 'no'} (input.index_column)")
        if short_header and not has_index:
            raise InputError(
                f"{path}: line 1 has {len(first)} cells but the data lines {data_width}, as when the first "
                "column holds row names; set input.index_column: true, or fix the header."
            )
    elif data_width < 2:
        has_index = False
    elif any(_is_text(v) for v in column):
        numbers = [v for v in column if _is_number(v)]
        if numbers:
            text = next(v for v in column if _is_text(v))
            raise InputError(
                f"{path}: the first column mixes text ({text!r}) and numbers ({numbers[0]!r}). If it is "
                f"data, {text!r} is not a number: fix that cell. If it holds labels, set "
                "input.index_column: true."
            )
        has_index, _ = True, reasons.append("index column yes: it holds text")
    elif short_header:
        has_index, _ = True, reasons.append("index column yes: the header has one cell fewer (row names)")
    elif corner is not None and (corner == "" or _INDEX_NAMES.match(corner)):
        has_index, _ = True, reasons.append(f"index column yes: its header cell is {corner!r}")
    elif _counts(column):
        others_whole = _whole_numbers_only([c for row in body[:2] for c in row[1:]])
        if len(column) < 3 and (others_whole or len(column) < 2):
            raise _ambiguous(
                path,
                f"the first column counts {', '.join(column)} like row numbers, but on too few lines to tell",
                "input.index_column",
                "true (it holds labels) or false (it is data)",
            )
        has_index, _ = True, reasons.append("index column yes: it counts 0,1,2,... or 1,2,3,...")
    elif frames_allowed and _constant_step(column):
        has_index, _ = True, reasons.append("index column yes: it rises by a constant step (frame times)")
    elif len(column) >= MIN_ORDERED and _increasing(column):
        raise _ambiguous(
            path,
            f"the first column holds numbers in increasing order on its first {len(column)} lines (labels "
            "such as ids or times, or data?)",
            "input.index_column",
            "true (it holds labels) or false (it is data)",
        )
    else:
        has_index = False
        reasons.append("index column no: its cells are numbers or missing values that count nothing")
    if orientation == "auto":
        name = first[0] if has_header and has_index and not short_header else ""
        if has_index and _FRAME_NAMES.match(name):
            orientation = "frames_x_neurons"
            reasons.append(f"one line per frame: the index column is named {name!r}")
        elif has_index and _NEURON_NAMES.match(name):
            orientation = "neurons_x_frames"
            reasons.append(f"one line per neuron: the index column is named {name!r}")
        elif has_index and _constant_step(column) and not _whole_numbers_only(column):
            orientation = "frames_x_neurons"
            reasons.append("one line per frame: the index column holds frame times")
        else:
            orientation = "neurons_x_frames"
            reasons.append(
                "one line per neuron (input.orientation auto; refused if that gives more neurons than frames)"
            )
    else:
        reasons.append(
            ("one line per frame" if orientation == "frames_x_neurons" else "one line per neuron")
            + " (input.orientation)"
        )
    return Layout(
        has_header,
        has_index,
        orientation,
        short_header,
        sample.first_line_number,
        sample.bom,
        sample.quoted,
        tuple(reasons),
    )


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


def time_unit_s(index_name: str) -> float | None:
    """Seconds per unit of an index column named like a time ("time_s": 1, "time_ms": 0.001), else None."""
    return _TIME_UNITS.get(index_name.strip().lower())


def _read_time_column(path: Path, decided: Layout) -> np.ndarray:
    """Every data line's first cell as float64 (the frame times), refusing cells that are not numbers."""
    skip = decided.header_line + int(decided.header)
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
            "a finite number; every frame needs its time."
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
    # scatter around it by their rounding), and each frame's distance from it.
    frames = np.arange(times_s.size, dtype=np.float64)
    slope, intercept = np.polyfit(frames, times_s, 1)
    rate = 1.0 / slope
    drift = np.abs(times_s - (intercept + slope * frames))
    worst = int(np.argmax(drift))
    if drift[worst] > 0.5 / rate:
        gaps = np.flatnonzero(steps > 1.5 / rate)
        if gaps.size:
            where = f"data line {int(gaps[0]) + 2} follows a gap of {steps[gaps[0]]:.6g} s"
        else:
            where = f"data line {worst + 1} lies {drift[worst]:.3g} s from a constant rate"
        raise InputError(
            f"{source}: the frame times are irregular ({where}, more than half a frame at the mean rate "
            f"{rate:.6g} Hz); split the recording into sessions at the pause, or fill in the missing frames."
        )


def probe_csv(path: str | os.PathLike, layout: TableLayout = TableLayout()) -> CsvShape:
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
    times = None
    if decided.one_row_per_frame and has_index and has_header and not decided.short_header:
        unit = time_unit_s(first_lines[0][0])
        if unit is not None:
            times = _read_time_column(path, decided) * unit
            check_frame_times(times, str(path))
    first_time = float(times[0]) if times is not None else None
    last_time = float(times[-1]) if times is not None else None
    if decided.one_row_per_frame:
        return CsvShape(n_columns, n_lines, has_header, has_index, first_time, last_time, decided, times)
    if layout.orientation == "auto" and n_columns < AUTO_FRAMES_PER_NEURON * n_lines:
        raise InputError(
            f"{path}: read as one line per neuron it holds {n_lines} neurons x {n_columns} frames, fewer "
            f"than {AUTO_FRAMES_PER_NEURON} frames per neuron, so it may as well hold one line per frame. "
            "If the file has one line per frame, set input.orientation: frames_x_neurons in config.yaml; "
            "if one line per neuron, set input.orientation: neurons_x_frames."
        )
    return CsvShape(n_lines, n_columns, has_header, has_index, None, None, decided, None)


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


def _locate_bad_cell(path: Path, decided: Layout, rows_per_chunk: int) -> str:
    """Find the first cell that is not a number (slow path, only after a failure)."""
    has_header, has_index = decided.header, decided.index
    reader = pd.read_csv(
        path,
        header=None,
        skiprows=decided.header_line + int(has_header),
        index_col=0 if has_index else None,
        dtype=str,
        chunksize=rows_per_chunk,
        keep_default_na=False,
        encoding="utf-8-sig",
    )
    done = 0
    for chunk in reader:
        cells = np.array([str(c).strip() for c in chunk.to_numpy().ravel()], dtype=object)
        bad = np.flatnonzero([not (_is_number(c) or _is_na(c)) for c in cells])
        if bad.size:
            i, j = divmod(int(bad[0]), chunk.shape[1])
            return (
                f"{path}: line {done + i + 1 + int(has_header)}, column {j + 1 + int(has_index)}: "
                f"{cells[bad[0]]!r} is not a number. Every cell must be a number or a missing value "
                "('', NA, NaN, #N/A, ...): fix or remove that cell, or set "
                "input.header / input.index_column in config.yaml if that line or column holds labels."
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
    layout: TableLayout = TableLayout(),
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
    first_lines = _first_lines(path, 1 + int(has_header))
    header_names = first_lines[0] if has_header else None
    n_columns = len(first_lines[-1]) - int(has_index)
    n_lines = shape.n_frames if decided.one_row_per_frame else shape.n_neurons
    out = np.empty((n_lines, n_columns), dtype=np.float32)
    labels: list[str] = []
    filled = 0
    try:
        if not has_index:
            filled = _read_plain_numbers(path, int(has_header), n_columns, out)
        else:
            reader = pd.read_csv(
                path,
                header=None,
                skiprows=decided.header_line + int(has_header),
                index_col=0,
                chunksize=rows_per_chunk,
                skip_blank_lines=True,
                encoding="utf-8-sig",
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
        raise InputError(_locate_bad_cell(path, decided, rows_per_chunk)) from None
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
            place = f"line 1, column {long[0] + 1 + int(has_index and not decided.short_header)}"
        else:
            place = f"line {long[0] + 1 + int(has_header)}, column 1"
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
    notes = [
        f"header row: {'yes' if has_header else 'no'}",
        f"index column: {'yes' if has_index else 'no'}",
        f"orientation: {decided.orientation}",
        *decided.reasons,
    ]
    return CsvTable(out, neuron_labels, facts, notes)

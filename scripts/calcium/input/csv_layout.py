"""CSV layout: whether a fluorescence table has a header, an index column, and one line per neuron
or per frame, decided by fixed rules on the top of the file (`detect_layout`).

Errors are :class:`calcium.errors.InputError` and name the file and the config key
(input.header, input.index_column, input.orientation) that settles an ambiguity.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from calcium.errors import InputError
from calcium.input.csv_columns import (
    cell_statuses,
    names_neurons,
    names_time_or_frame,
    refuse_header_width,
    refuse_lines_above_data,
    time_unit_s,
)
from calcium.input.csv_text import (
    INTEGER,
    is_na,
    is_number,
    is_text,
    last_line,
    refuse_spreadsheet_errors,
    refuse_thousands_separators,
    sample_top,
)


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


DEFAULT_LAYOUT = TableLayout()  # header and index column decided from the file; one line per neuron


# A first line or column of this many numbers in strictly increasing order is taken for an axis
# (names, times or ids) only when the rules below say so; otherwise the file is ambiguous. Below
# this many, increasing order happens by chance (1 in 8! = 40320 at 8 values).
MIN_ORDERED = 8


def _counts(values: list[str]) -> bool:
    """Whole numbers written as such (no decimal point) counting 0,1,2,... or 1,2,3,...:
    pandas' default column names and index, R's row names. Fluorescence is never that."""
    if not values or not all(INTEGER.match(v) for v in values):
        return False
    numbers = [int(v) for v in values]
    return numbers[0] in (0, 1) and all(b - a == 1 for a, b in zip(numbers, numbers[1:], strict=False))


def _numbers(values: list[str]) -> np.ndarray | None:
    if not values or not all(is_number(v) for v in values):
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


def _ids_beside_values(column: list[str], body: list[list[str]]) -> bool:
    """Whole numbers increasing down the first column, each below a tenth of the median magnitude
    of the other cells of its line: ROI ids (3, 7, 12, ...) in front of traces (~1000), which fewer
    than MIN_ORDERED lines do not show as an ordered column."""
    if len(column) < 2 or not all(INTEGER.match(v) for v in column) or not _increasing(column):
        return False
    full = [(first, row) for first, row in zip(column, body, strict=False) if len(row) > 1]
    for first, row in full:  # the sample keeps whole lines only at the top
        others = _numbers([c for c in row[1:] if not is_na(c)])
        if others is None or others.size == 0 or not abs(float(first)) < 0.1 * np.median(np.abs(others)):
            return False
    return len(full) >= 1


def _whole_numbers_only(cells: list[str]) -> bool:
    return all(INTEGER.match(c) or is_na(c) for c in cells)


_INDEX_NAMES = re.compile(
    r"^(index|idx|id|neuron|neuron_id|cell|cell_id|roi|roi_id|unit|frame|frames|frame_index|t|time|time_s|"
    r"time_ms|timestamp|timestamps)$",
    re.I,
)
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
    statuses: Inscopix's cell statuses (`calcium.input.csv_columns.cell_statuses`), one per
        neuron column, from a second header line; None: no such line.
    data_line: raw line number (from 0) of the first data line (blank lines above it counted).
    """

    header: bool
    index: bool
    orientation: str
    short_header: bool
    header_line: int
    bom: bool
    quoted: bool
    reasons: tuple[str, ...]
    statuses: tuple[str, ...] | None = None
    data_line: int = 0

    @property
    def one_row_per_frame(self) -> bool:
        return self.orientation == "frames_x_neurons"

    @property
    def lines_above(self) -> int:
        """Non-blank lines above the data: the header and Inscopix's line of cell statuses."""
        return int(self.header) + int(self.statuses is not None)

    @property
    def index_name(self) -> str | None:
        """What names the index column when the header's corner cell does not: Inscopix's times."""
        return "Time(s)" if self.statuses is not None else None


def _ambiguous(path: Path, what: str, key: str, choices: str) -> InputError:
    return InputError(
        f"{path}: {what}; the layout cannot be told for sure, so set {key}: {choices} in config.yaml."
    )


def _decide_header(path: Path, layout: TableLayout, lines: list[list[str]], reasons: list[str]) -> bool:
    """Whether the first line is a header (rules in `detect_layout`); appends why to `reasons`."""
    first = lines[0]
    rest = first[1:]
    corner_ok = is_text(first[0]) or first[0] == ""  # a corner cell above an index column
    if layout.header != "auto":
        has_header = bool(layout.header)
        reasons.append(f"header {'yes' if has_header else 'no'} (input.header)")
    elif len(first) == 1 and not _counts(first):
        has_header = is_text(first[0])
        reasons.append("header yes: a text cell" if has_header else "header no: a number")
    elif any(is_text(cell) for cell in rest):
        numbers = [cell for cell in rest if is_number(cell)]
        if numbers:
            text = next(cell for cell in rest if is_text(cell))
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
    return has_header


def _decide_index(
    path: Path,
    layout: TableLayout,
    first: list[str],
    body: list[list[str]],
    short_header: bool,
    has_header: bool,
    reasons: list[str],
) -> bool:
    """Whether the first column holds labels (rules in `detect_layout`); appends why to `reasons`."""
    data_width = len(body[0]) if body else len(first)
    frames_allowed = layout.orientation != "neurons_x_frames"
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
    elif any(is_text(v) for v in column):
        numbers = [v for v in column if is_number(v)]
        if numbers:
            text = next(v for v in column if is_text(v))
            raise InputError(
                f"{path}: the first column mixes text ({text!r}) and numbers ({numbers[0]!r}). If it is "
                f"data, {text!r} is not a number: fix that cell. If it holds labels, set "
                "input.index_column: true."
            )
        has_index, _ = True, reasons.append("index column yes: it holds text")
    elif short_header:
        has_index, _ = True, reasons.append("index column yes: the header has one cell fewer (row names)")
    elif corner is not None and (corner == "" or _INDEX_NAMES.match(corner) or time_unit_s(corner)):
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
    elif _ids_beside_values(column, body):
        raise _ambiguous(
            path,
            f"the first column holds whole numbers in increasing order ({', '.join(column[:4])}, ...), "
            "far below the other values of their lines (ROI ids, or data?)",
            "input.index_column",
            "true (it holds labels) or false (it is data)",
        )
    else:
        has_index = False
        reasons.append("index column no: its cells are numbers or missing values that count nothing")
    return has_index


def _decide_orientation(
    layout: TableLayout,
    first: list[str],
    column: list[str],
    has_header: bool,
    has_index: bool,
    short_header: bool,
    reasons: list[str],
) -> str:
    """One line per neuron or per frame (rules in `detect_layout`); appends why to `reasons`."""
    orientation = layout.orientation
    if orientation == "auto":
        name = first[0] if has_header and has_index and not short_header else ""
        header_numbers = has_header and all(is_number(c) or is_na(c) for c in first[1:])
        if has_index and header_numbers and any(is_text(v) for v in column):
            # labels down the side, frame times across: the corner ('Time (s)') names the header
            orientation = "neurons_x_frames"
            reasons.append("one line per neuron: text labels in the index column, numbers in the header")
        elif has_index and names_time_or_frame(name):
            orientation = "frames_x_neurons"
            reasons.append(f"one line per frame: the index column is named {name!r}")
        elif has_index and _NEURON_NAMES.match(name):
            orientation = "neurons_x_frames"
            reasons.append(f"one line per neuron: the index column is named {name!r}")
        elif has_index and _constant_step(column) and not _whole_numbers_only(column):
            orientation = "frames_x_neurons"
            reasons.append("one line per frame: the index column holds frame times")
        elif has_header and names_neurons(first[0 if short_header or not has_index else 1 :]):
            orientation = "frames_x_neurons"
            reasons.append("one line per frame: the header names neurons (roi_0, cell1, Mean1, C00, ...)")
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
    return orientation


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
    sample = sample_top(path, whole=3)
    lines = sample.rows
    if not lines:
        raise InputError(f"{path}: the file is empty; expected a table of fluorescence values.")
    first = lines[0]
    # Every data line ending in an empty cell is a trailing delimiter (a header may or may not have
    # one): refused, as it would add a frame or a neuron (or make the header look one cell short).
    data_line = lines[1] if len(lines) > 1 else first
    if len(data_line) > 1 and data_line[-1] == "" and last_line(path)[-1:] == [""]:
        raise InputError(
            f"{path}: every data line ends with a comma (an empty last column), which would add a frame or a "
            "neuron of missing values; remove the trailing commas."
        )
    refuse_spreadsheet_errors(path, sample)
    refuse_thousands_separators(path, sample)
    reasons: list[str] = []
    has_header = _decide_header(path, layout, lines, reasons)
    body = lines[1:] if has_header else lines
    refuse_lines_above_data(path, lines, sample.line_numbers, layout.header, layout.index_column)
    statuses = cell_statuses(first, body[0]) if has_header and body else None
    if statuses is not None:  # Inscopix: the time column is named on the status line
        body, first = body[1:], ["Time(s)", *first[1:]]
        reasons.append("line 2 holds Inscopix's cell statuses (Time(s)/Cell Status): rejected cells left out")
    data_width = len(body[0]) if body else len(first)
    if has_header and body:
        refuse_header_width(path, first, data_width)
    short_header = has_header and len(body) > 0 and len(first) == data_width - 1
    has_index = _decide_index(path, layout, first, body, short_header, has_header, reasons)
    column = [row[0] for row in body if row]
    orientation = _decide_orientation(layout, first, column, has_header, has_index, short_header, reasons)
    return Layout(
        has_header,
        has_index,
        orientation,
        short_header,
        sample.first_line_number,
        sample.bom,
        sample.quoted,
        tuple(reasons),
        statuses,
        sample.raw_line(int(has_header) + int(statuses is not None)),
    )

"""Column names of a one-line-per-frame fluorescence CSV that are not neurons.

With one line per frame, every column after the index is read as a neuron. Files from other
tools often hold columns that are not: a second time or frame column (pandas' `to_csv()` of a
table with a frame index and a time column), the neuron-id column of a long ("tidy") table (one
row per frame and neuron), or ImageJ's other measurements (Area, Min, Max ... beside Mean).
Read as neurons they gave a "neuron" holding the time ramp, or two "neurons" of 48 000 frames
for 20 neurons of 2 400: refused here, naming the column and what to do.
"""

from __future__ import annotations

import re
from pathlib import Path

from calcium.errors import InputError
from calcium.input.csv_text import is_na, is_number, is_text

# A time column's name, optionally with its unit: t, time, time_s, time_ms, timestamp(s),
# "Time (s)", "time [ms]", "Time(s)".
_TIME_NAME = re.compile(
    r"^(?:t|time|times|time_s|time_ms|timestamp|timestamps|frame_time|frame_times)"
    r"\s*(?:[(\[]\s*(s|sec|secs|seconds|ms|msec|milliseconds)\s*[)\]])?$",
    re.I,
)
_FRAME_NAME = re.compile(r"^(?:frame|frames|frame_index|frame_number|frame_no|frame_id)$", re.I)
_NEURON_ID_NAME = re.compile(
    r"^(?:neuron|neuron_id|neurons|cell|cell_id|cells|roi|roi_id|rois|unit|unit_id)$", re.I
)
# ImageJ's Multi Measure columns other than the mean intensity, numbered per ROI (not its X1, Y1:
# R names a data frame's columns X1, X2, ...).
_IMAGEJ_MEASURE = re.compile(
    r"^(?:Area|Min|Max|StdDev|IntDen|RawIntDen|XM|YM|Median|Mode|Skew|Kurt|%Area|Perim\.?|Major|"
    r"Minor|Angle|Circ\.?|Feret|FeretX|FeretY|FeretAngle|MinFeret|AR|Round|Solidity|BX|BY|Width|Height)"
    r"\d+$"
)


# A neuron's column name: roi_0, ROI 12, cell1, Cell-3, neuron_7, unit 2, Mean1 (ImageJ), C00
# (Inscopix), n5. Generic names (pandas' 0, 1, ...; R's V1, X1; MATLAB's Var1) name nothing.
_NEURON_COLUMN = re.compile(r"^(?:roi|cell|neuron|unit|mean|c|n)[\s_-]*\d+$", re.I)


def names_neurons(names: list[str]) -> bool:
    """Whether header cells name neurons (at least 90 % of at least 2 cells look like `roi_0`,
    `cell1`, `Mean1`, `C00`, ...): a header of frames would hold times or numbers."""
    names = [name.strip() for name in names]
    return len(names) >= 2 and sum(bool(_NEURON_COLUMN.match(name)) for name in names) >= 0.9 * len(names)


def time_unit_s(name: str) -> float | None:
    """Seconds per unit of a column named like a time ("time_s", "Time (s)": 1; "time_ms",
    "Time (ms)": 0.001), else None."""
    match = _TIME_NAME.match(name.strip())
    if match is None:
        return None
    unit = (match.group(1) or "").lower()
    milliseconds = unit.startswith("m") or name.strip().lower().startswith("time_ms")
    return 1e-3 if milliseconds else 1.0


def names_time_or_frame(name: str) -> bool:
    """Whether a column name means the frames' axis: a time (`time_unit_s`) or a frame number."""
    return time_unit_s(name) is not None or bool(_FRAME_NAME.match(name.strip()))


def refuse_non_neuron_columns(path: Path, names: list[str], first_column: int) -> None:
    """Refuse a one-line-per-frame file whose neuron columns (header cells `names`, the first of
    them in file column `first_column`, counted from 1) include a time or frame column, a
    long table's neuron-id column, or ImageJ measurements other than the mean."""
    for offset, raw in enumerate(names):
        name, column = raw.strip(), first_column + offset
        where = f"{path}: line 1, column {column} ({name!r})"
        if names_time_or_frame(name):
            raise InputError(
                f"{where} names a time or a frame, but with one line per frame every column after the "
                "first is read as a neuron. Keep one time (or frame) column, as the first column, and "
                "remove the other."
            )
        if _NEURON_ID_NAME.match(name):
            raise InputError(
                f"{where} names neurons: this looks like a long table (one line per frame and neuron). "
                "Give one column per neuron and one line per frame (pandas: "
                "df.pivot(index='frame', columns='neuron', values=...); R: tidyr::pivot_wider)."
            )
        if _IMAGEJ_MEASURE.match(name):
            raise InputError(
                f"{where} is an ImageJ measurement other than the mean intensity, not a trace. Keep only "
                "the Mean columns (Analyze > Set Measurements: Mean gray value only), or remove the others."
            )


# Inscopix IDPS's CSV of cell traces has a second header line of cell statuses under the cell names
# (' , C00, C01, ...' then 'Time(s)/Cell Status, accepted, rejected, ...'), then one line per frame
# starting with its time in seconds.
_LETTER = re.compile(r"[^\W\d_]")
_INDEX = re.compile(r"^\s*(?:index|idx|id|t|frame_no)\s*$", re.I)
_STATUS_CORNER = re.compile(r"^time\s*\(\s*s\s*\)\s*/\s*cell\s*status$", re.I)
CELL_STATUSES = ("accepted", "undecided", "rejected")


def cell_statuses(header: list[str], second: list[str]) -> tuple[str, ...] | None:
    """Each cell's status (lower case) when `second`, the line below the header `header`, is
    Inscopix's line of cell statuses ('Time(s)/Cell Status, accepted, rejected, ...', one per
    header cell after the corner); None when it is not."""
    if len(second) < 2 or len(second) != len(header) or not _STATUS_CORNER.match(second[0].strip()):
        return None
    statuses = tuple(cell.strip().lower() for cell in second[1:])
    return statuses if all(status in CELL_STATUSES for status in statuses) else None


def refuse_lines_above_data(
    path: Path, rows: list[list[str]], numbers: tuple[int, ...], header, index_column
) -> None:
    """Refuse the top of a table that no layout reads, naming its lines (`rows`: the first lines'
    cells, `numbers`: their line numbers in the file; the first three lines split whole; `header`,
    `index_column`: input.header and input.index_column):
    - Inscopix's cell statuses under the header, with input.index_column false (their first
      column is the frames' times), or with a status other than accepted, undecided, rejected;
    - with input.header auto: more than one line of names above the data (a title above the
      header, a second header line: text with letters beyond a line's first cell, the label
      column, on every line but the first), or a single text cell in the first cell of a line of
      otherwise empty cells straight above a line of numbers (a spreadsheet's title padded with
      commas, not an index's name): every such line was read as data ('the first column mixes
      text and numbers').
      Only above a line that holds a number."""
    if len(rows) > 1 and _STATUS_CORNER.match(rows[1][0].strip()):
        statuses = cell_statuses(rows[0], rows[1])
        if statuses is None:
            raise InputError(
                f"{path}: line {numbers[1]} looks like Inscopix's cell statuses but is not one status per "
                f"column of line {numbers[0]} ({', '.join(CELL_STATUSES)}); fix that line or delete it."
            )
        if index_column is False:
            raise InputError(
                f"{path}: line {numbers[1]} holds Inscopix's cell statuses, so the first column holds the "
                "frames' times; set input.index_column: auto (or true)."
            )
        return
    if header != "auto":
        return

    def names(cells: list[str]) -> bool:  # no number, and text with letters among `cells`
        return any(is_text(cell) and _LETTER.search(cell) for cell in cells)

    top = 0
    while top < min(len(rows), 3) and not any(map(is_number, rows[top])) and names(rows[top][int(top > 0) :]):
        top += 1
    if top >= len(rows) or not any(map(is_number, rows[top])):
        return
    first = rows[0]
    # A single text cell on a line of otherwise empty cells, straight above numbers (a labelled row
    # with no values has a label below it): a title, unless it names an index, or it is a pandas
    # one-column table's only name (',roi_0': two cells).
    text = [cell for cell in first if not is_na(cell)]
    padded_title = (
        top == 1
        and len(text) == 1
        and len(first) > (1 if is_text(first[0]) else 2)
        and is_number(rows[1][0])
        and names(text)
        and not (
            names_time_or_frame(text[0]) or _NEURON_ID_NAME.match(text[0].strip()) or _INDEX.match(text[0])
        )
    )
    if top >= 2 or padded_title:
        shown = ", ".join(cell for cell in first[:4] if cell) + (", ..." if len(first) > 4 else "")
        lines = f"lines {numbers[0]}-{numbers[top - 1]}" if top >= 2 else f"line {numbers[0]}"
        raise InputError(
            f"{path}: {lines} ({shown}) above the data hold text and no number: a title or a second "
            "header line (keep at most one line above the data, the column names, and delete the other), "
            "or data whose cells are not numbers (fix them)."
        )


def refuse_header_width(path: Path, header: list[str], data_width: int) -> None:
    """A header names every column, or all but the row names' (R's write.table): one cell more, an
    empty one, is a trailing comma (it would add a column); fewer is a title above the data or a
    header naming some columns only (the names would not match the neurons)."""
    if len(header) == data_width + 1 and header[-1] == "":
        raise InputError(
            f"{path}: line 1 ends with a comma (an empty last column name) that the data lines do not "
            "have, so it names one column more than there are; remove the trailing comma."
        )
    if len(header) < data_width - 1:
        raise InputError(
            f"{path}: line 1 holds {len(header)} cells but the data lines {data_width}: a title above the "
            "data? Delete it, or name every column (set input.header: false if line 1 is data)."
        )

"""CSV text: the cells of a fluorescence table before any layout is decided.

Missing-value tokens, what a cell is (number, missing, label), the first and last lines of a
file split into cells, and the refusal of files that are not comma-separated UTF-8 text. Used by
`csv_layout` (deciding the layout), `csv_probe` and `csv_files` (reading).
"""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path
from typing import NamedTuple

from calcium.errors import InputError

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
# What spreadsheets write for a formula that failed: Excel's error values in any language (#DIV/0!,
# #VALUE!, #WERT!, #¡VALOR!, #NOM?, #ЗНАЧ!, #DEĞER!, ...: '#', capitals of any alphabet, ending in
# '!' or '?'), the "not available" of other languages than English (#NV, #N/D, #Н/Д, ...), Google
# Sheets' #ERROR!, LibreOffice's Err:NNN. Never a number, a missing value or a label. #N/A itself
# is pandas' missing value (NA_TOKENS).
_LIBREOFFICE_ERROR = re.compile(r"^Err:\d{3}$")
# Excel's #N/A in German, Italian and Portuguese, Polish, Dutch, Russian, Turkish, Danish and
# Norwegian, Czech, Hungarian (those ending in '!' or '?' follow the general form), and what Excel
# shows while a data source is read.
_NOT_AVAILABLE = frozenset(
    ["#NV", "#N/D", "#N/B", "#Н/Д", "#YOK", "#I/T", "#NENÍ_K_DISPOZICI", "#HIÁNYZIK", "#GETTING_DATA"]
)


def spreadsheet_error_message(path, line: int, column: int, cell: str) -> str:
    """The refusal of a spreadsheet's error value, naming where it is."""
    return (
        f"{path}: line {line}, column {column} holds {cell!r}, a spreadsheet's error value (a formula "
        "that failed), which is neither a number, a missing value nor a label: fix the formula, or "
        "clear that cell to leave a missing value."
    )


_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+([eE][+-]?\d+)?$")
_NUMBER = re.compile(r"^[+-]?((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|inf|infinity)$", re.IGNORECASE)
INTEGER = re.compile(r"^[+-]?\d+$")
BOM = "\ufeff"
# Lines sampled from the top of a file to decide its layout.
SAMPLE_LINES = 50


def is_na(cell: str) -> bool:
    return cell in NA_TOKENS


def is_number(text: str) -> bool:
    return bool(_NUMBER.match(text))


def is_spreadsheet_error(cell: str) -> bool:
    if cell in _NOT_AVAILABLE or _LIBREOFFICE_ERROR.match(cell):
        return True
    if len(cell) < 3 or cell[0] != "#" or cell[-1] not in "!?":
        return False
    body = cell[1:-1].lstrip("¡¿")
    return body[:1].isalpha() and body == body.upper() and all(ch.isalnum() or ch in "/_. " for ch in body)


def is_text(cell: str) -> bool:
    """A cell that is neither a number nor a missing-value token: a label."""
    return not is_na(cell) and not is_number(cell)


def _unquote(cell: str) -> str:
    cell = cell.strip()
    if len(cell) >= 2 and cell[0] == cell[-1] == '"':
        cell = cell[1:-1].replace('""', '"').strip()
    return cell


def _utf16_without_mark(head: bytes) -> bool:
    """Little-endian UTF-16 text of ASCII characters: every second byte 0, the others printable."""
    head = head[:64]
    return (
        len(head) >= 8 and not any(head[1::2]) and all(32 <= b < 127 or b in (9, 10, 13) for b in head[0::2])
    )


def check_text_csv(path: Path) -> None:
    """Refuse files that cannot be a comma-separated text table, with the reason.

    Binary content (NUL bytes or invalid UTF-8 in the first 64 KiB) and lines
    whose cells are separated by ';' or tabs instead of commas are reported as such.
    """
    with open(path, "rb") as handle:
        head = handle.read(1 << 16)
    if head[:2] in (b"\xff\xfe", b"\xfe\xff") or _utf16_without_mark(head):
        raise InputError(
            f'{path}: UTF-16 text (Excel\'s "Unicode Text"), not a UTF-8 CSV; save the table as '
            '"CSV UTF-8 (comma delimited)".'
        )
    if head[:4] == b"PK\x03\x04":
        raise InputError(
            f"{path}: a zip archive (a NumPy .npz, or a zipped table), not a text CSV; unzip it, or give "
            "each session's array as a .npy file (np.save)."
        )
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
    numbered = [(k, line) for k, line in enumerate(text.lstrip(BOM).splitlines()[:200], 1) if line.strip()]
    first = numbered[0][1] if numbered else ""
    if first.startswith("# "):  # np.savetxt's comments; not a corner cell "#" (row numbers), #N/A
        raise InputError(
            f"{path}: line {numbered[0][0]} starts with '#', a comment (as np.savetxt's header= writes); "
            "remove the comment lines (np.savetxt(..., header='') or comments=''), keeping only the table."
        )
    for number, line in numbered[:2]:  # ';' or tabs between numbers with decimal commas
        for name, separator in (("semicolons", ";"), ("tabs", "\t")):
            cells = [cell.strip() for cell in line.split(separator) if cell.strip()]
            if len(cells) > 1 and any(_DECIMAL_COMMA.match(cell) for cell in cells):
                raise InputError(
                    f"{path}: line {number} separates its cells with {name} and writes numbers with "
                    "decimal commas (a European locale's CSV); save the table comma-separated with "
                    "decimal points (pandas: read_csv(path, sep=';', decimal=',').to_csv(path))."
                )
    if "," not in first:
        spaced = len(first.split()) > 1 and all(is_number(cell) or is_na(cell) for cell in first.split())
        for name, separator in (("semicolons", ";"), ("tabs", "\t"), ("spaces", " ")):
            if first.count(separator) >= 1 and (separator != " " or spaced):
                raise InputError(
                    f"{path}: line 1 separates its cells with {name}, not commas; save the table "
                    "as comma-separated CSV (e.g. in pandas: to_csv(path, sep=','))."
                )


def split_line(line: str) -> list[str]:
    """Cells of one CSV line, quotes removed (RFC 4180: "" inside quotes is one quote)."""
    if '"' not in line:
        return [cell.strip() for cell in line.split(",")]
    return [_unquote(cell) for cell in next(csv.reader([line], skipinitialspace=True))] or [""]


def _first_cell(line: str) -> str:
    if line.lstrip().startswith('"'):
        return split_line(line.split(",", 1)[0] if line.count('"') < 2 else line)[0]
    return line.split(",", 1)[0].strip()


class Sample(NamedTuple):
    """The top of a file: the first lines' cells (later lines: only their first cell), where the
    first non-blank line is (raw line number from 0), and whether a byte-order mark or quotes occur."""

    rows: list[list[str]]
    first_line_number: int
    bom: bool
    quoted: bool
    line_numbers: tuple[int, ...] = ()  # each row's line in the file, from 1

    def raw_line(self, row: int) -> int:
        """Raw line number (from 0, blank lines counted) of the `row`-th non-blank line."""
        numbers = self.line_numbers
        return numbers[row] - 1 if len(numbers) > row else self.first_line_number + row


def sample_top(path: Path, n: int = SAMPLE_LINES, whole: int = 2) -> Sample:
    """Cells of the first `n` non-blank lines; beyond the first `whole` lines only the first
    cell is split off (wide tables have thousands of cells per line)."""
    rows: list[list[str]] = []
    numbers: list[int] = []
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
            rows.append(split_line(line) if len(rows) < whole else [_first_cell(line)])
            numbers.append(number + 1)
            if len(rows) >= n:
                break
    return Sample(rows, first_number, bom, quoted, tuple(numbers))


def first_lines(path: Path, n: int, whole: int | None = None) -> list[list[str]]:
    """Cells of the first `n` non-blank lines (quotes and a byte-order mark removed)."""
    return sample_top(path, n, n if whole is None else whole).rows


def last_line(path: Path) -> list[str]:
    """Cells of the last non-blank line (read from the end of the file)."""
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - (1 << 16)))
        tail = handle.read().decode("utf-8", errors="replace")
    lines = [line for line in tail.splitlines() if line.strip()]
    return split_line(lines[-1].lstrip(BOM)) if lines else []


def refuse_spreadsheet_errors(path: Path, sample: Sample) -> None:
    """A spreadsheet's error value (#DIV/0!, #VALUE!, ...) in line 1 or the first column would pass
    for a column name or a neuron's label (a one-line file whose only text is #DIV/0! read as one
    neuron named '#DIV/0!'): refused, naming its line and column. Elsewhere the reader refuses it
    as a cell that is not a number."""
    for row, line_number in zip(sample.rows, sample.line_numbers, strict=True):
        cells = row if line_number == sample.line_numbers[0] else row[:1]
        column = next((c for c, cell in enumerate(cells) if is_spreadsheet_error(cell)), None)
        if column is not None:
            raise InputError(spreadsheet_error_message(path, line_number, column + 1, cells[column]))


_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")


def refuse_thousands_separators(path: Path, sample: Sample) -> None:
    """A quoted number with thousands separators ("1,082.16", as spreadsheets format them) is text
    to a CSV reader: it made line 1 'mix text and numbers' and the advice was to set a header."""
    for row, line_number in zip(sample.rows, sample.line_numbers, strict=True):
        column = next((c for c, cell in enumerate(row) if _THOUSANDS.match(cell)), None)
        if column is not None:
            raise InputError(
                f"{path}: line {line_number}, column {column + 1} holds {row[column]!r}, a number with "
                "thousands separators; save the table without them (plain numbers such as 1082.16)."
            )

"""Reading fluorescence tables and writing arrays and tables atomically.

Everything here is plain Python/numpy/pandas: no Snakemake. Errors raised by the
readers are :class:`InputError` and name the file, the row/column and the fix.

Row and column numbers in messages are 1-based, as a spreadsheet shows them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

# Spike times keep 1 µs at clock values up to 10^6 s (a session clock need not start at 0).
SPIKE_TIME_FORMAT = "%.12g"


class InputError(ValueError):
    """Bad input data: the message names the file, the place and the fix."""


@dataclass(frozen=True)
class TableLayout:
    """How a fluorescence CSV is laid out.

    header: "auto", True or False: whether the first line holds column names.
    index_column: "auto", True or False: whether the first column holds labels
        (neuron names, or frame numbers/times for the transposed layout).
    orientation: "neurons_x_frames" (one row per neuron, the default) or
        "frames_x_neurons" (one row per frame).
    """

    header: bool | str = "auto"
    index_column: bool | str = "auto"
    orientation: str = "neurons_x_frames"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_text(cell: str) -> bool:
    """A non-empty cell that is not a number (an empty cell is a missing value, not a label)."""
    return cell != "" and not _is_number(cell)


def _first_lines(path: Path, n: int) -> list[list[str]]:
    rows = []
    with open(path, newline="") as handle:
        for line in handle:
            if line.strip():
                rows.append([cell.strip() for cell in line.rstrip("\r\n").split(",")])
            if len(rows) >= n:
                break
    return rows


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


def detect_layout(path: Path, layout: TableLayout) -> tuple[bool, bool]:
    """Decide (has_header, has_index_column) for a CSV, resolving "auto".

    A header is detected when the first line has any non-numeric cell. An index
    column is detected when the first column (below any header) has a non-numeric
    cell, counts 0,1,2,... or 1,2,3,..., or (one line per frame) increases by a
    constant step (frame times, never a trace), or when its header cell is empty
    or reads like an index ("time_s", "frame", "neuron", "roi", ...).
    """
    lines = _first_lines(path, 50)
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
            or (_looks_like_axis(first_column, layout.orientation == "frames_x_neurons") and len(body[0]) > 1)
        )
        if has_header and not has_index and first and _INDEX_NAMES.match(first[0]):
            has_index = True
    else:
        has_index = bool(layout.index_column)
    return has_header, has_index


def _count_data_lines(path: Path) -> int:
    count = 0
    last = b"\n"
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 24):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (0 if last == b"\n" else 1)


def _ragged_line(path: Path, n_cells: int) -> str | None:
    """Describe the first line whose number of cells differs from n_cells (None if none)."""
    with open(path, newline="") as handle:
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


def read_fluorescence_csv(
    path: str | os.PathLike,
    layout: TableLayout = TableLayout(),
    allow_missing: bool = False,
    rows_per_chunk: int = 1000,
) -> tuple[np.ndarray, list[str] | None, list[str]]:
    """Read a fluorescence CSV into a float32 array of shape (neurons, frames).

    The file is read in chunks of `rows_per_chunk` lines by pandas' C parser, so
    peak memory is the output array plus one chunk.

    allow_missing: keep empty/NaN cells as NaN (to be interpolated) instead of
        raising.
    Returns (traces, neuron_labels or None, notes) where notes describe what was
    detected (header, index column) for the log.
    Raises InputError for a missing or empty file, a non-numeric or missing cell
    (naming line and column), ragged rows, or a table with no neurons or a single
    frame.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found; check the `path` column of the session sheet.")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty; expected a table of fluorescence values.")
    has_header, has_index = detect_layout(path, layout)
    notes = [
        f"header row: {'yes' if has_header else 'no'}",
        f"index column: {'yes' if has_index else 'no'}",
    ]
    first_lines = _first_lines(path, 1 + int(has_header))
    header_names = first_lines[0] if has_header else None
    if len(first_lines) <= int(has_header):
        raise InputError(f"{path}: the table has no data lines below its header.")
    n_columns = len(first_lines[-1]) - int(has_index)
    n_lines = _count_data_lines(path) - int(has_header)
    if n_columns <= 0:
        raise InputError(f"{path}: the table has no data columns besides its index column.")
    out = np.empty((n_lines, n_columns), dtype=np.float32)
    labels: list[str] = []
    filled = 0
    try:
        reader = pd.read_csv(
            path,
            header=0 if has_header else None,
            index_col=0 if has_index else None,
            dtype={i: np.float64 for i in range(int(has_index), n_columns + int(has_index))}
            if not has_header
            else None,
            chunksize=rows_per_chunk,
            skip_blank_lines=True,
            engine="c",
        )
        for chunk in reader:
            if chunk.shape[1] != n_columns:
                raise InputError(
                    f"{path}: a line near line {filled + 1 + int(has_header)} has "
                    f"{chunk.shape[1] + int(has_index)} cells but the first data line has "
                    f"{n_columns + int(has_index)}; every line needs the same number of cells."
                )
            values = chunk.to_numpy(dtype=np.float64)
            out[filled : filled + values.shape[0]] = values
            if has_index:
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
    if layout.orientation == "frames_x_neurons":
        out = np.ascontiguousarray(out.T)
        neuron_labels = header_names[int(has_index) :] if has_header else None
    else:
        neuron_labels = labels if has_index else None
    if out.shape[0] == 0:
        raise InputError(f"{path}: the table holds no neurons.")
    if out.shape[1] < 2:
        raise InputError(
            f"{path}: only {out.shape[1]} frame per neuron; a recording needs at least 2 frames "
            "(if the file has one line per frame, set input.orientation: frames_x_neurons)."
        )
    return out, neuron_labels, notes


def read_fluorescence_npy(path: str | os.PathLike, orientation: str = "neurons_x_frames") -> np.ndarray:
    """Open a 2-D numeric .npy (e.g. Suite2p's F.npy) memory-mapped, never unpickling.

    Returns a (neurons, frames) view (transposed for frames_x_neurons); the caller
    copies it in blocks, so memory stays bounded for recordings larger than RAM.
    Raises InputError for object/pickled arrays, non-numeric dtypes, wrong
    dimensionality or too few frames (non-finite values are checked while copying).
    """
    path = Path(path)
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as error:
        raise InputError(f"{path}: not a plain numeric .npy ({error}); pickled arrays are refused.") from None
    if not np.issubdtype(array.dtype, np.number) or array.ndim != 2:
        raise InputError(
            f"{path}: expected a 2-D numeric array (neurons x frames), got dtype {array.dtype} and "
            f"shape {array.shape}."
        )
    if orientation == "frames_x_neurons":
        array = array.T
    if array.shape[0] == 0:
        raise InputError(f"{path}: the array holds no neurons.")
    if array.shape[1] < 2:
        raise InputError(f"{path}: only {array.shape[1]} frame per neuron; a recording needs at least 2.")
    return array


class NeuropilCorrected:
    """Lazy (cells, frames) view of Suite2p traces: F − r·Fneu for the chosen ROIs.

    Indexing with a slice of rows reads only those ROIs from the memory-mapped
    F.npy and Fneu.npy and returns float32.
    """

    def __init__(self, fluorescence: np.ndarray, neuropil: np.ndarray, rois: np.ndarray, coefficient: float):
        self.fluorescence = fluorescence
        self.neuropil = neuropil
        self.rois = rois
        self.coefficient = coefficient
        self.shape = (len(rois), fluorescence.shape[1])

    def __getitem__(self, rows: slice) -> np.ndarray:
        chosen = self.rois[rows]
        f = np.asarray(self.fluorescence[chosen], dtype=np.float32)
        return f - np.float32(self.coefficient) * np.asarray(self.neuropil[chosen], dtype=np.float32)


def read_suite2p(
    folder: str | os.PathLike, neuropil_coefficient: float = 0.7, cells_only: bool = True
) -> tuple[NeuropilCorrected, list[str]]:
    """Neuropil-corrected fluorescence from a Suite2p output folder (plane folder).

    Reads F.npy, Fneu.npy and (if cells_only) iscell.npy memory-mapped, never
    unpickling; ops.npy is not read (it is a pickle): the frame rate comes from the
    session sheet. Returns (lazy traces F − r·Fneu of the kept ROIs, ROI labels
    "roi_<index in F.npy>"). Raises InputError naming the folder and file.
    """
    folder = Path(folder)
    arrays = {}
    for name in ("F.npy", "Fneu.npy") + (("iscell.npy",) if cells_only else ()):
        path = folder / name
        if not path.exists():
            raise InputError(f"{folder}: no {name}; a Suite2p folder holds F.npy, Fneu.npy and iscell.npy.")
        try:
            arrays[name] = np.load(path, mmap_mode="r", allow_pickle=False)
        except ValueError as error:
            raise InputError(f"{path}: not a plain numeric .npy ({error}).") from None
    fluorescence, neuropil = arrays["F.npy"], arrays["Fneu.npy"]
    if fluorescence.ndim != 2 or fluorescence.shape != neuropil.shape:
        raise InputError(
            f"{folder}: F.npy {fluorescence.shape} and Fneu.npy {neuropil.shape} must be 2-D arrays "
            "of one shape."
        )
    rois = np.arange(fluorescence.shape[0])
    if cells_only:
        iscell = np.asarray(arrays["iscell.npy"])
        flags = iscell[:, 0] if iscell.ndim == 2 else iscell
        if flags.shape[0] != fluorescence.shape[0]:
            raise InputError(
                f"{folder}: iscell.npy has {flags.shape[0]} rows but F.npy {fluorescence.shape[0]} ROIs."
            )
        rois = rois[flags > 0.5]
    if rois.size == 0:
        raise InputError(
            f"{folder}: no ROI is classified as a cell in iscell.npy (set input.suite2p_cells_only: false)."
        )
    if fluorescence.shape[1] < 2:
        raise InputError(
            f"{folder}: F.npy holds {fluorescence.shape[1]} frame(s); a recording needs at least 2."
        )
    return NeuropilCorrected(fluorescence, neuropil, rois, neuropil_coefficient), [f"roi_{i}" for i in rois]


def interpolate_missing(traces: np.ndarray, first_neuron: int = 0) -> tuple[np.ndarray, int]:
    """Fill NaN/inf samples of each neuron by linear interpolation in time.

    Returns (filled traces, number of samples filled). A neuron with no finite
    sample raises InputError (named as first_neuron + its row).
    """
    traces = np.array(traces, dtype=np.float32, copy=True)
    bad = ~np.isfinite(traces)
    n_bad = int(bad.sum())
    if n_bad == 0:
        return traces, 0
    frames = np.arange(traces.shape[1])
    for neuron in np.flatnonzero(bad.any(axis=1)):
        good = ~bad[neuron]
        if not good.any():
            raise InputError(
                f"neuron {first_neuron + neuron} has no finite sample; remove it from the input."
            )
        traces[neuron, bad[neuron]] = np.interp(frames[bad[neuron]], frames[good], traces[neuron, good])
    return traces, n_bad


def _atomic_target(path: Path) -> tuple[int, str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    return tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")


def save_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    """Save an array as .npy atomically (temporary file, then rename)."""
    path = Path(path)
    fd, tmp = _atomic_target(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.save(handle, np.ascontiguousarray(array))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_npz(path: str | os.PathLike, **arrays: np.ndarray) -> None:
    """Save arrays into an uncompressed .npz atomically."""
    path = Path(path)
    fd, tmp = _atomic_target(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_table(path: str | os.PathLike, table: pd.DataFrame, float_format: str = "%.6g") -> None:
    """Save a tidy table atomically; tab-separated if the name ends in .tsv.

    float_format: printf format of floats; tables of times on a session clock that
    does not start at 0 need more digits than 6 (SPIKE_TIME_FORMAT).
    """
    path = Path(path)
    fd, tmp = _atomic_target(path)
    sep = "\t" if path.suffix == ".tsv" else ","
    try:
        with os.fdopen(fd, "w", newline="") as handle:
            table.to_csv(handle, sep=sep, index=False, float_format=float_format, lineterminator="\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_json(path: str | os.PathLike, data: dict) -> None:
    """Save a dict as pretty JSON atomically."""
    path = Path(path)
    fd, tmp = _atomic_target(path)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class NpyRowWriter:
    """Appends row blocks to a .npy being written; see `npy_writer`."""

    def __init__(self, handle, shape: tuple[int, ...], dtype):
        self.handle = handle
        self.shape = shape
        self.dtype = np.dtype(dtype)
        self.rows = 0

    def append(self, block: np.ndarray) -> None:
        block = np.ascontiguousarray(block, dtype=self.dtype)
        if block.shape[1:] != self.shape[1:] or self.rows + block.shape[0] > self.shape[0]:
            raise ValueError(f"block {block.shape} does not fit rows {self.rows}.. of {self.shape}")
        self.handle.write(block.tobytes())
        self.rows += block.shape[0]


@contextlib.contextmanager
def npy_writer(path: str | os.PathLike, shape: tuple[int, ...], dtype=np.float32):
    """Write a .npy row block by row block (`.append(block)`), atomically.

    Rows go straight to the file (no memory map), so memory stays at one block
    however large the array. On leaving the block the file is renamed to `path`
    if every row was written; if an exception escaped (or rows are missing) the
    temporary file is deleted, so a failed job never leaves a partial file.
    """
    path = Path(path)
    fd, tmp = _atomic_target(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            header = {
                "descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                "fortran_order": False,
                "shape": shape,
            }
            np.lib.format.write_array_header_1_0(handle, header)
            writer = NpyRowWriter(handle, shape, dtype)
            yield writer
            if writer.rows != shape[0]:
                raise ValueError(f"{path}: {writer.rows} of {shape[0]} rows written")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_npy_rows(path: str | os.PathLike, rows: slice) -> np.ndarray:
    """Rows [start, stop) of a C-ordered 2-D .npy, read with one seek (no memory map kept).

    Reading by offset keeps a job's resident memory at the rows it asked for.
    """
    with open(path, "rb") as handle:
        version = np.lib.format.read_magic(handle)
        readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
        shape, fortran_order, dtype = readers[version](handle) if version in readers else ((), True, None)
        if fortran_order or len(shape) != 2 or dtype.hasobject:
            array = np.load(path, mmap_mode="r", allow_pickle=False)
            return np.array(array[rows])
        start, stop, _ = rows.indices(shape[0])
        stop = max(stop, start)
        handle.seek(start * shape[1] * dtype.itemsize, os.SEEK_CUR)
        data = np.fromfile(handle, dtype=dtype, count=(stop - start) * shape[1])
    return data.reshape(stop - start, shape[1])


def load_npy(path: str | os.PathLike, rows: slice | None = None) -> np.ndarray:
    """Load a .npy (never unpickling): memory-mapped, or only rows [start, stop) read into memory."""
    if rows is not None:
        return read_npy_rows(path, rows)
    return np.load(path, mmap_mode="r", allow_pickle=False)


def load_json(path: str | os.PathLike) -> dict:
    """Read a JSON file into a dict."""
    with open(path) as handle:
        return json.load(handle)


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a table written by `save_table` (tab-separated if the name ends in .tsv)."""
    path = Path(path)
    return pd.read_csv(path, sep="\t" if path.suffix == ".tsv" else ",")


def groundtruth_folders(root: str | os.PathLike) -> list[tuple[Path, str]]:
    """(folder, indicator) of every CASCADE-layout ground-truth folder directly under `root`.

    A folder qualifies when it holds meta.json (with an "indicator") and
    recordings.csv. A missing `root` gives an empty list (callers say so plainly).
    """
    root = Path(root)
    if not root.is_dir():
        return []
    found = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        meta, index = folder / "meta.json", folder / "recordings.csv"
        if not (meta.is_file() and index.is_file()):
            continue
        try:
            indicator = str(load_json(meta).get("indicator", ""))
        except (OSError, ValueError):
            continue
        if indicator:
            found.append((folder, indicator))
    return found


def read_groundtruth_recordings(folder: str | os.PathLike, names: list[str] | None = None) -> list[dict]:
    """Recordings of one CASCADE-layout folder (see `groundtruth_folders`).

    recordings.csv: columns recording, frame_rate_hz (source_file, the neuron, optional);
    <recording>.trace.csv: time_s, dff (ΔF/F as a fraction, the file's own clock);
    <recording>.spikes.csv: spike_time_s (same clock).
    names: recordings to read (default all). Returns one dict per recording: name,
    neuron, frame_rate_hz, start_time_s (time of the first frame), dff (float64
    frames), spike_times_s (float64), in the order of recordings.csv.
    """
    folder = Path(folder)
    index = pd.read_csv(folder / "recordings.csv")
    missing = {"recording", "frame_rate_hz"} - set(index.columns)
    if missing:
        raise InputError(f"{folder / 'recordings.csv'}: missing column(s) {sorted(missing)}")
    out = []
    for row in index.itertuples(index=False):
        if names is not None and row.recording not in names:
            continue
        trace = pd.read_csv(folder / f"{row.recording}.trace.csv")
        spikes = pd.read_csv(folder / f"{row.recording}.spikes.csv")
        if not {"time_s", "dff"} <= set(trace.columns) or "spike_time_s" not in spikes.columns:
            raise InputError(
                f"{folder}: {row.recording}.trace.csv needs columns time_s,dff and "
                f"{row.recording}.spikes.csv a column spike_time_s"
            )
        out.append(
            {
                "name": f"{folder.name}/{row.recording}",
                "neuron": f"{folder.name}/{getattr(row, 'source_file', row.recording)}",
                "frame_rate_hz": float(row.frame_rate_hz),
                "start_time_s": float(trace.time_s.iloc[0]),
                "dff": trace.dff.to_numpy(dtype=np.float64),
                "spike_times_s": spikes.spike_time_s.to_numpy(dtype=np.float64),
            }
        )
    return out

"""The workflow's own files: arrays, tables and JSON written atomically, and read back.

Every writer goes through `atomic_output`: a temporary file beside the target,
renamed into place only when complete. Reading user inputs is elsewhere
(`calcium.input.ingest`, `calcium.input.csv_files`, `calcium.input.arrays`, `calcium.input.tables`).
"""

from __future__ import annotations

import contextlib
import errno
import glob
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from calcium.errors import OutputError

if TYPE_CHECKING:  # pandas is imported only by the table functions: jobs on arrays start faster
    import pandas as pd


def _read_umask() -> int:
    """The process's file-creation mask, read without changing it where Linux allows."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# Temporary files are created 0600 (tempfile.mkstemp); results get the mode a plain
# open() would have given them, so group members can read them on a shared server.
_OUTPUT_MODE = 0o666 & ~_read_umask()


# Write failures that are the storage's, not the workflow's: reported as one line.
_STORAGE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


def stale_temporaries(path: Path) -> list[Path]:
    """Temporary files that an interrupted write of `path` left beside it."""
    return sorted(path.parent.glob(f".{glob.escape(path.name)}.*.tmp*"))


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ""):
    """A temporary path in the folder of `path`, renamed to `path` when the block succeeds.

    For writers that need a file name (HDF5/NWB); `atomic_output` yields a handle. If the
    block raises, the temporary file is deleted and `path` is left as it was, so a failed
    job never leaves a half-written output and earlier results stay. Temporary files left
    by a killed earlier attempt at `path` are removed first. The result gets the mode the
    umask gives (as for a plain open()), not mkstemp's 0600. suffix: ends the temporary
    name (".tmp" + suffix), for writers that check the extension.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in stale_temporaries(path):
            stale.unlink(missing_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp" + suffix)
        os.close(fd)
    except OSError as error:
        raise OutputError(
            f"{path}: cannot be written ({error.strerror or error}); check that its folder is writable "
            "and the disk is not full."
        ) from None
    try:
        yield Path(tmp)
        os.chmod(tmp, _OUTPUT_MODE)
        os.replace(tmp, path)
    except OSError as error:
        Path(tmp).unlink(missing_ok=True)
        if error.errno in _STORAGE_ERRORS:
            raise OutputError(f"{path}: writing failed ({error.strerror}); no partial file left.") from None
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, text: bool = False):
    """Write `path` through a temporary file renamed into place on success (`atomic_path`).

    Yields an open handle (binary, or text with newline="" if `text`).
    """
    mode, options = ("w", {"newline": ""}) if text else ("wb", {})
    with atomic_path(path) as tmp, open(tmp, mode, **options) as handle:
        yield handle


def save_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    """Save an array as .npy atomically (see `atomic_output`)."""
    with atomic_output(path) as handle:
        np.save(handle, np.ascontiguousarray(array))


def save_npz(path: str | os.PathLike, **arrays: np.ndarray) -> None:
    """Save arrays into an uncompressed .npz atomically."""
    with atomic_output(path) as handle:
        np.savez(handle, **arrays)


def save_table(path: str | os.PathLike, table: pd.DataFrame) -> None:
    """Save a tidy table atomically; tab-separated if the name ends in .tsv.

    Floats are written at full precision (the shortest text that reads back to the
    same float64), so times and amplitudes survive a round trip exactly.
    """
    sep = "\t" if Path(path).suffix == ".tsv" else ","
    with atomic_output(path, text=True) as handle:
        table.to_csv(handle, sep=sep, index=False, lineterminator="\n")


def save_json(path: str | os.PathLike, data: dict) -> None:
    """Save a dict as pretty JSON atomically; NaN/inf are refused (they are not JSON)."""
    with atomic_output(path, text=True) as handle:
        json.dump(data, handle, indent=2, sort_keys=True, allow_nan=False)
        handle.write("\n")


def save_text(path: str | os.PathLike, text: str) -> None:
    """Save UTF-8 text (e.g. an HTML page) atomically."""
    with atomic_output(path) as handle:
        handle.write(text.encode("utf-8"))


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
    with atomic_output(path) as handle:
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


class NpyRows:
    """Rows of a (neurons, frames) .npy read on demand (rows[a:b]), optionally transformed."""

    def __init__(self, path, transform=None):
        self.path = path
        self.shape = tuple(np.load(path, mmap_mode="r", allow_pickle=False).shape)
        self.transform = transform

    def __getitem__(self, rows: slice) -> np.ndarray:
        block = read_npy_rows(self.path, rows)
        return self.transform(block) if self.transform else block


def load_npy(path: str | os.PathLike, rows: slice | None = None) -> np.ndarray:
    """Load a .npy (never unpickling): memory-mapped, or only rows [start, stop) read into memory."""
    if rows is not None:
        return read_npy_rows(path, rows)
    return np.load(path, mmap_mode="r", allow_pickle=False)


def load_json(path: str | os.PathLike) -> dict:
    """Read a JSON file into a dict."""
    with open(path) as handle:
        return json.load(handle)


# Columns of the workflow's tables that hold names (neuron labels, stimulus labels): read back as
# the text written, never as numbers, booleans or missing values (a stimulus named 90 stays "90").
TEXT_COLUMNS = ("label", "stimulus")


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a table written by `save_table` (tab-separated if the name ends in .tsv); the
    TEXT_COLUMNS come back as the strings written, the others are parsed as pandas does."""
    import pandas as pd

    path = Path(path)
    sep = "\t" if path.suffix == ".tsv" else ","
    header = pd.read_csv(path, sep=sep, nrows=0).columns
    text = [column for column in header if column in TEXT_COLUMNS]
    if not text:
        return pd.read_csv(path, sep=sep)
    table = pd.read_csv(path, sep=sep, dtype={column: str for column in text}, keep_default_na=False)
    others = [column for column in header if column not in text]
    if others:  # the other columns as pandas would read them (NA tokens are missing values)
        parsed = pd.read_csv(path, sep=sep, usecols=others)
        for column in others:
            table[column] = parsed[column]
    return table

"""From a user's fluorescence input (CSV, .npy, Suite2p folder, NWB series) to checked float32 traces.

`probe_input` finds a recording's shape (and time stamps) cheaply, so that bad
input is refused before any job runs; `open_input` gives a row-sliceable view of
the traces; `copy_checked` copies it block by block into an output, refusing or
interpolating non-finite samples. No Snakemake here.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np

from calcium.errors import InputError
from calcium.input.arrays import read_fluorescence_npy, read_suite2p
from calcium.input.csv_files import FLOAT32_MAX, read_fluorescence_csv
from calcium.input.csv_layout import TableLayout
from calcium.input.csv_probe import probe_csv
from calcium.input.tables import check_regular_file


class InputSettings(NamedTuple):
    """How to read a fluorescence input (the config's `input` section)."""

    layout: TableLayout = TableLayout()
    missing_values: str = "error"  # or "interpolate"
    neuropil_coefficient: float = 0.7
    suite2p_cells_only: bool = True
    min_duration_s: float = 10.0

    @classmethod
    def from_config(cls, section: dict) -> InputSettings:
        return cls(
            TableLayout(section["header"], section["index_column"], section["orientation"]),
            section["missing_values"],
            section["neuropil_coefficient"],
            section["suite2p_cells_only"],
            section["min_duration_s"],
        )


class NwbSelection(NamedTuple):
    """What to read from an NWB file (the session sheet's NWB columns; see calcium.nwb).

    series: path of the traces in the file, or "" for the default search order.
    neuropil_series: series subtracted as F − r·Fneu ("auto", a path, or "" for none).
    input_kind: "raw" or "dff" (picks the default series).
    """

    series: str = ""
    neuropil_series: str = ""
    input_kind: str = "raw"


def input_format(path: str | os.PathLike) -> str:
    """The input's kind: "suite2p" (a folder), "npy", "nwb", or "csv" (anything else)."""
    path = Path(path)
    if path.is_dir():
        return "suite2p"
    return {".npy": "npy", ".nwb": "nwb"}.get(path.suffix.lower(), "csv")


class InputShape(NamedTuple):
    """Shape of a recording as the workflow will read it, and its time stamps if it has them.

    first_time_s, last_time_s: time of the first and last frame (s) from a time
        column of the input, or None when the input has no time stamps.
    frame_rate_hz: the rate stored in the input (NWB series), or None.
    times_s: every frame's time stamp (s) from a CSV's time column (checked frame by
        frame: increasing, no pause), or None.
    """

    n_neurons: int
    n_frames: int
    first_time_s: float | None = None
    last_time_s: float | None = None
    frame_rate_hz: float | None = None
    times_s: np.ndarray | None = None


def _npy_shape(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    try:
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            reader = np.lib.format.read_array_header_2_0 if version >= (2, 0) else None
            header = (reader or np.lib.format.read_array_header_1_0)(handle, max_header_size=1 << 20)
    except (ValueError, OSError) as error:
        raise InputError(f"{path}: not a NumPy .npy file ({error}).") from None
    shape, _, dtype = header
    return shape, dtype


def probe_input(
    path: str | os.PathLike, settings: InputSettings | None = None, nwb: NwbSelection | None = None
) -> InputShape:
    """Shape (and time stamps) of a fluorescence input, reading only headers, first/last lines
    (or an NWB series' metadata and timestamps).

    Raises InputError for inputs that cannot be read (missing, unreadable, not a regular file,
    empty, binary CSV, ambiguous CSV layout, pickled/complex/non-2-D arrays, incomplete Suite2p
    folders, NWB files without the series).
    """
    try:
        return _probe_input(path, settings, nwb)
    except OSError as error:  # no permission, an I/O error: the file's, not the workflow's
        raise InputError(f"{error.filename or path}: cannot be read ({error.strerror or error}).") from None


def _probe_input(
    path: str | os.PathLike, settings: InputSettings | None, nwb: NwbSelection | None
) -> InputShape:
    settings = settings or InputSettings()
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: not found; fix the session sheet's `path` column.")
    kind = input_format(path)
    if kind != "suite2p":
        check_regular_file(path, "fluorescence input")
    if kind == "nwb":
        from calcium.input.nwb import check_nwb_session

        nwb = nwb or NwbSelection()
        info = check_nwb_session(
            path,
            nwb.series or None,
            nwb.input_kind,
            nwb.neuropil_series or None,
            cells_only=settings.suite2p_cells_only,
        )
        last_s = info.start_time_s + (info.n_frames - 1) / info.frame_rate_hz
        return InputShape(info.n_neurons, info.n_frames, info.start_time_s, last_s, info.frame_rate_hz)
    if kind == "suite2p":
        traces, _ = read_suite2p(path, settings.neuropil_coefficient, settings.suite2p_cells_only)
        return InputShape(*traces.shape)
    if kind == "npy":
        shape, dtype = _npy_shape(path)
        if dtype.hasobject:
            raise InputError(f"{path}: an array of Python objects (pickled); pickled arrays are refused.")
        array = read_fluorescence_npy(path, "frames_x_neurons" if settings.layout.one_row_per_frame else "")
        return InputShape(*array.shape)
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty; expected a table of fluorescence values.")
    shape = probe_csv(path, settings.layout)
    return InputShape(
        shape.n_neurons, shape.n_frames, shape.first_time_s, shape.last_time_s, None, shape.times_s
    )


def recording_start_s(shape: InputShape, frame_rate_hz: float, source: str) -> float:
    """Time of the first frame (s): from the input's time stamps, else 0.

    With time stamps, their mean step must match the sheet's frame rate within 1 %,
    or InputError says which to fix.
    """
    if shape.first_time_s is None or shape.last_time_s is None:
        return 0.0
    if shape.frame_rate_hz is not None:  # NWB: the series' own rate and start (checked against the sheet)
        return float(shape.first_time_s)
    if shape.n_frames > 1:
        step_s = (shape.last_time_s - shape.first_time_s) / (shape.n_frames - 1)
        expected_s = 1.0 / frame_rate_hz
        if not np.isfinite(step_s) or abs(step_s - expected_s) > 0.01 * expected_s:
            raise InputError(
                f"{source}: its time column steps by {step_s:.6g} s per frame ({1 / step_s:.6g} Hz) but "
                f"the session sheet gives frame_rate_hz {frame_rate_hz:g} ({expected_s:.6g} s per frame); "
                "correct frame_rate_hz, or the time column's unit (a column named time_ms is read as "
                "milliseconds, time/time_s/t/timestamp as seconds)."
            )
    return float(shape.first_time_s)


def check_plausible_shape(
    shape: InputShape, frame_rate_hz: float, settings: InputSettings, source: str
) -> None:
    """Refuse shapes that suggest the table was read the wrong way round or is cut short.

    With input.orientation "auto", more neurons than frames is refused (a file with
    one row per frame read as one row per neuron looks like that); with any
    orientation, a recording shorter than input.min_duration_s is refused.
    """
    duration_s = shape.n_frames / frame_rate_hz
    read_as = (
        f"read as {shape.n_neurons} neurons x {shape.n_frames} frames "
        f"({duration_s:.3g} s at {frame_rate_hz:g} Hz)"
    )
    if settings.layout.orientation == "auto" and shape.n_neurons > shape.n_frames:
        raise InputError(
            f"{source}: {read_as}: more neurons than frames. If the file has one row per frame, set "
            "input.orientation: frames_x_neurons in config.yaml; if it really holds more neurons than "
            "frames, set input.orientation: neurons_x_frames."
        )
    if duration_s < settings.min_duration_s:
        hint = (
            "if the file has one row per frame, set input.orientation: frames_x_neurons"
            if not settings.layout.one_row_per_frame
            else "check input.orientation and the frame rate"
        )
        raise InputError(
            f"{source}: {read_as}: shorter than input.min_duration_s = {settings.min_duration_s:g} s; "
            f"{hint}, or lower input.min_duration_s for a recording this short."
        )


class OpenedInput(NamedTuple):
    """A fluorescence input ready to copy.

    rows: a (neurons, frames) array or lazy view, sliceable by rows of neurons.
    labels: neuron labels (index column, header, Suite2p or NWB ROI ids) or None.
    notes: what was detected, for the log.
    layout: how the input was read (format; for a CSV also header, index_column,
        orientation, byte_order_mark, quoted, na_cells), for recording.json.
    """

    rows: object
    labels: list[str] | None
    notes: list[str]
    layout: dict


@contextlib.contextmanager
def open_input(
    path: str | os.PathLike, settings: InputSettings | None = None, nwb: NwbSelection | None = None
) -> Iterator[OpenedInput]:
    """Open a fluorescence input for copying, as a context (an NWB file stays open inside it).

    CSV is parsed into memory; arrays and NWB series are read block by block.
    """
    settings = settings or InputSettings()
    path = Path(path)
    kind = input_format(path)
    if kind == "nwb":
        from calcium.input.nwb import open_nwb_traces

        nwb = nwb or NwbSelection()
        with open_nwb_traces(
            path,
            nwb.series or None,
            nwb.input_kind,
            nwb.neuropil_series or None,
            settings.neuropil_coefficient,
            settings.suite2p_cells_only,
        ) as (traces, info):
            yield OpenedInput(traces, info.labels, info.notes, {"format": "nwb"})
        return
    if kind == "suite2p":
        traces, labels = read_suite2p(path, settings.neuropil_coefficient, settings.suite2p_cells_only)
        note = f"Suite2p folder: F - {settings.neuropil_coefficient} x Fneu, {len(labels)} ROIs"
        yield OpenedInput(traces, labels, [note], {"format": "suite2p"})
        return
    if kind == "npy":
        orientation = "frames_x_neurons" if settings.layout.one_row_per_frame else "neurons_x_frames"
        array = read_fluorescence_npy(path, orientation)
        yield OpenedInput(array, None, ["binary .npy input"], {"format": "npy", "orientation": orientation})
        return
    allow_missing = settings.missing_values == "interpolate"
    table = read_fluorescence_csv(path, settings.layout, allow_missing=allow_missing)
    yield OpenedInput(table.traces, table.neuron_labels, table.notes, table.layout)


def interpolate_missing(
    traces: np.ndarray, first_neuron: int = 0, source: str = ""
) -> tuple[np.ndarray, int]:
    """Fill NaN/inf samples of each neuron by linear interpolation in time (held at the ends).

    Returns (filled float32 traces, number of samples filled). A neuron with no
    finite sample raises InputError naming its id (first_neuron + its row).
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
                f"{source + ': ' if source else ''}neuron id {first_neuron + neuron} (ids count from 0) "
                "has no finite sample (an empty row or column, as a spreadsheet may leave at its end?); "
                "remove it from the input."
            )
        traces[neuron, bad[neuron]] = np.interp(frames[bad[neuron]], frames[good], traces[neuron, good])
    return traces, n_bad


def checked_block(
    raw: np.ndarray, first_neuron: int, allow_missing: bool, source: str
) -> tuple[np.ndarray, int]:
    """A block of neurons as float32, refusing values beyond float32 and (unless allowed) non-finite ones.

    Returns (block, number of samples interpolated).
    """
    raw = np.asarray(raw)
    if raw.dtype.itemsize > 4 or not np.issubdtype(raw.dtype, np.floating):
        wide = np.asarray(raw, dtype=np.float64)
        huge = np.isfinite(wide) & (np.abs(wide) > FLOAT32_MAX)
        if huge.any():
            i, j = np.argwhere(huge)[0]
            raise InputError(
                f"{source}: neuron id {first_neuron + i}, frame {j} (both counted from 0): {wide[i, j]:g} is "
                "beyond the range of 32-bit floats (±3.4e38) in which traces are stored; rescale the data."
            )
    block = raw.astype(np.float32, copy=False)
    finite = np.isfinite(block)
    if not allow_missing and not finite.all():
        i, j = np.argwhere(~finite)[0]
        raise InputError(
            f"{source}: neuron id {first_neuron + i}, frame {j} (both counted from 0) is NaN or infinite; "
            "fill it in, or set input.missing_values: interpolate in config.yaml."
        )
    return interpolate_missing(block, first_neuron, source)

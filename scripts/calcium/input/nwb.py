"""NWB (Neurodata Without Borders) input: a session's traces and stimulus intervals from an .nwb file.

Reading: a session's traces come from one series of an .nwb file (a
``RoiResponseSeries`` as Suite2p, CaImAn and neuroconv write them), opened
read-only with pynwb and read in blocks of ROIs, never whole. Traces are
returned as (neurons, frames) float32 in the series' unit (data · conversion +
offset), whichever way round the file stores them.

Writing the workflow's results as NWB is in `calcium.outputs.nwb`.

Clock: every time in an NWB file is in seconds since the file's
``session_start_time``. A recording's ``start_time_s`` is the time of its first
frame on that clock (the series' ``starting_time`` or first timestamp); frame k
is at ``start_time_s + k / frame_rate_hz``. Stimulus intervals read from a file
keep their times on that clock.

Errors about the input are :class:`calcium.errors.InputError` and name the file and
the series.
"""

from __future__ import annotations

import contextlib
import math
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from calcium.errors import InputError

# Where a session's traces are looked for when the sheet names no series, in order.
DEFAULT_SERIES = {
    "raw": (
        "processing/ophys/Fluorescence/RoiResponseSeries",  # CaImAn, neuroconv
        "processing/ophys/Fluorescence/plane0",  # Suite2p's export
        "processing/ophys/Fluorescence/Fluorescence",
    ),
    "dff": (
        "processing/ophys/DfOverF/RoiResponseSeries",  # CaImAn, neuroconv
        "processing/ophys/DfOverF/dff",  # this workflow's own output
        "processing/ophys/DfOverF/plane0",
        "processing/ophys/DfOverF/DfOverF",
    ),
}
# ... and failing those, the only series in processing/ophys/<this container>.
DEFAULT_CONTAINER = {"raw": "Fluorescence", "dff": "DfOverF"}
# Suite2p's export keeps the neuropil beside the fluorescence under this container.
NEUROPIL_CONTAINER = "Neuropil"
# Columns that may hold a stimulus label in an intervals table, in order of preference.
LABEL_COLUMNS = ("stimulus", "stimulus_name", "stimulus_type", "label", "condition", "name")
# Placeholder start of a session whose date is unknown (nwbinspector flags it as a suggestion).
UNKNOWN_START = datetime(1970, 1, 1, tzinfo=UTC)


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NwbSeriesInfo:
    """What a session's series holds, as found in the file.

    path: the .nwb file; series: the series' path inside it.
    n_neurons: ROIs kept (after the `iscell` selection, if any); n_frames: samples.
    frame_rate_hz: from the series' `rate`, or the mean rate of its `timestamps`.
    start_time_s: time of the first frame, seconds since the file's session_start_time.
    time_axis: 0 if the data are stored (frames, ROIs) as NWB prescribes, 1 if (ROIs, frames).
    labels: one label per kept ROI (the ROI table's `label` column, else its ids).
    roi_rows: the kept ROIs' rows in the file's ROI table (empty if the series has none).
    neuropil: the neuropil series subtracted (None if none).
    notes: what was detected, for the log.
    """

    path: str
    series: str
    n_neurons: int
    n_frames: int
    frame_rate_hz: float
    start_time_s: float
    time_axis: int
    labels: list[str]
    neuropil: str | None = None
    roi_rows: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def is_nwb(path: str | os.PathLike) -> bool:
    """True if a session's `path` names an NWB file (by its .nwb suffix)."""
    return str(path).lower().endswith(".nwb")


@contextlib.contextmanager
def _open_nwb(path: str | os.PathLike, what: str) -> Iterator:
    """Open an NWB file read-only; yields the NWBFile. Any failure to open is an InputError."""
    from pynwb import NWBHDF5IO

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found; check the `path` column of the session sheet.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # cached-namespace notices of older files
            io = NWBHDF5IO(str(path), mode="r")
            nwbfile = io.read()
    except Exception as error:  # h5py, hdmf and pynwb raise many kinds for a bad file
        raise InputError(f"{path}: cannot be read as an NWB file, so {what} {_read_failure(error)}") from None
    try:
        yield nwbfile
    finally:
        io.close()


def _read_failure(error: Exception) -> str:
    """The end of a message for a file that does not open: where and why, in one line."""
    builder = error.args[0] if error.args and hasattr(error.args[0], "path") else None
    reason = str(error.args[-1] if builder is not None else error)
    if "due to: " in reason:  # hdmf's ConstructError: keep the cause, not the dump of the builder
        reason = reason[reason.rfind("due to: ") + len("due to: ") :]
    reason = " ".join(reason.split())[:300]
    where = f" ({builder.path.removeprefix('root/')})" if builder is not None else ""
    return (
        f"cannot be looked up: {type(error).__name__}{where}: {reason}. Check that the file is a "
        "complete NWB 2 (HDF5) file and that each series has a rate or timestamps."
    )


def _object_path(obj) -> str:
    """Path of an object inside its NWB file, e.g. processing/ophys/Fluorescence/plane0."""
    from pynwb import NWBFile, ProcessingModule

    names = []
    while obj is not None and not isinstance(obj, NWBFile):
        names.append(obj.name)
        top = obj
        obj = obj.parent
    if isinstance(top, ProcessingModule):
        names.append("processing")
    elif obj is not None:
        for group in ("acquisition", "analysis", "intervals", "stimulus"):
            members = getattr(obj, group, None) or {}
            if top.name in members and members[top.name] is top:
                names.append(group)
                break
    return "/".join(reversed(names))


def _resolve(nwbfile, name: str):
    """The object at `name` (processing/<module>/<container>/<series>, acquisition/<name>,
    intervals/<name>, ...), or None if there is none."""
    parts = [part for part in name.strip().strip("/").split("/") if part]
    groups = {
        "processing": nwbfile.processing,
        "acquisition": nwbfile.acquisition,
        "analysis": nwbfile.analysis,
        "intervals": nwbfile.intervals or {},
        "stimulus": nwbfile.stimulus,
    }
    if len(parts) < 2 or parts[0] not in groups:
        return None
    obj = groups[parts[0]]
    for part in parts[1:]:
        try:
            obj = obj[part]
        except (KeyError, TypeError, IndexError, AttributeError):
            return None
    return obj


def _all_series(nwbfile) -> list[str]:
    from pynwb.ophys import RoiResponseSeries

    found = [_object_path(o) for o in nwbfile.objects.values() if isinstance(o, RoiResponseSeries)]
    return sorted(found)


def _find_series(nwbfile, path: Path, series: str | None, input_kind: str) -> tuple[object, str]:
    """The series named in the sheet, or the first of DEFAULT_SERIES[input_kind] present."""
    from pynwb import TimeSeries

    available = _all_series(nwbfile)
    listing = ", ".join(available) if available else "none"
    if series:
        found = _resolve(nwbfile, series)
        if found is None:
            raise InputError(
                f"{path}: series {series!r} not found; its RoiResponseSeries are: {listing}. Fix the "
                "sheet's `nwb_series` column."
            )
        if not isinstance(found, TimeSeries):
            raise InputError(
                f"{path}: {series!r} is a {type(found).__name__}, not a series of traces; name a "
                f"RoiResponseSeries in `nwb_series` ({listing})."
            )
        return found, series.strip().strip("/")
    for candidate in DEFAULT_SERIES[input_kind]:
        found = _resolve(nwbfile, candidate)
        if isinstance(found, TimeSeries):
            return found, candidate
    container = f"processing/ophys/{DEFAULT_CONTAINER[input_kind]}/"
    inside = [name for name in available if name.startswith(container)]
    if len(inside) == 1:
        return _resolve(nwbfile, inside[0]), inside[0]
    raise InputError(
        f"{path}: no series named in the sheet and no single default "
        f"({', '.join(DEFAULT_SERIES[input_kind])} or the only series in {container}) found for "
        f"input_kind {input_kind}; RoiResponseSeries in the file: {listing}. Name one in the "
        "sheet's `nwb_series` column."
    )


def _timing(series, path: Path, name: str) -> tuple[float, float, str]:
    """(frame rate in Hz, time of the first frame in s, note) from `rate` or `timestamps`."""
    if series.rate is not None:
        rate = float(series.rate)
        if not math.isfinite(rate) or rate <= 0:
            raise InputError(f"{path}: series {name}: its rate is {rate} Hz; a frame rate must be positive.")
        start = float(series.starting_time if series.starting_time is not None else 0.0)
        return rate, start, f"rate {rate:g} Hz from the series"
    if series.timestamps is None:
        raise InputError(
            f"{path}: series {name} has neither a rate nor timestamps; the frame rate cannot be known."
        )
    stamps = np.asarray(series.timestamps[:], dtype=np.float64)
    if stamps.size < 2 or not np.isfinite(stamps).all() or np.any(np.diff(stamps) <= 0):
        raise InputError(
            f"{path}: series {name}: its {stamps.size} timestamps are not finite and increasing; the "
            "frame rate cannot be derived from them."
        )
    rate = (stamps.size - 1) / (stamps[-1] - stamps[0])
    # The workflow places frame k at start + k / rate: refuse timestamps that stray by half a frame
    # (dropped frames, pauses), which no single rate describes.
    drift = np.abs(stamps - (stamps[0] + np.arange(stamps.size) / rate)).max()
    if drift > 0.5 / rate:
        raise InputError(
            f"{path}: series {name}: its timestamps are irregular (a frame lies {drift:.3g} s from "
            f"a constant rate of {rate:.6g} Hz, more than half a frame); split the recording at the gap."
        )
    return float(rate), float(stamps[0]), f"rate {rate:.6g} Hz from {stamps.size} timestamps"


def _layout(series, path: Path, name: str) -> tuple[int, int, int]:
    """(time axis, number of frames, number of ROIs on the data's ROI axis)."""
    shape = tuple(series.data.shape)
    n_rois = len(series.rois.data) if getattr(series, "rois", None) is not None else None
    n_times = len(series.timestamps) if series.timestamps is not None else None
    if len(shape) == 1:
        time_axis, n_frames, n_columns = 0, shape[0], 1
        if n_rois not in (None, 1):
            raise InputError(
                f"{path}: series {name} holds one trace (shape {shape}) but its rois name {n_rois} ROIs."
            )
    elif len(shape) == 2:
        a, b = shape
        if n_times is not None:
            if a == n_times and n_rois in (None, b):
                time_axis = 0
            elif b == n_times and n_rois in (None, a):
                time_axis = 1
            else:
                raise InputError(
                    f"{path}: series {name}: data of shape {shape} match neither its {n_times} "
                    f"timestamps and {n_rois} ROIs, nor the other way round."
                )
        elif n_rois is None:
            time_axis = 0  # NWB: the first dimension is time
        elif b == n_rois:
            time_axis = 0  # (frames, ROIs) as NWB prescribes (also when square)
        elif a == n_rois:
            time_axis = 1  # stored transposed: (ROIs, frames)
        else:
            raise InputError(
                f"{path}: series {name}: data of shape {shape} have no axis of its {n_rois} ROIs "
                "(the rois region); the series is malformed."
            )
        n_frames, n_columns = shape[time_axis], shape[1 - time_axis]
    else:
        raise InputError(f"{path}: series {name}: data of shape {shape}; expected (frames, ROIs).")
    if n_frames < 2:
        raise InputError(f"{path}: series {name} holds {n_frames} frame(s); a recording needs at least 2.")
    if n_columns < 1:
        raise InputError(f"{path}: series {name} holds no ROI.")
    if not np.issubdtype(series.data.dtype, np.number):
        raise InputError(f"{path}: series {name}: data of type {series.data.dtype} are not numbers.")
    return time_axis, n_frames, n_columns


def _roi_selection(series, n_columns: int, cells_only: bool) -> tuple[np.ndarray, list[str], list[int], str]:
    """Positions on the data's ROI axis to keep, their labels, their rows in the ROI table, and a note.

    With `cells_only` and an `iscell` column in the ROI table (as Suite2p's export
    writes), only ROIs classified as cells are kept.
    """
    positions = np.arange(n_columns)
    rois = getattr(series, "rois", None)
    if rois is None:
        return positions, [str(i) for i in positions], [], "no ROI table: ROIs labelled by position"
    table = rois.table
    rows = np.asarray(rois.data[:], dtype=np.int64)
    if "label" in table.colnames:
        all_labels = [v.decode() if isinstance(v, bytes) else str(v) for v in table["label"].data[:]]
        labels = [all_labels[r] for r in rows]
    else:
        ids = np.asarray(table.id.data[:])
        labels = [str(ids[r]) for r in rows]
    note = f"{len(rows)} ROIs from {table.name}"
    if cells_only and "iscell" in table.colnames:
        flags = np.asarray(table["iscell"].data[:], dtype=np.float64)
        flags = flags[:, 0] if flags.ndim == 2 else flags
        keep = flags[rows] > 0.5
        positions, labels = positions[keep], [label for label, k in zip(labels, keep, strict=True) if k]
        rows = rows[keep]
        note += f"; {int(keep.sum())} classified as cells (iscell)"
    return positions, labels, [int(r) for r in rows], note


def _neuropil(nwbfile, path: Path, spec: str | None, name: str, series):
    """The neuropil series to subtract, checked against the traces' shape (None if none asked)."""
    if not spec:
        return None, None
    if spec == "auto":
        candidate = f"processing/ophys/{NEUROPIL_CONTAINER}/{name.rstrip('/').split('/')[-1]}"
        found = _resolve(nwbfile, candidate)
        if found is None:
            return None, None
        spec = candidate
    else:
        found = _resolve(nwbfile, spec)
        if found is None:
            raise InputError(
                f"{path}: neuropil series {spec!r} not found (series in the file: "
                f"{', '.join(_all_series(nwbfile)) or 'none'}); fix the sheet's `nwb_neuropil_series`."
            )
    if tuple(found.data.shape) != tuple(series.data.shape):
        raise InputError(
            f"{path}: neuropil series {spec} has shape {tuple(found.data.shape)} but series {name} "
            f"{tuple(series.data.shape)}; they must match."
        )
    return found, spec.strip("/")


def _describe(nwbfile, path, series, input_kind, neuropil_series, cells_only):
    found, name = _find_series(nwbfile, path, series, input_kind)
    time_axis, n_frames, n_columns = _layout(found, path, name)
    rate, start, timing_note = _timing(found, path, name)
    positions, labels, roi_rows, roi_note = _roi_selection(found, n_columns, cells_only)
    if positions.size == 0:
        raise InputError(
            f"{path}: series {name}: no ROI is classified as a cell (iscell); set "
            "input.suite2p_cells_only: false to keep every ROI."
        )
    neuropil, neuropil_name = _neuropil(nwbfile, path, neuropil_series, name, found)
    notes = [
        f"series {name}",
        "stored (frames, ROIs)" if time_axis == 0 else "stored (ROIs, frames): transposed",
        timing_note,
        roi_note,
        f"unit {found.unit!r}, conversion {found.conversion:g}, offset {getattr(found, 'offset', 0.0):g}",
    ]
    if neuropil is not None:
        notes.append(f"neuropil {neuropil_name} subtracted")
    info = NwbSeriesInfo(
        path=str(path),
        series=name,
        n_neurons=int(positions.size),
        n_frames=int(n_frames),
        frame_rate_hz=rate,
        start_time_s=start,
        time_axis=time_axis,
        labels=labels,
        roi_rows=roi_rows,
        neuropil=neuropil_name,
        notes=notes,
    )
    return info, found, neuropil, positions


def check_nwb_session(
    path: str | os.PathLike,
    series: str | None = None,
    input_kind: str = "raw",
    neuropil_series: str | None = None,
    stimulus_intervals: str | None = None,
    cells_only: bool = True,
) -> NwbSeriesInfo:
    """Check an NWB session before any job runs: the file opens, the series exists, has a
    usable shape and rate, the neuropil series (if asked) matches it, the stimulus intervals
    (if asked) can be read, and the sheet's frame rate (if given) agrees.

    path: the .nwb file. series: path of the traces inside it (None: DEFAULT_SERIES).
    input_kind: "raw" or "dff" (picks the default series).
    neuropil_series: series subtracted as F − r·Fneu; "auto": Suite2p's Neuropil sibling if present.
    stimulus_intervals: "intervals/<name>[:<label column>]" or None.
    cells_only: keep only ROIs whose `iscell` flag is set, when the ROI table has one.
    Returns the series' facts. Raises InputError naming the file and the series.
    Reads only the metadata and timestamps, never the traces.
    """
    path = Path(path)
    with _open_nwb(path, f"series {series}" if series else "the default series") as nwbfile:
        info = _describe(nwbfile, path, series, input_kind, neuropil_series, cells_only)[0]
        if stimulus_intervals:
            _read_intervals(nwbfile, path, stimulus_intervals)
    return info


class NwbTraces:
    """Lazy (neurons, frames) view of a series: indexing with a slice of neurons reads
    only those ROIs from the file and returns float32 in the series' unit
    (data · conversion + offset), minus r × the neuropil series if one is given."""

    def __init__(
        self, data, time_axis, positions, scale, neuropil=None, neuropil_scale=None, coefficient=0.0
    ):
        self.data = data
        self.time_axis = time_axis
        self.positions = positions
        self.scale = scale
        self.neuropil = neuropil
        self.neuropil_scale = neuropil_scale
        self.coefficient = coefficient
        n_frames = data.shape[time_axis] if data.ndim == 2 else data.shape[0]
        self.shape = (len(positions), n_frames)

    @staticmethod
    def _read(data, time_axis, positions, scale) -> np.ndarray:
        if positions.size == 0:
            return np.empty((0, data.shape[time_axis] if data.ndim == 2 else data.shape[0]), np.float32)
        if data.ndim == 1:
            block = np.asarray(data[:], dtype=np.float32)[None, :]
        else:
            lo, hi = int(positions[0]), int(positions[-1]) + 1
            block = data[:, lo:hi] if time_axis == 0 else data[lo:hi, :]
            block = np.asarray(block, dtype=np.float32)
            block = block.T if time_axis == 0 else block
            block = block[positions - lo]
        conversion, offset = scale
        if conversion != 1.0:
            block *= np.float32(conversion)
        if offset:
            block += np.float32(offset)
        return np.ascontiguousarray(block)

    def neuropil_rows(self, rows: slice) -> np.ndarray | None:
        """The neuropil series of the ROIs `rows` (float32, its unit), None without one."""
        if self.neuropil is None:
            return None
        return self._read(self.neuropil, self.time_axis, self.positions[rows], self.neuropil_scale)

    def __getitem__(self, rows: slice) -> np.ndarray:
        positions = self.positions[rows]
        traces = self._read(self.data, self.time_axis, positions, self.scale)
        if self.neuropil is not None:
            neuropil = self._read(self.neuropil, self.time_axis, positions, self.neuropil_scale)
            traces -= np.float32(self.coefficient) * neuropil
        return traces


def _scale(series) -> tuple[float, float]:
    return float(series.conversion), float(getattr(series, "offset", 0.0) or 0.0)


@contextlib.contextmanager
def open_nwb_traces(
    path: str | os.PathLike,
    series: str | None = None,
    input_kind: str = "raw",
    neuropil_series: str | None = None,
    neuropil_coefficient: float = 0.7,
    cells_only: bool = True,
) -> Iterator[tuple[NwbTraces, NwbSeriesInfo]]:
    """Open a session's series for reading in blocks of neurons.

    Parameters as for :func:`check_nwb_session`; neuropil_coefficient: r in F − r·Fneu
    (Suite2p's default 0.7). Yields (traces, info): `traces[a:b]` is a float32
    (b − a, frames) block; the file stays open inside the `with` block.
    """
    path = Path(path)
    with _open_nwb(path, f"series {series}" if series else "the default series") as nwbfile:
        info, found, neuropil, positions = _describe(
            nwbfile, path, series, input_kind, neuropil_series, cells_only
        )
        traces = NwbTraces(
            found.data,
            info.time_axis,
            positions,
            _scale(found),
            neuropil.data if neuropil is not None else None,
            _scale(neuropil) if neuropil is not None else None,
            neuropil_coefficient,
        )
        yield traces, info


MASK_TYPES = {
    "pixel_mask": np.dtype([("x", np.uint32), ("y", np.uint32), ("weight", np.float32)]),
    "voxel_mask": np.dtype([("x", np.uint32), ("y", np.uint32), ("z", np.uint32), ("weight", np.float32)]),
}


def _ragged_masks(index, rows: list[int], dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """(flat masks of `rows`, their cumulative ends) from a ragged mask column."""
    ends = np.asarray(index.data[:], dtype=np.int64)
    starts = np.concatenate([[0], ends[:-1]])
    flat = index.target.data[:]
    flat = np.array([tuple(v) for v in flat], dtype=dtype) if getattr(flat, "dtype", None) != dtype else flat
    parts = [flat[starts[r] : ends[r]] for r in rows]
    return (np.concatenate(parts) if parts else np.empty(0, dtype)), np.cumsum([len(p) for p in parts])


@contextlib.contextmanager
def open_roi_masks(
    path: str | os.PathLike, series: str | None = None, input_kind: str = "raw", cells_only: bool = True
) -> Iterator[dict]:
    """The ROI masks of an NWB input's kept ROIs (the same selection as open_nwb_traces).

    Yields {} if the series' ROI table has no masks, else one entry: "pixel_mask" or
    "voxel_mask" -> (flat structured array, cumulative ends per ROI), or "image_mask" ->
    an iterator serving one (height, width[, depth]) mask per kept ROI, read from the
    file while the `with` block is open (bounded memory however large the masks).
    """
    from hdmf.data_utils import DataChunkIterator

    path = Path(path)
    with _open_nwb(path, f"series {series}" if series else "the default series") as nwbfile:
        info, found, _, _ = _describe(nwbfile, path, series, input_kind, None, cells_only)
        rois = getattr(found, "rois", None)
        table = rois.table if rois is not None else None
        masks: dict = {}
        for kind, dtype in MASK_TYPES.items():
            if table is not None and kind in table.colnames:
                masks[kind] = _ragged_masks(table[kind], info.roi_rows, dtype)
                break
        else:
            if table is not None and "image_mask" in table.colnames:
                data = table["image_mask"].data
                masks["image_mask"] = DataChunkIterator(
                    data=(np.asarray(data[r]) for r in info.roi_rows),
                    maxshape=(len(info.roi_rows), *data.shape[1:]),
                    dtype=np.dtype(data.dtype),
                    buffer_size=1,
                )
        yield masks


def _parse_intervals_spec(spec: str) -> tuple[str, str | None]:
    name, _, column = spec.strip().partition(":")
    name = name.strip().strip("/")
    if not name.startswith("intervals/"):
        name = f"intervals/{name}"
    return name, (column.strip() or None)


def _read_intervals(nwbfile, path: Path, spec: str) -> pd.DataFrame:
    from pynwb.epoch import TimeIntervals

    name, label_column = _parse_intervals_spec(spec)
    table = _resolve(nwbfile, name)
    if not isinstance(table, TimeIntervals):
        available = ", ".join(f"intervals/{k}" for k in (nwbfile.intervals or {})) or "none"
        raise InputError(
            f"{path}: stimulus intervals {name!r} not found (intervals in the file: {available}); fix "
            "the sheet's `nwb_stimulus_intervals` column."
        )
    if len(table) == 0:
        raise InputError(f"{path}: {name} holds no intervals; empty `nwb_stimulus_intervals`.")
    if label_column is None:
        label_column = next((c for c in LABEL_COLUMNS if c in table.colnames), None)
    elif label_column not in table.colnames:
        raise InputError(
            f"{path}: {name} has no column {label_column!r} (columns: {', '.join(table.colnames)}); fix "
            "the part after ':' in `nwb_stimulus_intervals`."
        )
    onsets = np.asarray(table["start_time"].data[:], dtype=np.float64)
    offsets = np.asarray(table["stop_time"].data[:], dtype=np.float64)
    if label_column is None:
        labels = [table.name] * len(onsets)
    else:
        labels = [v.decode() if isinstance(v, bytes) else str(v) for v in table[label_column].data[:]]
    return pd.DataFrame({"stimulus": labels, "onset_s": onsets, "offset_s": offsets})


def read_stimulus_intervals(path: str | os.PathLike, spec: str) -> pd.DataFrame:
    """A stimulus table from an NWB TimeIntervals table.

    spec: "intervals/<name>" (or "<name>"), optionally ":<label column>"; without a
        column, the first of LABEL_COLUMNS present labels the rows, else the
        table's name does.
    Returns columns stimulus, onset_s (start_time), offset_s (stop_time), in seconds
    on the file's clock (since session_start_time, the clock of the recording's
    start_time_s), in the file's row order. Raises InputError naming the file and table.
    """
    path = Path(path)
    with _open_nwb(path, f"stimulus intervals {spec}") as nwbfile:
        return _read_intervals(nwbfile, path, spec)


def read_nwb_metadata(path: str | os.PathLike, series: str | None, input_kind: str = "raw") -> dict:
    """Session metadata of an NWB input, to carry over into the workflow's NWB output.

    Returns a dict with session_start_time (datetime), subject (dict of the Subject's
    fields that are set), experimenter, institution, lab, experiment_description,
    session_description and imaging_plane (dict: indicator, location,
    excitation_lambda, emission_lambda, description, device, device_description,
    manufacturer) of the series' ROI table, when present.
    """
    path = Path(path)
    with _open_nwb(path, "metadata") as nwbfile:
        found, _ = _find_series(nwbfile, path, series, input_kind)
        meta: dict = {
            "session_start_time": nwbfile.session_start_time,
            "session_description": nwbfile.session_description,
            "experimenter": list(nwbfile.experimenter or []),
            "institution": nwbfile.institution,
            "lab": nwbfile.lab,
            "experiment_description": nwbfile.experiment_description,
            "subject": {},
            "imaging_plane": {},
        }
        subject = nwbfile.subject
        if subject is not None:
            for key in (
                "subject_id",
                "species",
                "sex",
                "age",
                "date_of_birth",
                "description",
                "strain",
                "genotype",
                "weight",
            ):
                value = getattr(subject, key, None)
                if value is not None:
                    meta["subject"][key] = value
        rois = getattr(found, "rois", None)
        plane = getattr(rois.table, "imaging_plane", None) if rois is not None else None
        if plane is not None:
            channel = plane.optical_channel[0] if plane.optical_channel else None
            meta["imaging_plane"] = {
                "indicator": plane.indicator,
                "location": plane.location,
                "excitation_lambda": _float_or_none(plane.excitation_lambda),
                "emission_lambda": _float_or_none(channel.emission_lambda) if channel is not None else None,
                "description": plane.description,
                "device": plane.device.name if plane.device is not None else None,
                "device_description": plane.device.description if plane.device is not None else None,
                "manufacturer": _manufacturer(plane.device),
            }
    return meta


def _manufacturer(device) -> str | None:
    """A device's manufacturer: its DeviceModel's (pynwb >= 3), else the older Device field."""
    if device is None:
        return None
    model = getattr(device, "model", None)
    if model is not None and getattr(model, "manufacturer", None):
        return model.manufacturer
    return getattr(device, "manufacturer", None)


def _float_or_none(value) -> float | None:
    """A wavelength as float, None when absent or NaN (unknown)."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def parse_start_time(text: str, where: str) -> datetime:
    """An ISO 8601 date-time with a time zone (e.g. 2024-05-01T09:30:00+02:00).

    Raises InputError naming `where` if it does not parse or has no time zone
    (NWB and DANDI require one).
    """
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            f"{where}: {text!r} is not an ISO 8601 date-time; write e.g. 2024-05-01T09:30:00+02:00."
        ) from None
    if value.tzinfo is None:
        raise InputError(
            f"{where}: {text!r} has no time zone; NWB needs one, e.g. 2024-05-01T09:30:00+02:00 or ...Z."
        )
    return value

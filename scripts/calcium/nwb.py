"""NWB (Neurodata Without Borders) input and output for calcium-imaging sessions.

Reading: a session's traces come from one series of an .nwb file (a
``RoiResponseSeries`` as Suite2p, CaImAn and neuroconv write them), opened
read-only with pynwb and read in blocks of ROIs, never whole. Traces are
returned as (neurons, frames) float32 in the series' unit (data · conversion +
offset), whichever way round the file stores them.

Writing: :class:`SessionNwbWriter` builds one NWB file per session holding the
workflow's traces (streamed from the .npy files in compressed chunks), the
inferred spikes, events, coactivity, ensembles and stimulus results as tables,
and the run's parameters and version in the file's metadata; the file appears
under its final name only when complete.

Clock: every time in an NWB file is in seconds since the file's
``session_start_time``. A recording's ``start_time_s`` is the time of its first
frame on that clock (the series' ``starting_time`` or first timestamp); frame k
is at ``start_time_s + k / frame_rate_hz``. Stimulus intervals read from a file
keep their times on that clock.

Errors about the input are :class:`calcium.io.InputError` and name the file and
the series.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from .io import InputError

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
# A sheet's frame rate may differ from the file's by this fraction (rounding of a written rate).
RATE_TOLERANCE = 1e-3
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


def check_rate(info: NwbSeriesInfo, sheet_rate_hz: float | None) -> None:
    """Raise InputError if the sheet's frame rate differs from the file's by more than RATE_TOLERANCE."""
    if sheet_rate_hz is None:
        return
    if abs(sheet_rate_hz - info.frame_rate_hz) > RATE_TOLERANCE * info.frame_rate_hz:
        raise InputError(
            f"{info.path}: series {info.series} is sampled at {info.frame_rate_hz:.6g} Hz but the sheet's "
            f"frame_rate_hz says {sheet_rate_hz:g}; empty the sheet's frame_rate_hz (the file's rate "
            "is used) or fix it."
        )


def check_nwb_session(
    path: str | os.PathLike,
    series: str | None = None,
    input_kind: str = "raw",
    neuropil_series: str | None = None,
    stimulus_intervals: str | None = None,
    cells_only: bool = True,
    sheet_rate_hz: float | None = None,
) -> NwbSeriesInfo:
    """Check an NWB session before any job runs: the file opens, the series exists, has a
    usable shape and rate, the neuropil series (if asked) matches it, the stimulus intervals
    (if asked) can be read, and the sheet's frame rate (if given) agrees.

    path: the .nwb file. series: path of the traces inside it (None: DEFAULT_SERIES).
    input_kind: "raw" or "dff" (picks the default series).
    neuropil_series: series subtracted as F − r·Fneu; "auto": Suite2p's Neuropil sibling if present.
    stimulus_intervals: "intervals/<name>[:<label column>]" or None.
    cells_only: keep only ROIs whose `iscell` flag is set, when the ROI table has one.
    sheet_rate_hz: the sheet's frame rate (Hz), or None.
    Returns the series' facts. Raises InputError naming the file and the series.
    Reads only the metadata and timestamps, never the traces.
    """
    path = Path(path)
    with _open_nwb(path, f"series {series}" if series else "the default series") as nwbfile:
        info = _describe(nwbfile, path, series, input_kind, neuropil_series, cells_only)[0]
        if stimulus_intervals:
            _read_intervals(nwbfile, path, stimulus_intervals)
    check_rate(info, sheet_rate_hz)
    return info


# Optional session-sheet columns: which series to read (input) and what the NWB output records.
NWB_SHEET_COLUMNS = (
    "nwb_series",
    "nwb_neuropil_series",
    "nwb_stimulus_intervals",
    "session_start_time",
    "subject_id",
    "species",
    "sex",
    "age",
)


def check_nwb_sheet(sheet: pd.DataFrame, sheet_path: str | os.PathLike, cells_only: bool = True) -> dict:
    """Check a session sheet's NWB columns and NWB sessions before any job runs.

    sheet: the session sheet as text (every cell a string, empty if not given), with
        the NWB_SHEET_COLUMNS present; changed in place: an NWB session's
        frame_rate_hz becomes the file's rate (a sheet value must agree within
        RATE_TOLERANCE).
    sheet_path: the sheet's file, named in messages. cells_only: input.suite2p_cells_only.
    Returns {session: NwbSeriesInfo} of the NWB sessions. Raises InputError naming the
    sheet line and session (and the file and series): session_start_time without a
    time zone, NWB columns on a session that is not an .nwb file, both `stimuli` and
    `nwb_stimulus_intervals`, and anything check_nwb_session refuses.
    """
    if "frame_rate_hz" not in sheet.columns:
        sheet["frame_rate_hz"] = ""
    infos = {}
    for i, row in enumerate(sheet.to_dict("records")):
        where = f"{sheet_path}: line {i + 2}: session {row.get('session')}"
        try:
            if row["session_start_time"]:
                parse_start_time(row["session_start_time"], "session_start_time")
            if not is_nwb(row.get("path", "")):
                named = [c for c in NWB_SHEET_COLUMNS[:3] if row[c]]
                if named:
                    raise InputError(f"{', '.join(named)} given but {row.get('path')!r} is not an .nwb file.")
                continue
            if row["stimuli"] and row["nwb_stimulus_intervals"]:
                raise InputError(
                    "give the stimulus table either as `stimuli` or as `nwb_stimulus_intervals`."
                )
            try:
                sheet_rate = float(row["frame_rate_hz"]) if row["frame_rate_hz"] else None
            except ValueError:
                raise InputError(
                    f"frame_rate_hz {row['frame_rate_hz']!r} is not a number; empty it to take the rate "
                    "from the NWB file."
                ) from None
            info = check_nwb_session(
                row["path"],
                series=row["nwb_series"] or None,
                input_kind=row.get("input_kind", "raw"),
                neuropil_series=row["nwb_neuropil_series"] or None,
                stimulus_intervals=row["nwb_stimulus_intervals"] or None,
                cells_only=cells_only,
                sheet_rate_hz=sheet_rate,
            )
        except InputError as error:
            raise InputError(f"{where}: {error.args[0]}") from None
        infos[row["session"]] = info
        sheet.loc[sheet.index[i], "frame_rate_hz"] = repr(info.frame_rate_hz)
    return infos


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
                "excitation_lambda": float(plane.excitation_lambda),
                "emission_lambda": float(channel.emission_lambda) if channel is not None else math.nan,
                "description": plane.description,
                "device": plane.device.name if plane.device is not None else None,
                "device_description": plane.device.description if plane.device is not None else None,
                "manufacturer": plane.device.manufacturer if plane.device is not None else None,
            }
    return meta


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


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------

# Descriptions of the workflow's table columns (units are in the names: _s seconds, _dff ΔF/F).
COLUMN_DESCRIPTIONS = {
    "neuron": "row of the ROI table (PlaneSegmentation) this row belongs to",
    "label": "the ROI's label in the input (ROI id, index column or header)",
    "onset_frame": "frame where the event rises above the rest level",
    "onset_s": "time of the event onset (s)",
    "peak_frame": "frame of the event peak",
    "peak_s": "time of the event peak (s)",
    "end_frame": "frame where the event returns to the rest level",
    "end_s": "time of the event end (s)",
    "amplitude_dff": "event peak above baseline (ΔF/F)",
    "prominence_dff": "peak prominence (ΔF/F)",
    "fwhm_s": "full width at half maximum (s)",
    "area_dff_s": "area under the event above baseline (ΔF/F·s)",
    "exceeds_max_fwhm": "event wider than events.max_fwhm_s",
    "baseline_dff": "baseline of the trace (ΔF/F)",
    "noise_sd_dff": "robust noise SD of the trace (ΔF/F)",
    "threshold_dff": "event detection threshold (ΔF/F)",
    "n_events": "number of events",
    "g1": "first autoregressive coefficient of the OASIS model",
    "g2": "second autoregressive coefficient (0 for AR(1))",
    "tau_decay_s": "decay time constant (s)",
    "tau_rise_s": "rise time constant (s; 0 for AR(1))",
    "lambda": "sparsity penalty of OASIS",
    "spike_sum_dff": "sum of the inferred spike amplitudes (ΔF/F)",
    "bin": "index of the coactivity bin",
    "start_s": "start of the bin (s)",
    "n_active": "neurons with an event in the bin",
    "fraction_active": "fraction of neurons with an event in the bin",
    "event": "ensemble event index",
    "ensemble": "ensemble index (-1: none)",
    "n_members": "number of member neurons",
    "first_active_s": "time of the ensemble's first event (s)",
    "last_active_s": "time of the ensemble's last event (s)",
    "participation": "fraction of the ensemble's events the neuron takes part in",
    "member": "neuron is a member of the ensemble",
    "r2": "coefficient of determination of the stimulus regression",
    "intercept_dff": "regression intercept (ΔF/F)",
    "selected": "R² above stimulus.min_r2 (stimulus-locked)",
    "response_type": "stimulus with the largest coefficient, or not stimulus-locked",
    "stimulus": "stimulus label",
    "n_presentations": "number of presentations",
    "mean_response_dff": "mean baseline-subtracted response over the response window (ΔF/F)",
    "sem_response_dff": "standard error of the mean response (ΔF/F)",
}

_SUFFIX_UNITS = (("_per_min", "per minute"), ("_dff_s", "ΔF/F·s"), ("_dff", "ΔF/F"), ("_s", "seconds"))


def describe_column(name: str) -> str:
    """A column's description: from COLUMN_DESCRIPTIONS, else its name and the unit its suffix gives."""
    if name in COLUMN_DESCRIPTIONS:
        return COLUMN_DESCRIPTIONS[name]
    if name.startswith("coef_"):
        return f"regression coefficient of stimulus {name[5:]!r} (ΔF/F per unit regressor)"
    for suffix, unit in _SUFFIX_UNITS:
        if name.endswith(suffix):
            return f"{name.replace('_', ' ')} ({unit})"
    return name.replace("_", " ")


# Table columns with at least this many values are stored gzip-compressed.
COMPRESS_FROM = 1 << 16


def _compressed(values, gzip_level: int):
    """Wrap a large numeric array for gzip compression at `gzip_level` (0: none), byte-shuffled."""
    from hdmf.backends.hdf5 import H5DataIO

    if gzip_level and isinstance(values, np.ndarray) and values.size >= COMPRESS_FROM:
        return H5DataIO(values, compression="gzip", compression_opts=gzip_level, shuffle=True)
    return values


def _column_data(values: pd.Series, gzip_level: int):
    if pd.api.types.is_bool_dtype(values):
        return _compressed(values.to_numpy(dtype=bool), gzip_level)
    if pd.api.types.is_integer_dtype(values):
        return _compressed(values.to_numpy(dtype=np.int64), gzip_level)
    if pd.api.types.is_float_dtype(values):
        return _compressed(values.to_numpy(dtype=np.float64), gzip_level)
    return [str(v) for v in values]


def _npy_iterator_class():
    from hdmf.data_utils import GenericDataChunkIterator

    from .io import load_npy

    class _NpyRowsAsColumns(GenericDataChunkIterator):
        """A (neurons, frames) .npy served as (frames, neurons), a block of neurons at a time."""

        def __init__(self, path, shape, **kwargs):
            self.path = str(path)
            self.npy_shape = tuple(int(x) for x in shape)  # (neurons, frames) as stored in the .npy
            super().__init__(**kwargs)

        def _get_data(self, selection):
            frames, neurons = selection
            block = load_npy(self.path, neurons)
            return np.ascontiguousarray(block[:, frames].T)

        def _get_maxshape(self):
            return (self.npy_shape[1], self.npy_shape[0])

        def _get_dtype(self):
            return np.dtype(np.float32)

    return _NpyRowsAsColumns


def chunk_shapes(n_neurons: int, n_frames: int, chunk_bytes: int = 1 << 20, buffer_bytes: int = 64 << 20):
    """HDF5 chunk and write-buffer shapes (frames, neurons) for a float32 trace array.

    Chunks hold up to 16384 frames of as many neurons as fit `chunk_bytes` (default
    1 MiB, within HDF5's recommended range; a neuron's trace is read in few chunks),
    both axes split evenly (HDF5 stores edge chunks whole: no padding wasted);
    a buffer holds every frame of a whole number of chunk columns, up to
    `buffer_bytes` (default 64 MiB), so memory stays bounded however long the recording.
    """
    frames_per_chunk = math.ceil(n_frames / math.ceil(n_frames / 16384))
    most_neurons = max(1, min(n_neurons, chunk_bytes // (4 * frames_per_chunk)))
    neurons_per_chunk = math.ceil(n_neurons / math.ceil(n_neurons / most_neurons))
    columns = max(1, buffer_bytes // (4 * n_frames * neurons_per_chunk))
    neurons_per_buffer = min(n_neurons, neurons_per_chunk * columns)
    return (frames_per_chunk, neurons_per_chunk), (n_frames, neurons_per_buffer)


@dataclass
class SessionMetadata:
    """What the NWB file says about its session (fields as in NWBFile / Subject).

    session_start_time: datetime with a time zone; subject: Subject fields
    (subject_id, species, sex, age, ...); imaging_plane: indicator, location,
    excitation_lambda / emission_lambda (nm; NaN if unknown), description, device,
    device_description, manufacturer.
    """

    session_id: str
    session_description: str
    session_start_time: datetime
    subject: dict
    imaging_plane: dict
    experimenter: list[str] = field(default_factory=list)
    institution: str | None = None
    lab: str | None = None
    experiment_description: str | None = None
    source_script: str = ""
    data_collection: str = ""
    keywords: list[str] = field(default_factory=list)
    identifier: str = field(default_factory=lambda: str(uuid.uuid4()))


# Subject fields a session sheet may give, overriding those of an NWB input.
SUBJECT_FIELDS = ("subject_id", "species", "sex", "age")


def session_metadata(
    session: dict,
    settings: dict,
    source: dict | None,
    version: str,
    parameters: dict,
    n_neurons: int,
    frame_rate_hz: float,
) -> tuple[SessionMetadata, list[str]]:
    """Metadata of a session's NWB output, and warnings about fields left unknown.

    session: the sheet row (session, path, indicator, input_kind and the optional
        session_start_time, subject_id, species, sex, age, nwb_series).
    settings: config section `nwb` (institution, lab, experimenter, experiment_description).
    source: :func:`read_nwb_metadata` of an NWB input (None otherwise); its values fill
        what the sheet and config leave empty.
    version: the workflow's version; parameters: the run's config (stored as JSON in
        /general/data_collection with the version and the input).
    Unknown values get the placeholders that NWB and DANDI accept: session_start_time
    1970-01-01T00:00:00Z, subject_id = the session id, sex "U", age "P0D/" (0 days or
    older); excitation and emission wavelengths NaN. Each is reported as a warning.
    """
    source = source or {}
    session_id = str(session["session"])
    notes = []
    if session.get("session_start_time"):
        start = parse_start_time(session["session_start_time"], f"session {session_id}: session_start_time")
    elif source.get("session_start_time") is not None:
        start = source["session_start_time"]
    else:
        start = UNKNOWN_START
        notes.append(
            "session_start_time unknown: 1970-01-01T00:00:00Z written; give the sheet's session_start_time"
        )
    subject = {k: v for k, v in source.get("subject", {}).items() if v not in (None, "")}
    for key in SUBJECT_FIELDS:
        if session.get(key):
            subject[key] = str(session[key])
    if "subject_id" not in subject:
        subject["subject_id"] = session_id
        notes.append(
            f"subject_id unknown: the session id {session_id!r} written; give the sheet's subject_id"
        )
    if "sex" not in subject:
        subject["sex"] = "U"
    if "age" not in subject and "date_of_birth" not in subject:
        subject["age"] = "P0D/"
        notes.append(
            "subject age unknown: 'P0D/' (0 days or older) written; give the sheet's age (e.g. P60D)"
        )
    if "species" not in subject:
        notes.append("species unknown (DANDI requires it): give the sheet's species, e.g. Mus musculus")
    subject.setdefault("description", f"subject of session {session_id}")
    plane = dict(source.get("imaging_plane", {}))
    plane["indicator"] = session.get("indicator") or plane.get("indicator")
    plane.setdefault("excitation_lambda", math.nan)
    plane.setdefault("emission_lambda", math.nan)
    description = (
        f"Session {session_id}: {n_neurons} ROIs at {frame_rate_hz:g} Hz analysed by the calcium-imaging "
        f"workflow {version} (ΔF/F, detrending, wavelet denoising, OASIS deconvolution, spike times, "
        "calcium events, coactivity, ensembles, stimulus regression)."
    )
    if source.get("session_description"):
        description += f" Input session: {source['session_description']}"
    provenance = {
        "workflow": "calcium-imaging-workflow",
        "version": version,
        "input": {
            "path": str(session.get("path", "")),
            "input_kind": session.get("input_kind"),
            "nwb_series": session.get("nwb_series") or None,
        },
        "parameters": parameters,
    }
    metadata = SessionMetadata(
        session_id=session_id,
        session_description=description,
        session_start_time=start,
        subject=subject,
        imaging_plane=plane,
        experimenter=list(settings.get("experimenter") or source.get("experimenter") or []),
        institution=settings.get("institution") or source.get("institution"),
        lab=settings.get("lab") or source.get("lab"),
        experiment_description=settings.get("experiment_description") or source.get("experiment_description"),
        source_script=f"calcium-imaging-workflow {version}",
        data_collection=json_text(provenance),
        keywords=["calcium imaging", "ΔF/F", "spike inference", "calcium events", "neuronal ensembles"],
    )
    return metadata, notes


class SessionNwbWriter:
    """Build a session's NWB file piece by piece, then write it atomically.

    Layout: processing/ophys holds the ROI table (ImageSegmentation/PlaneSegmentation),
    the traces (DfOverF, Deconvolved, ...: RoiResponseSeries, frames × ROIs), the
    inferred spikes and the per-ROI tables; analysis holds population and stimulus
    tables; intervals/stimuli the stimulus presentations. Trace arrays are added as
    paths to (neurons, frames) float32 .npy files and streamed at write time.
    frame_rate_hz (Hz) and start_time_s (s since session_start_time) time every series;
    labels: one per ROI; masks: the input's ROI masks (open_roi_masks), if any, else each
    ROI gets a placeholder mask of weight 0; gzip_level: 0-9 for traces and large table
    columns (0: none; default 4; measured on one core: 23-33 MB/s at 4, 27-36 MB/s at 1,
    files 0.80-0.87 of the raw float32 size).
    """

    def __init__(
        self,
        metadata: SessionMetadata,
        frame_rate_hz: float,
        start_time_s: float,
        labels,
        gzip_level: int = 4,
        masks: dict | None = None,
    ):
        from pynwb import NWBFile
        from pynwb.file import Subject
        from pynwb.ophys import ImageSegmentation, OpticalChannel

        self.frame_rate_hz = float(frame_rate_hz)
        self.start_time_s = float(start_time_s)
        self.gzip_level = int(gzip_level)
        self.n_neurons = len(labels)
        self.nwbfile = NWBFile(
            session_description=metadata.session_description,
            identifier=metadata.identifier,
            session_start_time=metadata.session_start_time,
            session_id=metadata.session_id,
            experimenter=metadata.experimenter or None,
            institution=metadata.institution,
            lab=metadata.lab,
            experiment_description=metadata.experiment_description,
            source_script=metadata.source_script or None,
            source_script_file_name="Snakefile" if metadata.source_script else None,
            data_collection=metadata.data_collection or None,
            keywords=metadata.keywords or None,
        )
        self.nwbfile.subject = Subject(**metadata.subject)
        plane = metadata.imaging_plane
        device = self.nwbfile.create_device(
            name=plane.get("device") or "Microscope",
            description=plane.get("device_description") or "imaging device (not described in the input)",
            manufacturer=plane.get("manufacturer"),
        )
        channel = OpticalChannel(
            name="OpticalChannel",
            description="emission channel of the indicator",
            emission_lambda=float(plane.get("emission_lambda", math.nan)),
        )
        self.imaging_plane = self.nwbfile.create_imaging_plane(
            name="ImagingPlane",
            optical_channel=channel,
            description=plane.get("description") or "imaging plane of the analysed ROIs",
            device=device,
            excitation_lambda=float(plane.get("excitation_lambda", math.nan)),
            imaging_rate=self.frame_rate_hz,
            indicator=plane.get("indicator") or "unknown",
            location=plane.get("location") or "unknown",
        )
        self.ophys = self.nwbfile.create_processing_module(
            name="ophys", description="calcium-imaging traces, inferred spikes and events per ROI"
        )
        segmentation = ImageSegmentation(name="ImageSegmentation")
        self.ophys.add(segmentation)
        self.rois = self._roi_table(labels, masks or {})
        segmentation.add_plane_segmentation(self.rois)
        self.containers: dict = {}

    def _roi_table(self, labels, masks: dict):
        from hdmf.backends.hdf5 import H5DataIO
        from hdmf.common import VectorData, VectorIndex
        from pynwb.ophys import PlaneSegmentation

        label = VectorData(
            name="label", data=[str(v) for v in labels], description=COLUMN_DESCRIPTIONS["label"]
        )
        copied = "the input's ROI mask, copied"
        if "image_mask" in masks:
            data = H5DataIO(masks["image_mask"], compression="gzip", compression_opts=max(1, self.gzip_level))
            columns = [label, VectorData(name="image_mask", data=data, description=copied)]
        elif masks:
            ((kind, (flat, ends)),) = masks.items()
            mask = VectorData(name=kind, data=flat, description=copied)
            columns = [
                label,
                mask,
                VectorIndex(name=f"{kind}_index", data=ends.astype(np.int64), target=mask),
            ]
        else:
            columns = [label, *self._no_masks(len(labels))]
        return PlaneSegmentation(
            name="PlaneSegmentation",
            description="ROIs analysed by the workflow; id = the workflow's neuron index",
            imaging_plane=self.imaging_plane,
            id=np.arange(len(labels)),
            columns=columns,
        )

    @staticmethod
    def _no_masks(n_rois: int):
        from hdmf.common import VectorData, VectorIndex

        # The workflow reads traces, not images: no ROI masks are known. pynwb cannot read a
        # PlaneSegmentation without a mask column, and empty masks break nwbinspector, so every
        # ROI gets one pixel of weight 0: no pixel belongs to it, rather than an invented shape.
        mask_type = np.dtype([("x", np.uint32), ("y", np.uint32), ("weight", np.float32)])
        mask = VectorData(
            name="pixel_mask",
            data=np.zeros(n_rois, dtype=mask_type),
            description=(
                "pixel masks are unknown (the input held traces, not images): each ROI has a single "
                "entry (x 0, y 0) of weight 0, i.e. no pixel"
            ),
        )
        mask_index = VectorIndex(
            name="pixel_mask_index", data=np.arange(1, n_rois + 1, dtype=np.int64), target=mask
        )
        return [mask, mask_index]

    def _region(self, name: str, rows, description: str):
        from hdmf.common import DynamicTableRegion

        return DynamicTableRegion(
            name=name, data=np.asarray(rows, dtype=np.int64), description=description, table=self.rois
        )

    def add_traces(
        self,
        container: str,
        container_type: str,
        name: str,
        npy_path: str | os.PathLike,
        description: str,
        unit: str = "dF/F",
        buffer_bytes: int = 64 << 20,
    ) -> None:
        """Add a (neurons, frames) float32 .npy as RoiResponseSeries `name` in processing/ophys/<container>.

        container_type: "DfOverF" or "Fluorescence" (the NWB type of the container).
        unit: the traces' unit (default "dF/F").
        buffer_bytes: most bytes read from the .npy at a time (default 64 MiB; at least one
            chunk column). The array is streamed at write time in chunks (see chunk_shapes),
            gzip-compressed at the writer's gzip_level, with byte shuffling.
        """
        from hdmf.backends.hdf5 import H5DataIO
        from pynwb.ophys import DfOverF, Fluorescence, RoiResponseSeries

        from .io import load_npy

        shape = tuple(load_npy(npy_path).shape)
        if shape[0] != self.n_neurons:
            raise ValueError(f"{npy_path}: {shape[0]} neurons but the ROI table has {self.n_neurons}")
        chunk, buffer = chunk_shapes(*shape, buffer_bytes=buffer_bytes)
        iterator = _npy_iterator_class()(npy_path, shape, chunk_shape=chunk, buffer_shape=buffer)
        series = RoiResponseSeries(
            name=name,
            data=(
                H5DataIO(iterator, compression="gzip", compression_opts=self.gzip_level, shuffle=True)
                if self.gzip_level
                else H5DataIO(iterator)
            ),
            rois=self._region("rois", np.arange(self.n_neurons), "every ROI, in the ROI table's order"),
            unit=unit,
            conversion=1.0,
            resolution=-1.0,
            starting_time=self.start_time_s,
            rate=self.frame_rate_hz,
            description=description,
        )
        if container not in self.containers:
            kind = {"DfOverF": DfOverF, "Fluorescence": Fluorescence}[container_type]
            self.containers[container] = kind(name=container)
            self.ophys.add(self.containers[container])
        self.containers[container].add_roi_response_series(series)

    def add_spikes(self, spikes: pd.DataFrame, description: str) -> None:
        """Inferred spikes as a Units-like table in processing/ophys: one row per ROI with
        ragged columns spike_times (s, on the file's clock), spike_frames and
        spike_amplitudes_dff. spikes: columns neuron, frame, amplitude_dff."""
        from hdmf.common import DynamicTable, VectorData, VectorIndex

        spikes = spikes.sort_values(["neuron", "frame"], kind="stable")
        neurons = spikes["neuron"].to_numpy(dtype=np.int64)
        frames = spikes["frame"].to_numpy(dtype=np.int64)
        ends = np.searchsorted(neurons, np.arange(self.n_neurons), side="right")
        columns = [self._region("roi", np.arange(self.n_neurons), "the ROI whose spikes these are")]
        for column, values, text in (
            ("spike_times", self.start_time_s + frames / self.frame_rate_hz, "spike times (s)"),
            ("spike_frames", frames, "frames of the spikes"),
            ("spike_amplitudes_dff", spikes["amplitude_dff"].to_numpy(np.float64), "spike amplitudes (ΔF/F)"),
        ):
            data = VectorData(name=column, data=_compressed(values, self.gzip_level), description=text)
            columns += [data, VectorIndex(name=f"{column}_index", data=ends, target=data)]
        self.ophys.add(
            DynamicTable(
                name="InferredSpikes",
                description=description,
                id=np.arange(self.n_neurons),
                columns=columns,
            )
        )

    def add_table(
        self,
        name: str,
        table: pd.DataFrame,
        description: str,
        where: str = "ophys",
        neuron_columns: tuple[str, ...] = ("neuron",),
        ragged_neurons: dict[str, list] | None = None,
        descriptions: dict[str, str] | None = None,
    ) -> bool:
        """Add a tidy table as a DynamicTable in processing/ophys (where="ophys") or analysis.

        neuron_columns become links (DynamicTableRegion) to the ROI table.
        ragged_neurons: extra columns holding, per row, a list of neuron indices
        (e.g. an ensemble's members), also linked to the ROI table.
        descriptions: column descriptions overriding describe_column's.
        An empty table is not written (returns False): NWB discourages empty tables.
        """
        from hdmf.common import DynamicTable, VectorData, VectorIndex

        if table.empty:
            return False
        columns = []
        for column in table.columns:
            if column in neuron_columns:
                columns.append(self._region(column, table[column].to_numpy(), COLUMN_DESCRIPTIONS["neuron"]))
            else:
                columns.append(
                    VectorData(
                        name=column,
                        data=_column_data(table[column], self.gzip_level),
                        description=(descriptions or {}).get(column) or describe_column(column),
                    )
                )
        for column, lists in (ragged_neurons or {}).items():
            flat = np.concatenate([np.asarray(v, dtype=np.int64) for v in lists]) if lists else []
            region = self._region(column, flat, f"{column}: rows of the ROI table")
            ends = np.cumsum([len(v) for v in lists]).astype(np.int64)
            columns += [region, VectorIndex(name=f"{column}_index", data=ends, target=region)]
        dynamic = DynamicTable(name=name, description=description, id=np.arange(len(table)), columns=columns)
        if where == "ophys":
            self.ophys.add(dynamic)
        else:
            self.nwbfile.add_analysis(dynamic)
        return True

    def add_stimuli(self, stimuli: pd.DataFrame, description: str) -> None:
        """Stimulus presentations as intervals/stimuli (TimeIntervals: start_time, stop_time,
        stimulus). stimuli: columns stimulus, onset_s, offset_s on the file's clock."""
        from pynwb.epoch import TimeIntervals

        intervals = TimeIntervals(name="stimuli", description=description)
        intervals.add_column(name="stimulus", description=COLUMN_DESCRIPTIONS["stimulus"])
        for row in stimuli.itertuples():
            intervals.add_interval(
                start_time=float(row.onset_s), stop_time=float(row.offset_s), stimulus=row.stimulus
            )
        self.nwbfile.add_time_intervals(intervals)

    def add_regressors(
        self, labels: list[str], regressors: np.ndarray, boxcars: np.ndarray, description: str
    ):
        """Stimulus regressors and boxcars (stimuli, frames) as TimeSeries (frames × stimuli) in analysis."""
        from pynwb import TimeSeries

        for name, values, text in (
            ("stimulus_boxcars", boxcars, "1 while the stimulus is on, else 0"),
            ("stimulus_regressors", regressors, "boxcar convolved with the indicator's response kernel"),
        ):
            self.nwbfile.add_analysis(
                TimeSeries(
                    name=name,
                    data=np.ascontiguousarray(np.asarray(values, dtype=np.float32).T),
                    unit="a.u.",
                    resolution=-1.0,
                    starting_time=self.start_time_s,
                    rate=self.frame_rate_hz,
                    description=f"{text}; {description}; columns: {', '.join(labels)}",
                )
            )

    def write(self, path: str | os.PathLike) -> None:
        """Write the file under a temporary name in its folder, then rename it to `path`;
        on any error the temporary file is removed and `path` is left as it was."""
        from pynwb import NWBHDF5IO

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp.nwb")
        os.close(fd)
        try:
            with NWBHDF5IO(tmp, mode="w") as io:
                io.write(self.nwbfile)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def json_text(data) -> str:
    """Compact, key-sorted JSON (for parameters stored in the file's metadata)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)

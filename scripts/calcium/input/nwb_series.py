"""NWB series discovery: which series of an .nwb file holds a session's traces, and what it holds.

The series named in the sheet (or the first default present), its time axis, frame rate and start
(from `rate` or `timestamps`), the ROIs kept (`iscell`) and the neuropil series beside it, all
found from the file's metadata without reading the traces. Files are opened read-only with pynwb
(`open_nwb`), imported only when a file is opened.

Clock: every time in an NWB file is in seconds since the file's ``session_start_time``; a
series' ``start_time_s`` is the time of its first frame on that clock.

Errors about the input are :class:`calcium.errors.InputError` and name the file and the series.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from calcium.errors import InputError
from calcium.input.clock import fit_clock


def in_percent(unit) -> bool:
    """Whether a series' unit says percent ("%", "dF/F (%)", "percent", "percentage", "pct",
    "fractional change (%)", "% of baseline (baseline = 100 %)"). Not when it says it is not
    ("dF/F (fraction, not %)", "not a percentage", "no %", "non-percent", "without %") or that
    1 is 100 % ("1 = 100 %", "100% = 1.0", "percent/100")."""
    text = " ".join(str(unit or "").strip().lower().split())
    percent = r"(?:%|percent(?:age)?|pct)"
    negated = rf"\b(?:not|no|non|without|never)\b[\s-]*(?:(?:a|an|in)\s+)?{percent}"
    one_is_all = (
        rf"(?<![\w.])1(?:\.0*)?\s*=+\s*100\s*{percent}|(?<![\w.])100\s*{percent}\s*=+\s*1(?:\.0*)?(?![\d.])"
        rf"|{percent}\)?\s*/\s*100\b"
    )
    if re.search(negated, text) or re.search(one_is_all, text):
        return False
    return "%" in text or bool(re.search(r"\b(?:percent(?:age)?|pct)\b", text))


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
def open_nwb(path: str | os.PathLike, what: str) -> Iterator:
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


def resolve(nwbfile, name: str):
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


def all_series(nwbfile) -> list[str]:
    from pynwb.ophys import RoiResponseSeries

    found = [_object_path(o) for o in nwbfile.objects.values() if isinstance(o, RoiResponseSeries)]
    return sorted(found)


def find_series(nwbfile, path: Path, series: str | None, input_kind: str) -> tuple[object, str]:
    """The series named in the sheet, or the first of DEFAULT_SERIES[input_kind] present."""
    from pynwb import TimeSeries

    available = all_series(nwbfile)
    listing = ", ".join(available) if available else "none"
    if series:
        found = resolve(nwbfile, series)
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
        found = resolve(nwbfile, candidate)
        if isinstance(found, TimeSeries):
            return found, candidate
    container = f"processing/ophys/{DEFAULT_CONTAINER[input_kind]}/"
    inside = [name for name in available if name.startswith(container)]
    if len(inside) == 1:
        return resolve(nwbfile, inside[0]), inside[0]
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
    # (dropped frames, pauses), which no single rate describes, or that shift for good by more than
    # half a frame (one frame dropped mid-recording strays by only half a frame from any fit).
    clock = fit_clock(stamps)  # the least-squares rate, as for a CSV's time column
    drift = clock.drift_s.max()
    if clock.break_at is not None:
        k = clock.break_at
        step = stamps[k] - stamps[k - 1]
        raise InputError(
            f"{path}: series {name}: its timestamps are irregular (timestamp {k}, counted from 0, "
            f"follows a step of {step:.6g} s, {step * rate:.3g} frames at the mean rate {rate:.6g} "
            "Hz: dropped frames or a pause); split the recording there."
        )
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
        found = resolve(nwbfile, candidate)
        if found is None:
            return None, None
        spec = candidate
    else:
        found = resolve(nwbfile, spec)
        if found is None:
            raise InputError(
                f"{path}: neuropil series {spec!r} not found (series in the file: "
                f"{', '.join(all_series(nwbfile)) or 'none'}); fix the sheet's `nwb_neuropil_series`."
            )
    if tuple(found.data.shape) != tuple(series.data.shape):
        raise InputError(
            f"{path}: neuropil series {spec} has shape {tuple(found.data.shape)} but series {name} "
            f"{tuple(series.data.shape)}; they must match."
        )
    return found, spec.strip("/")


def describe_series(nwbfile, path, series, input_kind, neuropil_series, cells_only):
    """(info, series, neuropil series or None, positions of the kept ROIs on the data's ROI axis) of
    the session's series in an open `nwbfile`; arguments as for `calcium.input.nwb.check_nwb_session`."""
    found, name = find_series(nwbfile, path, series, input_kind)
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
    if input_kind == "dff" and in_percent(found.unit):
        notes.append("ΔF/F in percent (its unit): divided by 100 to the fraction the workflow takes")
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

"""NWB (Neurodata Without Borders) input: a session's traces and ROI masks from an .nwb file.

Reading: a session's traces come from one series of an .nwb file (a
``RoiResponseSeries`` as Suite2p, CaImAn and neuroconv write them), opened
read-only with pynwb and read in blocks of ROIs, never whole. Traces are
returned as (neurons, frames) float32 in the series' unit (data · conversion +
offset), whichever way round the file stores them.

Finding the series is in `nwb_series`; stimulus intervals, session metadata and start times in
`nwb_tables`; writing the workflow's results as NWB in `calcium.outputs.nwb`.

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
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from calcium.input.nwb_series import NwbSeriesInfo, describe_series, in_percent, open_nwb
from calcium.input.nwb_tables import read_intervals


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
    with open_nwb(path, f"series {series}" if series else "the default series") as nwbfile:
        info = describe_series(nwbfile, path, series, input_kind, neuropil_series, cells_only)[0]
        if stimulus_intervals:
            read_intervals(nwbfile, path, stimulus_intervals)
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


def _scale(series, input_kind: str = "raw") -> tuple[float, float]:
    """(conversion, offset) of a series: data · conversion + offset in its unit; ΔF/F in percent
    (unit "%" or "percent") is brought to the fraction the workflow takes (÷ 100)."""
    conversion, offset = float(series.conversion), float(getattr(series, "offset", 0.0) or 0.0)
    if input_kind == "dff" and in_percent(getattr(series, "unit", "")):
        return conversion / 100.0, offset / 100.0
    return conversion, offset


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
    with open_nwb(path, f"series {series}" if series else "the default series") as nwbfile:
        info, found, neuropil, positions = describe_series(
            nwbfile, path, series, input_kind, neuropil_series, cells_only
        )
        traces = NwbTraces(
            found.data,
            info.time_axis,
            positions,
            _scale(found, input_kind),
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
    with open_nwb(path, f"series {series}" if series else "the default series") as nwbfile:
        info, found, _, _ = describe_series(nwbfile, path, series, input_kind, None, cells_only)
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

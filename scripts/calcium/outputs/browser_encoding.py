"""The session browser's encoding: how traces, events and tables fit in one page.

Every per-neuron trace is stored either at full resolution (one value per frame) or, when the
session is too large for the page's size budget (`choose_resolution`), as a min/max envelope
(each column of k consecutive frames keeps its minimum and its maximum, in the order they
occur, so a spike is never hidden); values are quantised per trace (int16 at full
resolution, uint8 in an envelope) with a per-trace offset and scale; frame lists are
delta-encoded; everything is packed into one buffer, deflate-compressed (zlib) and
base64-encoded (`pack`). Pure: arrays in, arrays and bytes out.
"""

from __future__ import annotations

import base64
import json
import math
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

MISSING_INT16 = -32768  # code of a missing (non-finite) value in an int16 trace
MISSING_UINT8 = 255  # code of a missing value in a uint8 trace
INT16_LEVELS = 65534  # codes -32767..32767
UINT8_LEVELS = 254  # codes 0..254
MIN_COLUMNS = 200  # an envelope narrower than this is refused (too coarse to read)
ZLIB_LEVEL = 6
PAGE_MARGIN_BYTES = 65_536  # reserve for the manifest and rounding in the size rule

# flag bits of an event
EXCEEDS_MAX_FWHM = 1
BELOW_MIN_FWHM = 2


@dataclass(frozen=True)
class Resolution:
    """How the dense traces are stored.

    frames_per_column: 1 = every frame is stored; k > 1 = min/max envelope of k-frame columns.
    n_slots: values stored per trace (n_frames, or 2 per column).
    dtype: "int16" (full resolution) or "uint8" (envelope, or full resolution that only fits so).
    """

    frames_per_column: int
    n_slots: int
    dtype: str

    @property
    def full(self) -> bool:
        return self.frames_per_column == 1


def dense_bytes(n_neurons: int, n_traces: int, n_slots: int, dtype: str, shared_rows: int = 0) -> int:
    """Bytes (uncompressed) of the dense traces: codes, a float64 offset and scale per trace,
    and `shared_rows` float32 rows (e.g. stimulus regressors) of n_slots values."""
    width = np.dtype(dtype).itemsize
    return n_neurons * n_traces * (16 + n_slots * width) + 4 * shared_rows * n_slots


def envelope_columns(n_frames: int, frames_per_column: int) -> int:
    """Number of columns of an envelope of `frames_per_column`-frame columns."""
    return -(-n_frames // frames_per_column)


def choose_resolution(
    n_neurons: int,
    n_frames: int,
    n_traces: int,
    budget_bytes: int,
    shared_rows: int = 0,
    min_columns: int = MIN_COLUMNS,
) -> Resolution:
    """The size rule: the finest storage of the dense traces that fits `budget_bytes`.

    1. Full resolution, int16 codes (error ≤ range/131068), if it fits.
    2. Otherwise uint8 codes (error ≤ range/508, about a pixel of a 250-pixel panel), every
       frame if that fits, else a min/max envelope with the largest number of columns W that
       fits (k = ceil(n_frames / W) frames per column, 2 values per column).
    Sizes are counted before compression (compression only makes the page smaller), with
    `dense_bytes`. n_neurons, n_frames, n_traces: counts; budget_bytes: bytes;
    shared_rows: float32 rows of n_slots values stored once (regressors).
    Raises ValueError if even `min_columns` (default 200) columns do not fit.
    """
    if n_frames < 1 or n_neurons < 1:
        raise ValueError("a session needs at least one neuron and one frame")
    if dense_bytes(n_neurons, n_traces, n_frames, "int16", shared_rows) <= budget_bytes:
        return Resolution(1, n_frames, "int16")
    if dense_bytes(n_neurons, n_traces, n_frames, "uint8", shared_rows) <= budget_bytes:
        return Resolution(1, n_frames, "uint8")
    per_slot = n_neurons * n_traces + 4 * shared_rows
    max_slots = (budget_bytes - 16 * n_neurons * n_traces) // per_slot
    columns = max_slots // 2
    if columns < min_columns:
        need = dense_bytes(n_neurons, n_traces, 2 * min_columns, "uint8", shared_rows)
        raise ValueError(
            f"the browser page cannot hold {n_neurons} neurons x {n_traces} traces: even "
            f"{min_columns} columns per trace need {need / 1e6:.1f} MB of the "
            f"{max(budget_bytes, 0) / 1e6:.1f} MB left for traces; raise browser.max_mb"
        )
    k = -(-n_frames // columns)
    return Resolution(k, 2 * envelope_columns(n_frames, k), "uint8")


def min_max_envelope(traces: np.ndarray, frames_per_column: int) -> np.ndarray:
    """Min/max envelope: each column of k frames becomes its minimum and its maximum, in the
    order in which they occur (so a line through them follows the trace's shape).

    traces: (neurons, frames) any units. frames_per_column: k ≥ 1 (1 returns the traces).
    The last column holds the remaining frames. NaN are ignored (a column of NaN stays NaN).
    Returns (neurons, 2 * ceil(frames / k)) float64.
    """
    x = np.asarray(traces)
    if x.ndim != 2:
        raise ValueError(f"traces must be 2-D (neurons, frames), got shape {x.shape}")
    k = int(frames_per_column)
    if k < 1:
        raise ValueError(f"frames_per_column must be ≥ 1, got {k}")
    if k == 1:
        return x.astype(np.float64)
    n, t = x.shape
    full = t // k
    out = np.empty((n, envelope_columns(t, k), 2))
    # A sum is NaN if any value is (or if +inf meets -inf: then the NaN path is merely slower).
    with np.errstate(invalid="ignore", over="ignore"):
        has_nan = x.dtype.kind == "f" and bool(np.isnan(np.sum(x)))
    # Whole columns as a view (no copy, in the input's precision: the values are only picked),
    # the last partial column on its own.
    if full:
        _envelope_columns(x[:, : full * k].reshape(n, full, k), out[:, :full], has_nan)
    if full * k < t:
        _envelope_columns(x[:, full * k :].reshape(n, 1, t - full * k), out[:, full:], has_nan)
    return out.reshape(n, -1)


def _envelope_columns(blocks: np.ndarray, out: np.ndarray, has_nan: bool) -> None:
    """Each column's (first, second) of min and max in time order, into out (n, columns, 2)."""
    if has_nan:  # NaN ignored: +inf / -inf in their place (a column of NaN gives NaN below)
        missing = np.isnan(blocks)
        low_at = np.argmin(np.where(missing, np.inf, blocks), axis=2)
        high_at = np.argmax(np.where(missing, -np.inf, blocks), axis=2)
    else:
        low_at = np.argmin(blocks, axis=2)
        high_at = np.argmax(blocks, axis=2)
    low = np.take_along_axis(blocks, low_at[..., None], axis=2)[..., 0]
    high = np.take_along_axis(blocks, high_at[..., None], axis=2)[..., 0]
    low_first = low_at <= high_at
    out[..., 0] = np.where(low_first, low, high)
    out[..., 1] = np.where(low_first, high, low)


def slot_frames(n_frames: int, frames_per_column: int) -> np.ndarray:
    """Position (in frames, fractional) at which each stored value is drawn.

    Full resolution: 0, 1, ..., n_frames-1. Envelope: the two values of a column of m frames
    starting at frame a are drawn at a + (m-1)/4 and a + 3(m-1)/4. The page computes the same
    positions; times are start_time_s + position / frame_rate_hz.
    """
    k = int(frames_per_column)
    if k == 1:
        return np.arange(n_frames, dtype=np.float64)
    starts = np.arange(0, n_frames, k, dtype=np.float64)
    sizes = np.minimum(k, n_frames - starts)
    return np.stack([starts + (sizes - 1) / 4, starts + 3 * (sizes - 1) / 4], axis=1).ravel()


def quantise(values: np.ndarray, dtype: str = "int16") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-row linear quantisation: value ≈ offset + scale * code, |error| ≤ scale / 2.

    values: (rows, n) any units; non-finite values get the missing code (MISSING_INT16 or
    MISSING_UINT8). dtype: "int16" (codes -32767..32767 around the row's mid-range) or "uint8"
    (codes 0..254 from the row's minimum). Returns codes (rows, n), offset (rows,) float64,
    scale (rows,) float64 (0 for a constant row).
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2:
        raise ValueError(f"values must be 2-D (rows, n), got shape {v.shape}")
    finite = np.isfinite(v)
    any_finite = finite.any(axis=1)
    lo = np.where(any_finite, np.min(np.where(finite, v, np.inf), axis=1, initial=np.inf), 0.0)
    hi = np.where(any_finite, np.max(np.where(finite, v, -np.inf), axis=1, initial=-np.inf), 0.0)
    if dtype == "int16":
        offset, scale, low_code, high_code, missing = (
            (lo + hi) / 2,
            (hi - lo) / INT16_LEVELS,
            -32767,
            32767,
            MISSING_INT16,
        )
    elif dtype == "uint8":
        offset, scale, low_code, high_code, missing = lo, (hi - lo) / UINT8_LEVELS, 0, 254, MISSING_UINT8
    else:
        raise ValueError(f"dtype must be 'int16' or 'uint8', got {dtype!r}")
    safe = np.where(scale > 0, scale, 1.0)[:, None]
    with np.errstate(invalid="ignore"):
        codes = np.clip(np.rint((v - offset[:, None]) / safe), low_code, high_code)
    codes = np.where(finite, codes, missing).astype(dtype)
    return codes, offset, scale


def dequantise(codes: np.ndarray, offset: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Inverse of `quantise` (what the page computes): float64, NaN where the code is missing."""
    codes = np.asarray(codes)
    missing = MISSING_INT16 if codes.dtype == np.int16 else MISSING_UINT8
    values = np.asarray(offset)[:, None] + np.asarray(scale)[:, None] * codes.astype(np.float64)
    return np.where(codes == missing, np.nan, values)


def delta_encode(frames: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Sorted frame lists of consecutive neurons as differences (compress well).

    frames: concatenated frame numbers, non-decreasing within each neuron's run;
    counts: (neurons,) how many frames each neuron has. The first value of a run is stored as
    is, every other one as the difference to the previous. Returns uint16 if every value fits,
    else uint32.
    """
    frames = np.asarray(frames, dtype=np.int64)
    counts = np.asarray(counts, dtype=np.int64)
    if counts.sum() != frames.size:
        raise ValueError(f"counts add up to {counts.sum()} but there are {frames.size} frames")
    deltas = np.diff(frames, prepend=0)
    starts = (np.cumsum(counts) - counts)[counts > 0]
    deltas[starts] = frames[starts]
    if deltas.size and deltas.min() < 0:
        raise ValueError("frames must be non-negative and sorted within each neuron")
    return deltas.astype(np.uint16 if deltas.size == 0 or deltas.max() < 2**16 else np.uint32)


def delta_decode(deltas: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Inverse of `delta_encode` (what the page computes); int64 frames."""
    total = np.cumsum(np.asarray(deltas, dtype=np.int64))
    counts = np.asarray(counts, dtype=np.int64)
    ends = np.cumsum(counts)
    before = np.zeros(counts.size, dtype=np.int64)
    nonempty = counts > 0
    starts = (ends - counts)[nonempty]
    before[nonempty] = np.where(starts > 0, total[np.maximum(starts - 1, 0)], 0)
    return total - np.repeat(before, counts)


def _json_value(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def table_json(table: pd.DataFrame) -> dict:
    """A table as {"columns": [...], "data": [[column values], ...]} (column-major), JSON-safe:
    NaN/inf become null, numpy scalars become Python ones."""
    return {
        "columns": [str(c) for c in table.columns],
        "data": [[_json_value(v) for v in table[c].tolist()] for c in table.columns],
    }


def neuron_table_json(table: pd.DataFrame, n_neurons: int) -> dict:
    """A one-row-per-neuron table re-indexed to neurons 0..n-1 (missing rows: null), as `table_json`."""
    if "neuron" not in table.columns:
        raise ValueError(f"a per-neuron table needs a 'neuron' column; it has {list(table.columns)}")
    indexed = table.drop_duplicates("neuron").set_index("neuron").reindex(np.arange(n_neurons))
    indexed.index.name = "neuron"
    return table_json(indexed.reset_index())


def json_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON (NaN refused: use `table_json`)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


_PACKABLE = {"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "float64"}


def pack(parts: dict[str, np.ndarray | bytes], level: int = ZLIB_LEVEL) -> tuple[dict, str, int]:
    """Concatenate arrays (and byte strings, e.g. JSON) into one buffer, each starting at a
    multiple of 8 bytes, deflate it (zlib format) and base64-encode it.

    parts: name -> array (little-endian uint8/int8/uint16/int16/uint32/int32/float32/float64)
    or bytes. Returns (index: name -> {offset, nbytes, dtype, shape}; payload: base64 text;
    raw size in bytes before compression).
    """
    index, chunks, offset = {}, [], 0
    for name, part in parts.items():
        if isinstance(part, (bytes, bytearray)):
            data, dtype, shape = bytes(part), "bytes", [len(part)]
        else:
            array = np.ascontiguousarray(part)
            if array.dtype.name not in _PACKABLE:
                raise ValueError(f"part {name!r}: dtype {array.dtype} cannot be packed")
            array = array.astype(array.dtype.newbyteorder("<"), copy=False)
            data, dtype, shape = array.tobytes(), array.dtype.name, list(array.shape)
        pad = -offset % 8
        chunks.append(b"\0" * pad)
        offset += pad
        index[name] = {"offset": offset, "nbytes": len(data), "dtype": dtype, "shape": shape}
        chunks.append(data)
        offset += len(data)
    raw = b"".join(chunks)
    payload = base64.b64encode(zlib.compress(raw, level)).decode("ascii")
    return index, payload, len(raw)


def unpack(index: dict, payload: str) -> dict[str, np.ndarray | bytes]:
    """Inverse of `pack` (what the page does with DecompressionStream and typed arrays)."""
    raw = zlib.decompress(base64.b64decode(payload))
    out = {}
    for name, entry in index.items():
        data = raw[entry["offset"] : entry["offset"] + entry["nbytes"]]
        if entry["dtype"] == "bytes":
            out[name] = data
        else:
            out[name] = np.frombuffer(data, dtype=np.dtype(entry["dtype"]).newbyteorder("<")).reshape(
                entry["shape"]
            )
    return out


def packed_size_bound(raw_bytes: int) -> int:
    """Largest base64 length of `raw_bytes` after zlib (stored blocks in the worst case:
    5 bytes per 16 kB block plus 6 bytes of header/trailer)."""
    compressed = raw_bytes + 5 * (raw_bytes // 16_000 + 1) + 6
    return 4 * (-(-compressed // 3))


def encode_frame_lists(
    neurons: np.ndarray, frames: np.ndarray, n_neurons: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per-neuron sorted frame lists: (counts (n_neurons,) int32, deltas from `delta_encode`)."""
    neurons = np.asarray(neurons, dtype=np.int64)
    frames = np.asarray(frames, dtype=np.int64)
    if neurons.size and (neurons.min() < 0 or neurons.max() >= n_neurons):
        raise ValueError(f"neuron ids must lie in 0..{n_neurons - 1}")
    order = np.lexsort((frames, neurons))
    counts = np.bincount(neurons, minlength=n_neurons).astype(np.int32)
    return counts, delta_encode(frames[order], counts)


def _small_uint(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.int64)
    if values.size and values.min() < 0:
        raise ValueError("event frames must satisfy onset ≤ peak ≤ end")
    return values.astype(np.uint16 if values.size == 0 or values.max() < 2**16 else np.uint32)


def encode_events(events: pd.DataFrame, n_neurons: int) -> dict[str, np.ndarray]:
    """Events as compact arrays, sorted by neuron then onset.

    events: one row per event with columns neuron, onset_frame, peak_frame, end_frame,
    amplitude_dff, fwhm_s and the flags exceeds_max_fwhm and (optional) below_min_fwhm.
    Returns parts: event_counts (int32 per neuron), event_onset (delta-coded onset frames),
    event_rise (peak - onset frames), event_fall (end - peak frames), event_amplitude_dff and
    event_fwhm_s (float32), event_flags (uint8: 1 exceeds_max_fwhm, 2 below_min_fwhm).
    """
    need = ["neuron", "onset_frame", "peak_frame", "end_frame", "amplitude_dff", "fwhm_s"]
    missing = [c for c in need if c not in events.columns]
    if missing:
        raise ValueError(f"the events table lacks columns {missing}")
    table = events.sort_values(["neuron", "onset_frame"], kind="stable")
    counts, onset = encode_frame_lists(table.neuron.to_numpy(), table.onset_frame.to_numpy(), n_neurons)
    flags = np.zeros(len(table), dtype=np.uint8)
    for column, bit in (("exceeds_max_fwhm", EXCEEDS_MAX_FWHM), ("below_min_fwhm", BELOW_MIN_FWHM)):
        if column in table.columns:
            flags |= np.where(_as_bool(table[column]), bit, 0).astype(np.uint8)
    return {
        "event_counts": counts,
        "event_onset": onset,
        "event_rise": _small_uint(table.peak_frame.to_numpy() - table.onset_frame.to_numpy()),
        "event_fall": _small_uint(table.end_frame.to_numpy() - table.peak_frame.to_numpy()),
        "event_amplitude_dff": table.amplitude_dff.to_numpy(dtype=np.float32),
        "event_fwhm_s": table.fwhm_s.to_numpy(dtype=np.float32),
        "event_flags": flags,
    }


def _as_bool(column: pd.Series) -> np.ndarray:
    if column.dtype == bool:
        return column.to_numpy()
    return column.astype(str).str.strip().str.lower().isin(["true", "1", "yes"]).to_numpy()

"""The session browser: one self-contained HTML page per session.

Model: every per-neuron trace is stored either at full resolution (one value per frame) or,
when the session is too large for the page's size budget, as a min/max envelope (each column
of k consecutive frames keeps its minimum and its maximum, in the order they occur, so a spike
is never hidden); values are quantised per trace (int16 at full resolution, uint8 in an
envelope) with a per-trace offset and scale, packed into one buffer, deflate-compressed (zlib)
and base64-encoded into the page, which inflates them with the browser's DecompressionStream.

Everything here is pure: arrays and tables in, strings and arrays out; no file I/O and no
Snakemake (the rule script reads the outputs and the page's template and assets).
"""

from __future__ import annotations

import base64
import json
import math
import re
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from calcium.outputs.htmlsafe import html_text, script_safe_json
from calcium.outputs.palette import browser_palette
from calcium.progress import Progress, track

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


@dataclass
class DenseTrace:
    """One per-neuron trace of the page.

    key: its id in the page (raw, f0, dff, detrended, denoised, calcium, spikes).
    label: legend name; unit: y-axis label.
    rows: (neurons, frames) array-like whose row slices rows[a:b] give arrays (an array, a
        memory map, or a reader that loads only those rows).
    """

    key: str
    label: str
    unit: str
    rows: Any


@dataclass
class SessionData:
    """Everything the page shows, as arrays and tables (the rule script reads the files).

    session: id; frame_rate_hz: Hz; start_time_s: time of frame 0 (s).
    traces: the dense traces (same shape, neurons x frames).
    f0: (neurons,) resting fluorescence when F0 is one value per neuron (raw sessions with a
        whole-recording F0), else None (a sliding F0 is a DenseTrace "f0").
    labels: (neurons,) neuron labels (strings).
    spikes: table neuron, frame (spike times).
    events: see `encode_events`.
    neuron_tables: name -> one-row-per-neuron table with a neuron column (features,
        regression, event thresholds, deconvolution), shown for the selected neuron.
    roles: which trace key the events were detected on ("events"), the regression was fitted
        on ("stimulus") and OASIS deconvolved ("deconvolution"); "event_time": onset or peak,
        the time that places an event in a coactivity bin (the raster's ticks).
    stimuli: presentations (stimulus, onset_s, offset_s) or None; regressors: stimulus ->
        (frames,) regressor; regression: one row per neuron with intercept_dff and
        coef_<stimulus> (fit = intercept + sum coef * regressor) or None.
    ensembles, ensemble_events, ensemble_members: the ensemble tables (or None).
    coactivity: the tested coactivity per bin (neurons active within the jitter window; or
        None), coactivity_start_s: each bin's start (s), coactivity_bin_s: bin width (s),
        coactivity_threshold: the null threshold (neurons; pooled), coactivity_thresholds:
        (n_bins,) each bin's own threshold (bins holding different numbers of frames have
        their own), coactivity_p: (n_bins,) P(null ≥ observed) of each bin
        (`calcium.population.coactivity.null_exceedance`), null_fraction: (k,) fraction of the null's
        bins (all kinds pooled) with 0..k-1 active neurons, as the coactivity figure shows it;
        coactivity_label: what the coactivity counts (legend); coactivity_n_shuffles: shuffles
        of the null.
    raster_orders: {name: {"order": neuron per row, "groups": [{label, first, count}]}}
        (`calcium.population.ordering.raster_orders`), the raster's row orders (or None).
    trials: the trial table (stimulus/trial_responses.csv: neuron, stimulus, trial, onset_s,
        response_dff, baseline_dff) or None; trial_window_s: [start, end] s around each onset
        of the trial view's traces.
    footprints: `calcium.input.footprints.Footprints` of the ROIs (the ROI map), or None/empty:
        the map then says why there is none.
    notes: shown in the page's manifest ("warning": a line shown above the charts).
    """

    session: str
    frame_rate_hz: float
    start_time_s: float
    traces: list[DenseTrace]
    labels: list[str]
    spikes: pd.DataFrame
    events: pd.DataFrame
    f0: np.ndarray | None = None
    neuron_tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    stimuli: pd.DataFrame | None = None
    regressors: dict[str, np.ndarray] | None = None
    regression: pd.DataFrame | None = None
    ensembles: pd.DataFrame | None = None
    ensemble_events: pd.DataFrame | None = None
    ensemble_members: pd.DataFrame | None = None
    coactivity: np.ndarray | None = None
    coactivity_start_s: np.ndarray | None = None
    coactivity_bin_s: float | None = None
    coactivity_threshold: float | None = None
    coactivity_thresholds: np.ndarray | None = None
    coactivity_p: np.ndarray | None = None
    null_fraction: np.ndarray | None = None
    coactivity_label: str = "neurons active per bin"
    coactivity_n_shuffles: int | None = None
    raster_orders: dict[str, dict] | None = None
    trials: pd.DataFrame | None = None
    trial_window_s: tuple[float, float] | None = None
    footprints: Any = None
    notes: dict[str, Any] = field(default_factory=dict)


# Most of the page (fraction of max_bytes, raw) the per-trial amplitudes may take.
TRIAL_SHARE = 0.25


def roi_map_manifest(footprints) -> dict:
    """What the page says about its ROI map: the field's shape and source, or why there is none."""
    from calcium.outputs.roimap import NO_DATA_NOTE, field_shape

    if footprints is None or footprints.empty:
        return {"height": 0, "width": 0, "source": "none", "note": NO_DATA_NOTE}
    height, width = field_shape(footprints)
    note = "" if footprints.mean_image.size else "no mean image in the input: ROIs on black"
    return {"height": height, "width": width, "source": footprints.source, "note": note}


def trial_parts(trials: pd.DataFrame, n_neurons: int) -> dict:
    """The trial table as the page stores it: the presentations (stimulus, trial, onset_s; in
    the table's order) and "arrays": response_dff and baseline_dff, (neurons x presentations)
    float32 each, row-major, NaN where the table has no row."""
    keys = trials[["stimulus", "trial", "onset_s"]].drop_duplicates(["stimulus", "trial"])
    column = {(str(s), int(t)): k for k, (s, t) in enumerate(zip(keys.stimulus, keys.trial, strict=True))}
    where = np.array(
        [column[(str(s), int(t))] for s, t in zip(trials.stimulus, trials.trial, strict=True)], dtype=np.int64
    )
    arrays = []
    for name in ("response_dff", "baseline_dff"):
        values = np.full((n_neurons, len(keys)), np.nan, dtype=np.float32)
        values[trials.neuron.to_numpy(dtype=np.int64), where] = trials[name].to_numpy(dtype=np.float32)
        arrays.append(values.ravel())
    return {
        "stimulus": [str(s) for s in keys.stimulus],
        "trial": [int(t) for t in keys.trial],
        "onset_s": [float(t) for t in keys.onset_s],
        "arrays": arrays,
    }


def _table_parts(
    data: SessionData, n_neurons: int, n_frames: int, trial_amplitudes: bool = True
) -> dict[str, np.ndarray | bytes]:
    parts: dict[str, np.ndarray | bytes] = {}
    counts, deltas = encode_frame_lists(
        data.spikes.neuron.to_numpy(), data.spikes.frame.to_numpy(), n_neurons
    )
    parts["spike_counts"], parts["spike_frames"] = counts, deltas
    parts.update(encode_events(data.events, n_neurons))
    if data.f0 is not None:
        parts["f0"] = np.asarray(data.f0, dtype=np.float64).reshape(n_neurons)
    if data.coactivity is not None:
        parts["coactivity"] = np.asarray(data.coactivity, dtype=np.float32)
        if data.coactivity_start_s is not None:
            parts["coactivity_start_s"] = np.asarray(data.coactivity_start_s, dtype=np.float64)
        for name in ("coactivity_thresholds", "coactivity_p", "null_fraction"):
            if getattr(data, name) is not None:
                parts[name] = np.asarray(getattr(data, name), dtype=np.float64)
    for name, order in (data.raster_orders or {}).items():
        parts[f"order_{name}"] = np.asarray(order["order"], dtype=np.int32)
    if data.footprints is not None and not data.footprints.empty:
        from calcium.outputs.roimap import grey_image, label_image

        parts["roi_label"] = label_image(data.footprints, n_neurons).ravel()
        parts["mean_image"] = grey_image(data.footprints).ravel()
    shown_trials = None
    if data.trials is not None:
        shown_trials = trial_parts(data.trials, n_neurons)
        arrays = shown_trials.pop("arrays")
        if trial_amplitudes:
            parts["trial_response"], parts["trial_baseline"] = arrays
    tables = {name: neuron_table_json(table, n_neurons) for name, table in data.neuron_tables.items()}
    if data.regression is not None:
        tables["regression"] = neuron_table_json(data.regression, n_neurons)
    others = {
        "stimuli": data.stimuli,
        "ensembles": data.ensembles,
        "ensemble_events": data.ensemble_events,
        "ensemble_members": data.ensemble_members,
    }
    parts["tables"] = json_bytes(
        {
            "labels": [str(label) for label in data.labels],
            "raster_orders": {name: order["groups"] for name, order in (data.raster_orders or {}).items()},
            "trial_presentations": shown_trials,
            "neuron_tables": tables,
            **{name: (table_json(t) if t is not None else None) for name, t in others.items()},
        }
    )
    return parts


def _dense_parts(
    data: SessionData, resolution: Resolution, block_neurons: int, workers: int = 1
) -> dict[str, np.ndarray]:
    n_neurons = data.traces[0].rows.shape[0]
    parts: dict[str, np.ndarray] = {}
    for trace in data.traces:
        parts[f"trace_{trace.key}"] = np.empty((n_neurons, resolution.n_slots), dtype=resolution.dtype)
        parts[f"trace_{trace.key}_offset"] = np.empty(n_neurons)
        parts[f"trace_{trace.key}_scale"] = np.empty(n_neurons)

    def decimate(rows: slice) -> None:  # one block of neurons of every trace
        for trace in data.traces:
            block = min_max_envelope(np.asarray(trace.rows[rows]), resolution.frames_per_column)
            codes, offset, scale = quantise(block, resolution.dtype)
            parts[f"trace_{trace.key}"][rows] = codes
            parts[f"trace_{trace.key}_offset"][rows] = offset
            parts[f"trace_{trace.key}_scale"][rows] = scale

    blocks = [slice(a, min(a + block_neurons, n_neurons)) for a in range(0, n_neurons, block_neurons)]
    with Progress(len(blocks), f"browser traces ({n_neurons} neurons)", "blocks") as progress:
        if workers > 1 and len(blocks) > 1:
            # Threads: reading and numpy's reductions run without the GIL; each block writes its
            # own rows, so the result does not depend on the order in which blocks finish.
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(min(workers, len(blocks))) as pool:
                list(track(pool.map(decimate, blocks), progress))
        else:
            for rows in track(blocks, progress):
                decimate(rows)
    if data.regressors:
        n_frames = data.traces[0].rows.shape[1]
        at = slot_frames(n_frames, resolution.frames_per_column)
        for name, regressor in data.regressors.items():
            parts[f"regressor_{name}"] = np.interp(at, np.arange(n_frames), regressor).astype(np.float32)
    return parts


_PLACEHOLDER = re.compile(r"/\*@(\w+)@\*/")


def render_page(template: str, fields: dict[str, str]) -> str:
    """Fill the template's /*@NAME@*/ placeholders in one pass (text inserted is not searched
    again). Every placeholder must be given; text placed inside <script> must not contain
    "</script" (JSON is escaped with `script_json`)."""
    found = set(_PLACEHOLDER.findall(template))
    if found != set(fields):
        raise ValueError(f"template placeholders {sorted(found)} do not match fields {sorted(fields)}")
    for name, text in fields.items():
        if "</script" in text.lower():
            raise ValueError(f"field {name} contains '</script' and would end its script element")
    return _PLACEHOLDER.sub(lambda m: fields[m.group(1)], template)


def script_json(value: Any) -> str:
    """JSON safe to place inside a <script> element: no <, > or & (escaped as \\u003c, ...), so
    no label or note can end the element, open a comment or change how the page is parsed."""
    return script_safe_json(json.dumps(value, separators=(",", ":"), allow_nan=False))


def build_page(
    data: SessionData,
    template: str,
    assets: dict[str, str],
    max_bytes: int = 95_000_000,
    block_neurons: int = 256,
    workers: int = 1,
) -> tuple[str, dict]:
    """The session browser page: one HTML string with code and data inline.

    data: the session (see SessionData); template: the page with /*@NAME@*/ placeholders
    (TITLE, STYLE, SCRIPT, MANIFEST, DATA_TABLES, DATA_TRACES); assets: "style" and "script"
    text (uPlot and the page's code). max_bytes: the page's size limit in bytes (UTF-8);
    block_neurons: neurons decimated at a time (bounds memory: a block of every trace per
    worker); workers: threads decimating blocks (the page does not depend on it).
    The exact parts (events, spike times, tables) are packed first; the dense traces get the
    rest of the budget through `choose_resolution`. Returns (html, info: resolution and sizes).
    """
    if not data.traces:
        raise ValueError("the page needs at least one dense trace")
    n_neurons, n_frames = data.traces[0].rows.shape
    for trace in data.traces:
        if tuple(trace.rows.shape) != (n_neurons, n_frames):
            raise ValueError(
                f"trace {trace.key} has shape {trace.rows.shape}, expected {(n_neurons, n_frames)}"
            )
    if len(data.labels) != n_neurons:
        raise ValueError(f"{len(data.labels)} labels for {n_neurons} neurons")
    amplitudes = (
        data.trials is None
        or 8 * n_neurons * len(data.trials[["stimulus", "trial"]].drop_duplicates())
        <= max_bytes * TRIAL_SHARE
    )  # else they would crowd out the traces: the trial view draws traces only
    notes = (
        data.notes
        if amplitudes
        else {**data.notes, "trials": "per-trial amplitudes left out (browser.max_mb)"}
    )
    table_index, table_payload, table_raw = pack(_table_parts(data, n_neurons, n_frames, amplitudes))
    fixed = len(template.encode()) + sum(len(text.encode()) for text in assets.values())
    left = max_bytes - fixed - len(table_payload) - PAGE_MARGIN_BYTES
    raw_budget = (3 * left) // 4 - 5 * (left // 16_000 + 1) - 6 if left > 0 else 0
    n_regressors = len(data.regressors) if data.regressors else 0
    resolution = choose_resolution(n_neurons, n_frames, len(data.traces), raw_budget, n_regressors)
    trace_index, trace_payload, trace_raw = pack(_dense_parts(data, resolution, block_neurons, workers))
    manifest = {
        "session": data.session,
        "n_neurons": int(n_neurons),
        "n_frames": int(n_frames),
        "frame_rate_hz": float(data.frame_rate_hz),
        "start_time_s": float(data.start_time_s),
        "resolution": {
            "frames_per_column": resolution.frames_per_column,
            "n_slots": resolution.n_slots,
            "dtype": resolution.dtype,
            "missing": MISSING_INT16 if resolution.dtype == "int16" else MISSING_UINT8,
        },
        "traces": [{"key": t.key, "label": t.label, "unit": t.unit} for t in data.traces],
        "regressors": list(data.regressors) if data.regressors else [],
        "roles": data.roles,
        "coactivity": {
            "bin_s": data.coactivity_bin_s,
            "threshold": data.coactivity_threshold,
            "label": data.coactivity_label,
            "n_shuffles": data.coactivity_n_shuffles,
        },
        "flags": {"exceeds_max_fwhm": EXCEEDS_MAX_FWHM, "below_min_fwhm": BELOW_MIN_FWHM},
        "has_below_min_fwhm": bool("below_min_fwhm" in data.events.columns),
        "notes": notes,
        "palette": browser_palette(),
        "trial_window_s": list(data.trial_window_s) if data.trial_window_s else None,
        "roi_map": roi_map_manifest(data.footprints),
        "groups": {"tables": table_index, "traces": trace_index},
    }
    html = render_page(
        template,
        {
            "TITLE": f"Session {_html_text(data.session)}: browser",
            "STYLE": assets["style"],
            "SCRIPT": assets["script"],
            "MANIFEST": script_json(manifest),
            "DATA_TABLES": table_payload,
            "DATA_TRACES": trace_payload,
        },
    )
    size = len(html.encode())
    info = {
        "resolution": resolution,
        "page_bytes": size,
        "tables_raw_bytes": table_raw,
        "tables_page_bytes": len(table_payload),
        "traces_raw_bytes": trace_raw,
        "traces_page_bytes": len(trace_payload),
        "traces_budget_bytes": raw_budget,
    }
    if size > max_bytes:  # cannot happen by the size rule; a guard against a wrong bound
        raise AssertionError(f"page of {size} bytes exceeds max_bytes {max_bytes}")
    return html, info


def _html_text(text: str) -> str:
    return html_text(text)

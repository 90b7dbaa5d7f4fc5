"""The session browser: one self-contained HTML page per session.

`SessionData` holds everything the page shows (arrays and tables); `build_page` stores it in
the page within the size budget (`calcium.outputs.browser_encoding`: full-resolution or
min/max-envelope traces, quantised, packed and compressed) and fills the page's template;
`calcium.outputs.browser_session` gathers a session's data from its results folder.

Everything here is pure: arrays and tables in, strings and arrays out; no file I/O and no
Snakemake (the rule script reads the outputs and the page's template and assets).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from calcium.outputs.browser_encoding import (
    BELOW_MIN_FWHM,
    EXCEEDS_MAX_FWHM,
    MISSING_INT16,
    MISSING_UINT8,
    PAGE_MARGIN_BYTES,
    Resolution,
    choose_resolution,
    encode_events,
    encode_frame_lists,
    json_bytes,
    min_max_envelope,
    neuron_table_json,
    pack,
    quantise,
    slot_frames,
    table_json,
)
from calcium.outputs.browser_views import roi_map_manifest, trial_parts
from calcium.outputs.htmlsafe import html_text, script_safe_json
from calcium.outputs.palette import browser_palette
from calcium.progress import Progress, track


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
    ensembles, ensemble_events, ensemble_activation_times, ensemble_members: the ensemble tables
        (or None).
    coactivity: the tested coactivity per bin (neurons active within the jitter window; or
        None), coactivity_start_s: each bin's start (s), coactivity_bin_s: bin width (s),
        coactivity_threshold: the null threshold (neurons; pooled), coactivity_thresholds:
        (n_bins,) each bin's own threshold (bins holding different numbers of frames have
        their own), coactivity_p: (n_bins,) P(null ≥ observed) of each bin
        (`calcium.population.null.null_exceedance`), null_fraction: (k,) fraction of the null's
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
    trial_gaps_s: a session cut into trials: (spans, 2) [start, stop) in s of its gaps between
        trials and (start == stop) of its boundaries with no gap
        (`calcium.input.trial_structure.gap_spans_s`), marked on every time axis as the figures
        mark them; None (a continuous session): nothing stored, nothing drawn.
    trial_bounds: a session cut into trials: (trials, 2) first and one-past-last frame of each
        trial; the trial view draws each presentation's window within its onset's trial only
        (as `calcium.stimulus.trial_responses.peri_stimulus`); None: a continuous session.
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
    ensemble_activation_times: pd.DataFrame | None = None
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
    trial_gaps_s: np.ndarray | None = None
    trial_bounds: np.ndarray | None = None
    notes: dict[str, Any] = field(default_factory=dict)


# Most of the page (fraction of max_bytes, raw) the per-trial amplitudes may take.
TRIAL_SHARE = 0.25


def _table_parts(
    data: SessionData, n_neurons: int, n_frames: int, trial_amplitudes: bool = True
) -> dict[str, np.ndarray | bytes]:
    parts: dict[str, np.ndarray | bytes] = {}
    counts, deltas = encode_frame_lists(
        data.spikes.neuron.to_numpy(), data.spikes.frame.to_numpy(), n_neurons
    )
    parts["spike_counts"], parts["spike_frames"] = counts, deltas
    parts.update(encode_events(data.events, n_neurons))
    if data.trial_gaps_s is not None:
        parts["trial_gaps_s"] = np.asarray(data.trial_gaps_s, dtype=np.float64).reshape(-1, 2).ravel()
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
        shown_trials = trial_parts(
            data.trials, n_neurons, data.trial_bounds, n_frames, data.frame_rate_hz, data.start_time_s
        )
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
        "ensemble_activation_times": data.ensemble_activation_times,
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
    n_neurons, n_frames = _session_shape(data)
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
    manifest = _manifest(data, resolution, notes, {"tables": table_index, "traces": trace_index})
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


def _session_shape(data: SessionData) -> tuple[int, int]:
    """(neurons, frames) of the session's dense traces; ValueError when the traces or the
    labels do not agree on them."""
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
    return int(n_neurons), int(n_frames)


def _manifest(data: SessionData, resolution: Resolution, notes: dict, groups: dict) -> dict:
    """What the page's code reads first: the session's shape and clock, how its traces are
    stored (resolution), names, roles, the coactivity's null, notes, palette, and where each
    packed group (tables, traces) lies in the payloads."""
    n_neurons, n_frames = _session_shape(data)
    return {
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
        "groups": groups,
    }


def _html_text(text: str) -> str:
    return html_text(text)

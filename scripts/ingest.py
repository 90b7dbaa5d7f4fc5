"""Validate a session's fluorescence (CSV, .npy, Suite2p folder or NWB series) once; store it as
float32 .npy (neurons x frames)."""

import contextlib
from pathlib import Path

import numpy as np
import pandas as pd

from calcium.io import (
    InputError,
    TableLayout,
    interpolate_missing,
    npy_writer,
    read_fluorescence_csv,
    read_fluorescence_npy,
    read_npy_rows,
    read_suite2p,
    save_json,
    save_table,
)
from calcium.logs import log_to, reported_errors

log = log_to(snakemake.log[0])
session = snakemake.wildcards.session
layout = snakemake.params.layout
frame_rate_hz = snakemake.params.frame_rate_hz
source = Path(snakemake.input[0])
allow_missing = layout["missing_values"] == "interpolate"
start_time_s = 0.0  # time of the first frame (s); from the file for NWB input

with reported_errors(log, f"session {session}"), contextlib.ExitStack() as open_files:
    if source.suffix.lower() == ".nwb":
        from calcium.nwb import open_nwb_traces

        traces, info = open_files.enter_context(
            open_nwb_traces(
                source,
                series=snakemake.params.nwb["series"] or None,
                input_kind=snakemake.params.input_kind,
                neuropil_series=snakemake.params.nwb["neuropil_series"] or None,
                neuropil_coefficient=layout["neuropil_coefficient"],
                cells_only=layout["suite2p_cells_only"],
            )
        )
        labels, notes, start_time_s = info.labels, info.notes, info.start_time_s
        if abs(info.frame_rate_hz - frame_rate_hz) > 1e-9 * frame_rate_hz:
            raise InputError(
                f"{source}: series {info.series} is sampled at {info.frame_rate_hz:.9g} Hz, not the "
                f"{frame_rate_hz:.9g} Hz the session sheet resolved; run the workflow again."
            )
    elif source.is_dir():
        traces, labels = read_suite2p(source, layout["neuropil_coefficient"], layout["suite2p_cells_only"])
        notes = [f"Suite2p folder: F - {layout['neuropil_coefficient']} x Fneu, {len(labels)} ROIs"]
    elif source.suffix == ".npy":
        traces = read_fluorescence_npy(source, layout["orientation"])
        labels, notes = None, ["binary .npy input"]
    else:
        traces, labels, notes = read_fluorescence_csv(
            source,
            TableLayout(layout["header"], layout["index_column"], layout["orientation"]),
            allow_missing=allow_missing,
        )
    n_neurons, n_frames = traces.shape
    # A plain (neurons x frames) .npy is read by offset, block by block: bounded memory.
    plain_npy = source.suffix == ".npy" and layout["orientation"] == "neurons_x_frames"
    # Copy in blocks of neurons, written straight to the file: bounded memory.
    n_filled = 0
    with npy_writer(snakemake.output.traces, (n_neurons, n_frames)) as out:
        for first in range(0, n_neurons, 256):
            rows = slice(first, first + 256)
            raw = read_npy_rows(source, rows) if plain_npy else np.asarray(traces[rows])
            raw = raw.astype(np.float32, copy=False)
            if not allow_missing and not np.isfinite(raw).all():
                i, j = np.argwhere(~np.isfinite(raw))[0]
                raise InputError(
                    f"{source}: neuron {first + i}, frame {j} is not finite; fill it in, or set "
                    "input.missing_values: interpolate in config.yaml."
                )
            block, filled = interpolate_missing(raw, first)
            out.append(block)
            n_filled += filled
log.info("%s: %d neurons x %d frames; %s", source, n_neurons, n_frames, "; ".join(notes))
if n_filled:
    log.warning("session %s: interpolated %d missing/non-finite samples", session, n_filled)

save_table(
    snakemake.output.neurons,
    pd.DataFrame({"neuron": range(n_neurons), "label": labels or [str(i) for i in range(n_neurons)]}),
)
save_json(
    snakemake.output.facts,
    {
        "session": session,
        "source": str(source),
        "input_kind": snakemake.params.input_kind,
        "n_neurons": n_neurons,
        "n_frames": n_frames,
        "frame_rate_hz": frame_rate_hz,
        "duration_s": n_frames / frame_rate_hz,
        "start_time_s": start_time_s,
        "nan_count": n_filled,
    },
)

"""Validate a session's fluorescence CSV once and store it as float32 .npy (neurons x frames)."""

import pandas as pd

from calcium.io import (
    TableLayout,
    interpolate_missing,
    read_fluorescence_csv,
    save_json,
    save_npy,
    save_table,
)
from calcium.logs import log_to, reported_errors

log = log_to(snakemake.log[0])
session = snakemake.wildcards.session
layout = snakemake.params.layout
frame_rate_hz = snakemake.params.frame_rate_hz

with reported_errors(log, f"session {session}"):
    traces, labels, notes = read_fluorescence_csv(
        snakemake.input[0],
        TableLayout(layout["header"], layout["index_column"], layout["orientation"]),
        allow_missing=layout["missing_values"] == "interpolate",
    )
    traces, n_filled = interpolate_missing(traces)
n_neurons, n_frames = traces.shape
log.info("%s: %d neurons x %d frames; %s", snakemake.input[0], n_neurons, n_frames, "; ".join(notes))
if n_filled:
    log.warning("session %s: interpolated %d missing/non-finite samples", session, n_filled)

save_npy(snakemake.output.traces, traces)
save_table(
    snakemake.output.neurons,
    pd.DataFrame({"neuron": range(n_neurons), "label": labels or [str(i) for i in range(n_neurons)]}),
)
save_json(
    snakemake.output.facts,
    {
        "session": session,
        "source": str(snakemake.input[0]),
        "input_kind": snakemake.params.input_kind,
        "n_neurons": n_neurons,
        "n_frames": n_frames,
        "frame_rate_hz": frame_rate_hz,
        "duration_s": n_frames / frame_rate_hz,
        "nan_count": n_filled,
    },
)

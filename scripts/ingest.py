"""Validate a session's fluorescence (CSV, .npy, Suite2p folder or NWB series) once; store it as
float32 .npy (neurons x frames)."""

from pathlib import Path

import pandas as pd

from calcium.input.footprints import input_footprints, save_footprints
from calcium.input.ingest import (
    InputSettings,
    NwbSelection,
    check_plausible_shape,
    checked_block,
    open_input,
    probe_input,
    recording_start_s,
)
from calcium.io import npy_writer, read_npy_rows, save_json, save_table
from calcium.logs import log_to

log = log_to(snakemake.log[0], snakemake.wildcards)
settings = InputSettings.from_config(snakemake.params.input_settings)
frame_rate_hz = snakemake.params.frame_rate_hz
source = Path(snakemake.input[0])
allow_missing = settings.missing_values == "interpolate"

nwb = NwbSelection(**snakemake.params.nwb)
shape = probe_input(source, settings, nwb)
check_plausible_shape(shape, frame_rate_hz, settings, str(source))
start_time_s = recording_start_s(shape, frame_rate_hz, str(source))
# A plain (neurons x frames) .npy is read by offset, block by block: bounded memory.
by_offset = source.suffix == ".npy" and not settings.layout.one_row_per_frame
n_filled = 0
with open_input(source, settings, nwb) as opened:
    n_neurons, n_frames = opened.rows.shape
    # Suite2p folders and NWB series with a neuropil series: Fneu of the kept ROIs, else no rows.
    neuropil_rows = getattr(opened.rows, "neuropil_rows", None)
    if neuropil_rows is not None and neuropil_rows(slice(0, 1)) is None:
        neuropil_rows = None
    with (
        npy_writer(snakemake.output.traces, (n_neurons, n_frames)) as out,
        npy_writer(snakemake.output.neuropil, (n_neurons if neuropil_rows else 0, n_frames)) as neuropil,
    ):
        for first in range(0, n_neurons, 256):
            rows = slice(first, first + 256)
            raw = read_npy_rows(source, rows) if by_offset else opened.rows[rows]
            block, filled = checked_block(raw, first, allow_missing, str(source))
            out.append(block)
            n_filled += filled
            if neuropil_rows:
                neuropil.append(neuropil_rows(rows))
layout = dict(opened.layout)
layout.setdefault("na_cells", n_filled)
log.info("%s: %d neurons x %d frames; %s", source, n_neurons, n_frames, "; ".join(opened.notes))
log.info("layout decided: %s", ", ".join(f"{key} {value}" for key, value in sorted(layout.items())))
if n_filled:
    log.warning("interpolated %d missing/non-finite samples of %s", n_filled, source)

footprints = input_footprints(source, settings, nwb)
save_footprints(snakemake.output.footprints, footprints)
log.info(
    "footprints: %d pixels of %d ROIs, mean image %s (%s)",
    footprints.roi.size,
    len(set(footprints.roi.tolist())),
    "x".join(map(str, footprints.mean_image.shape)) if footprints.mean_image.size else "none",
    footprints.source,
)

labels = opened.labels or [str(i) for i in range(n_neurons)]
save_table(snakemake.output.neurons, pd.DataFrame({"neuron": range(n_neurons), "label": labels}))
save_json(
    snakemake.output.facts,
    {
        "session": snakemake.wildcards.session,
        "source": str(source),
        "input_kind": snakemake.params.input_kind,
        "n_neurons": n_neurons,
        "n_frames": n_frames,
        "frame_rate_hz": frame_rate_hz,
        "start_time_s": start_time_s,
        "duration_s": n_frames / frame_rate_hz,
        "nan_count": n_filled,
        "layout": layout,
    },
)

"""Validate a session's fluorescence (CSV, .npy, Suite2p folder or NWB series) once; store it as
float32 .npy (neurons x frames), with its trial table (calcium.trial_structure).

A session given as several files (the sheet's `path` column, separated by ';') is read file by
file and stored as one recording, each file one trial, back to back."""

import contextlib
from pathlib import Path

import numpy as np
import pandas as pd

from calcium.errors import InputError
from calcium.footprints import input_footprints, save_footprints
from calcium.ingest import (
    InputSettings,
    InputShape,
    NwbSelection,
    check_plausible_shape,
    checked_block,
    open_input,
    probe_input,
    recording_start_s,
)
from calcium.input_tables import read_user_table
from calcium.io import npy_writer, read_npy_rows, save_json, save_table
from calcium.logs import log_to
from calcium.trial_structure import session_trials

log = log_to(snakemake.log[0], snakemake.wildcards)
settings = InputSettings.from_config(snakemake.params.input_settings)
frame_rate_hz = snakemake.params.frame_rate_hz
sources = [Path(path) for path in snakemake.input.data]
source = sources[0]
allow_missing = settings.missing_values == "interpolate"

nwb = NwbSelection(**snakemake.params.nwb)
shapes = [probe_input(path, settings, nwb) for path in sources]
starts_s = [
    recording_start_s(shape, frame_rate_hz, str(path)) for shape, path in zip(shapes, sources, strict=True)
]
start_time_s = starts_s[0]
for shape, path in zip(shapes[1:], sources[1:], strict=True):
    if shape.n_neurons != shapes[0].n_neurons:
        raise InputError(
            f"{path}: {shape.n_neurons} neurons, but {source} (the session's first file) has "
            f"{shapes[0].n_neurons}; the files of one session must hold the same neurons in the same order."
        )
total = InputShape(shapes[0].n_neurons, sum(shape.n_frames for shape in shapes))
check_plausible_shape(shapes[0] if len(sources) == 1 else total, frame_rate_hz, settings, str(source))
# A plain (neurons x frames) .npy is read by offset, block by block: bounded memory.
by_offset = [path.suffix == ".npy" and not settings.layout.one_row_per_frame for path in sources]
n_filled = 0
with contextlib.ExitStack() as stack:
    inputs = [stack.enter_context(open_input(path, settings, nwb)) for path in sources]
    opened = inputs[0]
    n_neurons = opened.rows.shape[0]
    frames_per_file = [each.rows.shape[1] for each in inputs]
    n_frames = sum(frames_per_file)
    labels = opened.labels
    for each, path in zip(inputs[1:], sources[1:], strict=True):
        if each.labels is not None and labels is not None and list(each.labels) != list(labels):
            raise InputError(
                f"{path}: its neuron labels differ from those of {source} (the session's first file); "
                "the files of one session must hold the same neurons in the same order."
            )
    # Suite2p folders and NWB series with a neuropil series: Fneu of the kept ROIs, else no rows.
    neuropils = [getattr(each.rows, "neuropil_rows", None) for each in inputs]
    neuropils = [rows if rows is not None and rows(slice(0, 1)) is not None else None for rows in neuropils]
    neuropil_rows = neuropils[0] if all(rows is not None for rows in neuropils) else None
    with (
        npy_writer(snakemake.output.traces, (n_neurons, n_frames)) as out,
        npy_writer(snakemake.output.neuropil, (n_neurons if neuropil_rows else 0, n_frames)) as neuropil,
    ):
        for first in range(0, n_neurons, 256):
            rows = slice(first, first + 256)
            parts = []
            for each, path, offset in zip(inputs, sources, by_offset, strict=True):
                raw = read_npy_rows(path, rows) if offset else each.rows[rows]
                block, filled = checked_block(raw, first, allow_missing, str(path))
                parts.append(block)
                n_filled += filled
            out.append(parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1))
            if neuropil_rows:
                blocks = [rows_of(rows) for rows_of in neuropils]
                neuropil.append(blocks[0] if len(blocks) == 1 else np.concatenate(blocks, axis=1))
layout = dict(opened.layout)
layout.setdefault("na_cells", n_filled)
for each, path, frames in zip(inputs, sources, frames_per_file, strict=True):
    log.info("%s: %d neurons x %d frames; %s", path, n_neurons, frames, "; ".join(each.notes))
log.info("layout decided: %s", ", ".join(f"{key} {value}" for key, value in sorted(layout.items())))
if n_filled:
    log.warning("interpolated %d missing/non-finite samples of %s", n_filled, ", ".join(map(str, sources)))

footprints = input_footprints(source, settings, nwb)
save_footprints(snakemake.output.footprints, footprints)
log.info(
    "footprints: %d pixels of %d ROIs, mean image %s (%s)",
    footprints.roi.size,
    len(set(footprints.roi.tolist())),
    "x".join(map(str, footprints.mean_image.shape)) if footprints.mean_image.size else "none",
    footprints.source,
)

# The trial table every later stage reads: the sheet's, one trial per file, or the whole recording.
table = read_user_table(snakemake.input.trials, "trial table") if "trials" in snakemake.input.keys() else None
duration_s = n_frames / frame_rate_hz
trials = session_trials(
    table,
    str(snakemake.input.trials) if table is not None else "",
    sources,
    frames_per_file,
    starts_s,
    frame_rate_hz,
    start_time_s,
)
save_table(snakemake.output.trials, trials)
log.info(
    "%d trial(s), %.1f of %.1f s in trials", len(trials), trials.n_frames.sum() / frame_rate_hz, duration_s
)

labels = labels or [str(i) for i in range(n_neurons)]
save_table(snakemake.output.neurons, pd.DataFrame({"neuron": range(n_neurons), "label": labels}))
save_json(
    snakemake.output.facts,
    {
        "session": snakemake.wildcards.session,
        "source": str(source) if len(sources) == 1 else ";".join(map(str, sources)),
        "input_kind": snakemake.params.input_kind,
        "n_neurons": n_neurons,
        "n_frames": n_frames,
        "frame_rate_hz": frame_rate_hz,
        "start_time_s": start_time_s,
        "duration_s": duration_s,
        "nan_count": n_filled,
        "layout": layout,
    },
)

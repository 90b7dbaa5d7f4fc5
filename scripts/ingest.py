"""Validate a session's fluorescence (CSV, .npy, Suite2p folder or NWB series) once; store it as
float32 .npy (neurons x frames)."""

from pathlib import Path

from calcium.input.footprints import input_footprints, save_footprints
from calcium.input.ingest import (
    InputSettings,
    NwbSelection,
    check_plausible_shape,
    probe_input,
    recording_start_s,
)
from calcium.input.store import neuron_table, recording_facts, store_traces
from calcium.io import save_json, save_table
from calcium.logs import log_to

log = log_to(snakemake.log[0], snakemake.wildcards)
output = snakemake.output
settings = InputSettings.from_config(snakemake.params.input_settings)
frame_rate_hz = snakemake.params.frame_rate_hz
source = Path(snakemake.input[0])

nwb = NwbSelection(**snakemake.params.nwb)
shape = probe_input(source, settings, nwb)
check_plausible_shape(shape, frame_rate_hz, settings, str(source))
start_time_s = recording_start_s(shape, frame_rate_hz, str(source))
stored = store_traces(source, settings, nwb, output.traces, output.neuropil)
log.info("%s: %d neurons x %d frames; %s", source, stored.n_neurons, stored.n_frames, "; ".join(stored.notes))
log.info("layout decided: %s", ", ".join(f"{key} {value}" for key, value in sorted(stored.layout.items())))
if stored.n_filled:
    log.warning("interpolated %d missing/non-finite samples of %s", stored.n_filled, source)

footprints = input_footprints(source, settings, nwb)
save_footprints(output.footprints, footprints)
log.info("footprints: %s", footprints.describe())

save_table(output.neurons, neuron_table(stored.labels))
facts = recording_facts(
    snakemake.wildcards.session, source, snakemake.params.input_kind, stored, frame_rate_hz, start_time_s
)
save_json(output.facts, facts)

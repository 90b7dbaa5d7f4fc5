"""Validate a session's fluorescence (CSV, .npy, Suite2p folder or NWB series) once; store it as
float32 .npy (neurons x frames), with its trial table. Several files (the sheet's path column,
separated by ';') are stored back to back, each one trial (calcium.input.trial_structure)."""

from pathlib import Path

from calcium.input.footprints import input_footprints, save_footprints
from calcium.input.ingest import (
    InputSettings,
    NwbSelection,
    check_plausible_shape,
    probe_input,
    recording_start_s,
)
from calcium.input.store import combined_shape, neuron_table, recording_facts, store_traces
from calcium.input.tables import read_user_table
from calcium.input.trial_structure import session_trials
from calcium.io import save_json, save_table
from calcium.logs import log_to

log = log_to(snakemake.log[0], snakemake.wildcards)
output = snakemake.output
settings = InputSettings.from_config(snakemake.params.input_settings)
frame_rate_hz = snakemake.params.frame_rate_hz
sources = [Path(path) for path in snakemake.input.data]
source = sources[0]

nwb = NwbSelection(**snakemake.params.nwb)
shapes = [probe_input(path, settings, nwb) for path in sources]
starts_s = [
    recording_start_s(shape, frame_rate_hz, str(path)) for shape, path in zip(shapes, sources, strict=True)
]
check_plausible_shape(combined_shape(shapes, sources), frame_rate_hz, settings, str(source))
stored = store_traces(sources if len(sources) > 1 else source, settings, nwb, output.traces, output.neuropil)
log.info("%s: %d neurons x %d frames; %s", source, stored.n_neurons, stored.n_frames, "; ".join(stored.notes))
log.info("layout decided: %s", ", ".join(f"{key} {value}" for key, value in sorted(stored.layout.items())))
if stored.n_filled:
    log.warning("interpolated %d missing/non-finite samples of %s", stored.n_filled, source)

footprints = input_footprints(source, settings, nwb)
save_footprints(output.footprints, footprints)
log.info("footprints: %s", footprints.describe())

# The trial table every later stage reads: the sheet's, one trial per file, or the whole recording.
table_path = snakemake.input.trials if "trials" in snakemake.input.keys() else ""
table = read_user_table(table_path, "trial table") if table_path else None
args = (sources, stored.frames_per_file, starts_s, frame_rate_hz, starts_s[0])
save_table(output.trials, trials := session_trials(table, str(table_path), *args))
log.info("%d trial(s), %.1f s in trials", len(trials), trials.n_frames.sum() / frame_rate_hz)

save_table(output.neurons, neuron_table(stored.labels))
label = str(source) if len(sources) == 1 else ";".join(map(str, sources))
facts = recording_facts(
    snakemake.wildcards.session, label, snakemake.params.input_kind, stored, frame_rate_hz, starts_s[0]
)
save_json(output.facts, facts)

"""Write a session's results as one NWB file: traces streamed in compressed chunks, tables, metadata."""

import contextlib
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from calcium.input.footprints import load_footprints
from calcium.input.nwb import open_roi_masks
from calcium.input.nwb_series import is_nwb
from calcium.input.nwb_tables import read_nwb_metadata
from calcium.io import load_json, load_npy, read_table
from calcium.logs import log_to
from calcium.outputs.nwb import SessionNwbWriter, footprint_masks, session_metadata
from calcium.outputs.nwb_metadata import read_metadata_file
from calcium.stimulus.regressors import regressors_from_table

log = log_to(snakemake.log[0], snakemake.wildcards)
inputs = snakemake.input
session = dict(snakemake.params.session)
facts = load_json(inputs.facts)
rate = float(facts["frame_rate_hz"])
start = float(facts.get("start_time_s", 0.0))
neurons = read_table(inputs.neurons)
labels = neurons.label.astype(str).tolist()


def workflow_version() -> str:
    """The workflow's version, with the git commit when run from a checkout."""
    version = snakemake.params.version
    repo = Path(getattr(snakemake, "scriptdir", ".")).parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return version
    return f"{version} (git {commit})" if commit else version


settings = snakemake.params.parameters
open_files = contextlib.ExitStack()  # an NWB input stays open while its ROI masks are copied
footprints = load_footprints(inputs.footprints)
masks = footprint_masks(footprints, len(labels))
source = None
if is_nwb(session["path"]):
    series = session.get("nwb_series") or None
    source = read_nwb_metadata(session["path"], series, session["input_kind"])
    # the input's own masks, copied as they are (pixel, voxel or image masks)
    masks = open_files.enter_context(
        open_roi_masks(
            session["path"], series, session["input_kind"], settings["input"]["suite2p_cells_only"]
        )
    )
user = {}
if "metadata" in inputs.keys():
    schema_path = Path(snakemake.scriptdir).parent / "workflow" / "schemas" / "metadata.schema.yaml"
    schema = yaml.safe_load(schema_path.read_text())
    user = read_metadata_file(inputs.metadata, schema)
version = workflow_version()
nwb_settings = dict(snakemake.params.metadata)
metadata, missing = session_metadata(
    session, nwb_settings, source, version, settings, len(labels), rate, user
)
if missing:
    line = (
        f"session {session['session']}: DANDI will ask for {', '.join(missing)}: give them in the session "
        "sheet or the metadata file its `metadata` column names (README: The NWB file)"
    )
    log.warning(line)  # in the job's log and, as every warning, on the terminal

writer = SessionNwbWriter(
    metadata,
    rate,
    start,
    labels,
    gzip_level=nwb_settings["gzip_level"],
    masks=masks,
    workers=snakemake.threads,
    mean_image=footprints.mean_image if footprints.mean_image.size else None,
    roi_columns=neurons.drop(columns=["neuron", "label"]),
)
if masks:
    log.info("ROI masks (%s) from %s", ", ".join(masks), session["path"])
trace_note = f"{len(labels)} ROIs x {facts['n_frames']} frames at {rate:g} Hz"
if session["input_kind"] == "dff":
    dff_text = "ΔF/F as given in the input (input_kind dff)"
else:
    neuropil = settings["input"]["neuropil_coefficient"]
    neuropil_given = load_npy(inputs.neuropil).shape[0] > 0
    writer.add_traces(
        "Fluorescence",
        "Fluorescence",
        "fluorescence",
        inputs.fluorescence,
        "fluorescence F as the workflow read it, in the input's units"
        + (f" (neuropil-corrected: raw F - {neuropil} x neuropil)" if neuropil_given else "")
        + f"; {trace_note}",
        unit="a.u.",
    )
    if neuropil_given:
        writer.add_traces(
            "Fluorescence",
            "Fluorescence",
            "neuropil",
            inputs.neuropil,
            f"neuropil fluorescence Fneu of each ROI as in the input (raw F = fluorescence + {neuropil} x "
            f"neuropil); {trace_note}",
            unit="a.u.",
        )
    dff = settings["dff"]
    window = f"a {dff['window_s']} s sliding window" if dff["window_s"] else "the whole recording"
    dff_text = f"ΔF/F = (F - F0) / F0, F0 the {dff['percentile']}th percentile of F over {window}"
detrend = settings["detrend"]
denoise = settings["denoise"]
deconvolution = settings["deconvolution"]
oasis = snakemake.params.oasis  # the session's resolved deconvolution settings
for name, text in (
    ("dff", dff_text),
    ("detrended", f"ΔF/F with drifts slower than {detrend['slow_drift_s']} s removed ({detrend['method']})"),
    (
        "denoised",
        f"detrended ΔF/F, wavelet-denoised ({denoise['wavelet']}, level {denoise['level']}, "
        f"{denoise['threshold_rule']} {denoise['threshold_mode']} threshold)",
    ),
):
    writer.add_traces("DfOverF", "DfOverF", name, getattr(inputs, name), f"{text}; {trace_note}")
for name, unit, text in (
    ("calcium", "dF/F", f"OASIS inferred calcium c of the {deconvolution['input']} trace (ΔF/F)"),
    ("spikes", "dF/F", "OASIS inferred spike amplitudes s: the jump of c at each frame (ΔF/F)"),
    (
        "activity",
        "dF/F per frame",
        "spike-rate estimate, not ΔF/F: s smoothed by a Gaussian (weights summing to 1) of each ROI's "
        "smoothing_s and moved its lag_s earlier (deconvolution.tsv; session values "
        f"{oasis['smoothing_s']:.4g} s and {oasis['lag_s']:.4g} s) - inferred spike amplitude per frame",
    ),
):
    writer.add_traces(
        "Deconvolved", "Fluorescence", name, getattr(inputs, name), f"{text}; {trace_note}", unit
    )
log.info("traces: raw F (raw input), 3 ΔF/F series and 3 deconvolved series, %s", trace_note)

deconvolved = read_table(inputs.deconvolution)  # per ROI: its rate, smoothing and timing correction
spike_settings = settings["spike_times"]
written = []
if writer.add_spikes(
    read_table(inputs.spike_times),
    f"spikes inferred from the calcium traces: frames where OASIS's s passes the {spike_settings['method']} "
    "threshold (spike_times.method); times in s since session_start_time, moved lag_s earlier as in "
    "spike_times.csv; one row per ROI",
    lag_s=deconvolved.lag_s.to_numpy(float) if "lag_s" in deconvolved else float(oasis["lag_s"]),
):
    written.append("InferredSpikes")
if writer.add_events(
    "calcium_events",
    read_table(inputs.events),
    f"calcium events on the {settings['events']['input']} trace, one row per event (events.csv): "
    "timestamp = onset_s, duration = end_s - onset_s",
    time_column="onset_s",
    end_column="end_s",
):
    written.append("events")
tables = [
    (
        "deconvolution",
        inputs.deconvolution,
        "OASIS model per ROI (time constants, noise, the rate it was deconvolved at, smoothing and timing "
        "correction lag_s)",
        "ophys",
    ),
    ("event_thresholds", inputs.thresholds, "event detection threshold per ROI", "ophys"),
    (
        "event_features",
        inputs.features,
        "event features per ROI (rates, amplitudes, widths, coupling)",
        "ophys",
    ),
]
for name, path, text, where in tables:
    if writer.add_table(name, read_table(path), text, where=where):
        written.append(name)

null = load_json(inputs.null_threshold)
coactivity = settings["coactivity"]
threshold = null.get("threshold_n_active")
null_text = (
    f"circular-shift null: each neuron's event frames shifted by its own random offset, "
    f"{null['n_shuffles']} shuffles (seed {null['seed']}), {null['percentile']}th percentile of the "
    f"{null['statistic']} statistic; threshold "
    + (f"{threshold:.6g}" if isinstance(threshold, int | float) else "none")
    + " active neurons (bins of the most common length; per bin length in "
    "analysis/coactivity_null_thresholds)"
)
if null.get("note"):
    null_text += f"; {null['note']}"
if writer.add_table(
    "coactivity",
    read_table(inputs.coactivity),
    f"neurons with an event {coactivity['event_time']} in each {coactivity['bin_s']} s bin; {null_text}",
    where="analysis",
    descriptions={"start_s": "start of the bin (s)", "end_s": "end of the bin (s)"},
):
    written.append("coactivity")
for name, table, text in (
    (
        "coactivity_null_thresholds",
        pd.DataFrame(null.get("thresholds", [])),
        f"the null's threshold for bins of each length (frames per bin); {null_text}",
    ),
    (
        "coactivity_null_distribution",
        read_table(inputs.null_histogram),
        "distribution of the number of active neurons per bin under the circular-shift null, per bin "
        "length (frames): n_bins of the shuffled bins had n_active active neurons (fraction of them)",
    ),
    (
        "coactivity_null_shuffles",
        read_table(inputs.null_shuffles),
        "per shuffle of the null: the largest and mean number of active neurons per bin",
    ),
):
    if writer.add_table(name, table, text, where="analysis", neuron_columns=()):
        written.append(name)
pairs = read_table(inputs.ensemble_event_neurons)
ensemble_events = read_table(inputs.ensemble_events)
by_event = {e: g.neuron.to_numpy() for e, g in pairs.groupby("event")}
if writer.add_table(
    "ensemble_events",
    ensemble_events,
    "bins whose coactivity passes the null threshold; ensemble: the event's ensemble (-1: none)",
    where="analysis",
    neuron_columns=(),
    ragged_neurons={"neurons": [by_event.get(e, np.array([], int)) for e in ensemble_events.event]},
    descriptions={"start_s": "start of the bin (s)", "end_s": "end of the bin (s)"},
):
    written.append("ensemble_events")
members = read_table(inputs.members)
ensembles = read_table(inputs.ensembles).drop(columns=["members"])
member_lists = [
    members.neuron[(members.ensemble == e) & members.member.astype(bool)].to_numpy()
    for e in ensembles.ensemble
]
clustering = load_json(inputs.clustering)
METHOD_TEXT = {
    "refined": "ICA patterns refined against the circular-shift null (members join the activations "
    "more often than their own rate predicts)",
    "ica": "ICA assemblies (Lopes-dos-Santos et al. 2013: Marchenko-Pastur count, members above "
    "mean + 2 SD of the pattern)",
    "jaccard": "clusters of ensemble events by the Jaccard similarity of their neurons",
}
method = clustering.get("method", "jaccard")
keys = ("linkage", "cutoff", "cut_distance", "null_percentile") if method == "jaccard" else ("alpha",)
cluster_text = ", ".join(f"{k} {clustering[k]}" for k in keys if k in clustering)
if writer.add_table(
    "ensembles",
    ensembles,
    f"ensembles ({method}): {METHOD_TEXT.get(method, method)} ({cluster_text}); each tested against "
    "the circular-shift null (p_value); members: rows of the ROI table",
    where="analysis",
    neuron_columns=(),
    ragged_neurons={"members": member_lists},
):
    written.append("ensembles")
if writer.add_table(
    "ensemble_membership",
    members,
    "participation of each neuron in each ensemble's events",
    where="analysis",
):
    written.append("ensemble_membership")
similarity = np.load(inputs.similarity)
if similarity.size and writer.add_table(
    "ensemble_event_similarity",
    pd.DataFrame({"event": np.arange(len(similarity))}),
    "Jaccard similarity between the neuron sets of the ensemble events (row i, column j: events i, j)",
    where="analysis",
    neuron_columns=(),
    matrices={"similarity": similarity},
):
    written.append("ensemble_event_similarity")

if "stimuli" in inputs.keys():
    stimuli = read_table(inputs.stimuli)
    writer.add_stimuli(stimuli, "stimulus presentations (s since session_start_time)")
    stimulus_labels, boxcars, regressors = regressors_from_table(read_table(inputs.regressors))
    writer.add_regressors(stimulus_labels, regressors, boxcars, f"{settings['stimulus']['kernel']} kernel")
    for name, path, text in (
        (
            "stimulus_regression",
            inputs.regression,
            "per-ROI linear regression of the trace on the regressors; response_type: the ROI's "
            "response type (stimulus with the largest coefficient, or not stimulus-locked)",
        ),
        ("stimulus_responses", inputs.responses, "mean stimulus-locked response per ROI and stimulus"),
    ):
        if writer.add_table(name, read_table(path), text, where="analysis"):
            written.append(name)
    written.append("stimuli")

evaluation = [
    (
        "expected_accuracy",
        "expected_accuracy",
        "expected accuracy of spike inference for this session's noise "
        "levels, from ground-truth recordings of its indicator (per noise band)",
        (),
    ),
    (
        "expected_accuracy_neurons",
        "expected_accuracy_neurons",
        "noise level nu, band, expected spike-inference r and quality flag (expected r below 0.2, "
        "with the reason) of each ROI",
        ("neuron",),
    ),
    (
        "evaluation",
        "evaluation",
        "spike inference scored against the session's ground truth, per ROI",
        ("neuron",),
    ),
    (
        "evaluation_summary",
        "evaluation_summary",
        "spike inference scored against the ground truth, session summary",
        (),
    ),
]
for key, name, text, neuron_columns in evaluation:
    if key in inputs.keys() and writer.add_table(
        name, read_table(getattr(inputs, key)), text, where="analysis", neuron_columns=neuron_columns
    ):
        written.append(name)

output = Path(snakemake.output[0])
writer.write(output)
open_files.close()
log.info("wrote %s: traces and %s (empty tables left out)", output, ", ".join(written))

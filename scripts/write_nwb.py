"""Write a session's results as one NWB file: traces streamed in compressed chunks, tables, metadata."""

import contextlib
import subprocess
from pathlib import Path

import numpy as np

from calcium.io import load_json, read_table
from calcium.logs import log_to
from calcium.nwb_input import is_nwb, open_roi_masks, read_nwb_metadata
from calcium.nwb_output import SessionNwbWriter, session_metadata
from calcium.regressors import regressors_from_table

log = log_to(snakemake.log[0], snakemake.wildcards)
inputs = snakemake.input
session = dict(snakemake.params.session)
facts = load_json(inputs.facts)
rate = float(facts["frame_rate_hz"])
start = float(facts.get("start_time_s", 0.0))
labels = read_table(inputs.neurons).label.astype(str).tolist()


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
masks = {}
source = None
if is_nwb(session["path"]):
    series = session.get("nwb_series") or None
    source = read_nwb_metadata(session["path"], series, session["input_kind"])
    masks = open_files.enter_context(
        open_roi_masks(
            session["path"], series, session["input_kind"], settings["input"]["suite2p_cells_only"]
        )
    )
version = workflow_version()
metadata, notes = session_metadata(
    session,
    dict(snakemake.params.metadata),
    source,
    version,
    snakemake.params.parameters,
    len(labels),
    rate,
)
for note in notes:
    log.warning("session %s: %s", session["session"], note)

writer = SessionNwbWriter(
    metadata,
    rate,
    start,
    labels,
    gzip_level=snakemake.params.metadata["gzip_level"],
    masks=masks,
    workers=snakemake.threads,
)
if masks:
    log.info("ROI masks (%s) copied from %s", ", ".join(masks), session["path"])
trace_note = f"{len(labels)} ROIs x {facts['n_frames']} frames at {rate:g} Hz"
if session["input_kind"] == "dff":
    dff_text = "ΔF/F as given in the input (input_kind dff)"
else:
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
for name, text in (
    ("calcium", f"OASIS inferred calcium c of the {deconvolution['input']} trace"),
    ("spikes", "OASIS inferred spike amplitudes s (one value per frame)"),
    (
        "activity",
        f"s smoothed by a Gaussian of SD {oasis['smoothing_s']:.4g} s and moved {oasis['lag_s']:.4g} s "
        "earlier: the spike-rate estimate",
    ),
):
    writer.add_traces("Deconvolved", "Fluorescence", name, getattr(inputs, name), f"{text}; {trace_note}")
log.info("traces: 3 ΔF/F series and 3 deconvolved series, %s", trace_note)

spike_settings = settings["spike_times"]
writer.add_spikes(
    read_table(inputs.spike_times),
    f"spikes inferred from the calcium traces: frames where OASIS's s passes the {spike_settings['method']} "
    "threshold (spike_times.method); times in s since session_start_time; one row per ROI",
)
written = []
tables = [
    ("deconvolution", inputs.deconvolution, "OASIS model per ROI (resolved time constants, noise)", "ophys"),
    (
        "events",
        inputs.events,
        f"calcium events on the {settings['events']['input']} trace, one row per event",
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
if writer.add_table(
    "coactivity",
    read_table(inputs.coactivity),
    f"neurons with an event {coactivity['event_time']} in each {coactivity['bin_s']} s bin; circular-shift "
    f"null threshold {null.get('threshold')} active neurons ({null.get('percentile')}th percentile, "
    f"{null.get('n_shuffles')} shuffles, {null.get('statistic')})",
    where="analysis",
    descriptions={"start_s": "start of the bin (s)", "end_s": "end of the bin (s)"},
):
    written.append("coactivity")
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
if writer.add_table(
    "ensembles",
    ensembles,
    "ensembles: clusters of ensemble events by the Jaccard similarity of their neurons",
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

if "stimuli" in inputs.keys():
    stimuli = read_table(inputs.stimuli)
    writer.add_stimuli(stimuli, "stimulus presentations (s since session_start_time)")
    stimulus_labels, boxcars, regressors = regressors_from_table(read_table(inputs.regressors))
    writer.add_regressors(stimulus_labels, regressors, boxcars, f"{settings['stimulus']['kernel']} kernel")
    for name, path, text in (
        (
            "stimulus_regression",
            inputs.regression,
            "per-ROI linear regression of the trace on the regressors",
        ),
        ("stimulus_responses", inputs.responses, "mean stimulus-locked response per ROI and stimulus"),
    ):
        if writer.add_table(name, read_table(path), text, where="analysis"):
            written.append(name)
    written.append("stimuli")

writer.write(snakemake.output[0])
open_files.close()
log.info("wrote %s: traces, InferredSpikes and tables %s", snakemake.output[0], ", ".join(written))

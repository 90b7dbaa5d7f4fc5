"""How well spikes can be inferred from this session: its settings run on ground truth made like it.

Ground-truth recordings of the session's indicator family, from the excerpts shipped in
resources/groundtruth and the folder named by expected_accuracy.ground_truth_dir, are
resampled to the session's frame rate,
brought to the noise level of each noise band of the session's neurons and run through
the session's deconvolution and spike-time settings (calcium.evaluation.accuracy). Without
reference data the tables and the figure say so; the run never fails for that.
"""

from pathlib import Path

import numpy as np

from calcium.evaluation.accuracy import (
    accuracy_note,
    expected_accuracy,
    load_references,
    noise_level_nu,
    workflow_pipeline,
)
from calcium.io import load_json, load_npy, save_table
from calcium.logs import log_to
from calcium.outputs.evaluation_plots import expected_accuracy_figure
from calcium.outputs.plot_style import save_figure
from calcium.signal.denoise import wavelet_denoise
from calcium.signal.detrend import detrend

log = log_to(snakemake.log[0], snakemake.wildcards)
session = snakemake.wildcards.session
settings = snakemake.params.expected_accuracy
indicator = snakemake.params.indicator
facts = load_json(snakemake.input.facts)
fs = float(facts["frame_rate_hz"])
SHIPPED = Path(__file__).resolve().parents[1] / "resources" / "groundtruth"  # the workflow's own excerpts
folders = [str(SHIPPED)] + ([settings["ground_truth_dir"]] if settings["ground_truth_dir"] else [])

rows = max(1, 10_000_000 // facts["n_frames"])  # ~0.1 GB of float64 per block: bounded memory
nu = np.concatenate(
    [
        noise_level_nu(load_npy(snakemake.input.dff, slice(first, first + rows)), fs)
        for first in range(0, facts["n_neurons"], rows)
    ]
)
references = load_references(folders, indicator, settings["recordings_per_set"], settings["excerpt_s"])
trace = snakemake.params.trace


def prepare(traces, rate):
    """The session's own trace for deconvolution: ΔF/F, detrended or denoised."""
    if trace == "dff":
        return traces
    out = detrend(traces, rate, **snakemake.params.detrend)
    return wavelet_denoise(out, **snakemake.params.denoise) if trace == "denoised" else out


bands, neurons, scores = expected_accuracy(
    nu,
    fs,
    references.recordings,
    workflow_pipeline(snakemake.params.deconvolution, snakemake.params.spike_times, prepare),
    seed=settings["seed"],
    n_bands=settings["n_noise_bands"],
    bin_s=snakemake.params.evaluation["bin_s"],
    tolerance_s=snakemake.params.evaluation["tolerance_s"],
)
status, note = accuracy_note(references, bands, indicator, " and ".join(folders), fs, settings["excerpt_s"])
bands.insert(0, "session", session)
bands.insert(1, "indicator", indicator)
bands.insert(2, "frame_rate_hz", fs)
bands["reference_indicators"] = ";".join(references.indicators)
bands["reference_match"] = references.match
bands["status"] = status
bands["note"] = note
save_table(snakemake.output.table, bands)
save_table(snakemake.output.neurons, neurons)
save_table(snakemake.output.references, scores)
figure = expected_accuracy_figure(
    bands,
    nu,
    note=note if status != "ok" else "",
    title=f"session {session} ({indicator}, {fs:g} Hz): expected spike-inference accuracy",
)
save_figure(figure, snakemake.output.figure)
log.info("expected accuracy of session %s: %s; %s", session, status, note)
flagged = int(neurons.quality_flag.sum())
if flagged:
    log.info("%d of %d neurons flagged: expected spike-inference r below 0.2", flagged, len(neurons))

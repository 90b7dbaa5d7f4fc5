"""How well spikes can be inferred from this session: its settings run on ground truth made like it.

Ground-truth recordings of the session's indicator (or its family) from the folder
named by expected_accuracy.ground_truth_dir are resampled to the session's frame rate,
brought to the noise level of each noise band of the session's neurons and run through
the session's deconvolution and spike-time settings (calcium.accuracy). Without
reference data the tables and the figure say so; the run never fails for that.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from calcium.accuracy import (
    Recording,
    choose_recordings,
    excerpt,
    expected_accuracy,
    noise_bands,
    noise_level_nu,
    select_references,
    workflow_pipeline,
)
from calcium.denoise import wavelet_denoise
from calcium.detrend import detrend
from calcium.groundtruth import groundtruth_folders, read_groundtruth_recordings
from calcium.io import load_json, load_npy, save_table
from calcium.logs import log_to
from calcium.plots import expected_accuracy_figure, save_figure

log = log_to(snakemake.log[0], snakemake.wildcards)
session = snakemake.wildcards.session
settings = snakemake.params.expected_accuracy
indicator = snakemake.params.indicator
facts = load_json(snakemake.input.facts)
fs = float(facts["frame_rate_hz"])
folder = Path(settings["ground_truth_dir"])

nu = np.concatenate(
    [
        noise_level_nu(load_npy(snakemake.input.dff, slice(first, first + 1000)), fs)
        for first in range(0, facts["n_neurons"], 1000)
    ]
)
available = [(str(path), ind) for path, ind in groundtruth_folders(folder)]
chosen, match = select_references(available, indicator)
references = []
if chosen:
    index = pd.concat(
        [pd.read_csv(Path(path) / "recordings.csv").assign(folder=path) for path in chosen],
        ignore_index=True,
    )
    neuron = index.source_file if "source_file" in index.columns else index.recording
    stubs = [
        Recording(f"{f}|{r}", "", 1.0, 0.0, np.zeros(0), np.zeros(0), f"{f}|{n}")
        for f, r, n in zip(index.folder, index.recording, neuron, strict=True)
    ]
    picked = [stub.name.split("|") for stub in choose_recordings(stubs, settings["max_recordings"])]
    for path in chosen:
        names = [r for f, r in picked if f == path]
        if not names:
            continue
        reference_indicator = dict(available)[path]
        for rec in read_groundtruth_recordings(path, names):
            references.append(
                excerpt(
                    Recording(
                        rec["name"],
                        reference_indicator,
                        rec["frame_rate_hz"],
                        rec["start_time_s"],
                        rec["dff"],
                        rec["spike_times_s"],
                        rec["neuron"],
                    ),
                    settings["excerpt_s"],
                )
            )
trace = snakemake.params.trace


def prepare(traces, rate):
    if trace == "dff":
        return traces
    out = detrend(traces, rate, **snakemake.params.detrend)
    return wavelet_denoise(out, **snakemake.params.denoise) if trace == "denoised" else out


pipeline = workflow_pipeline(snakemake.params.deconvolution, snakemake.params.spike_times, prepare)
if references:
    bands, neurons, scores = expected_accuracy(
        nu,
        fs,
        references,
        pipeline,
        seed=settings["seed"],
        n_bands=settings["n_noise_bands"],
        bin_s=snakemake.params.evaluation["bin_s"],
        tolerance_s=snakemake.params.evaluation["tolerance_s"],
    )
else:
    band, edges = noise_bands(nu, settings["n_noise_bands"])
    neurons = pd.DataFrame({"neuron": np.arange(nu.size), "nu": nu, "band": band})
    bands = pd.DataFrame(
        {
            "band": np.arange(max(0, edges.size - 1)),
            "nu_low": edges[:-1],
            "nu_high": edges[1:],
            "nu_median": [float(np.median(nu[band == b])) for b in range(max(0, edges.size - 1))],
            "n_neurons": [int(np.sum(band == b)) for b in range(max(0, edges.size - 1))],
            "n_reference_recordings": 0,
        }
    )
    for column in (
        "expected_correlation",
        "correlation_p10",
        "correlation_p90",
        "expected_f1",
        "f1_p10",
        "f1_p90",
    ):
        bands[column] = np.nan
    bands["n_noisier_references"] = 0
    scores = pd.DataFrame(columns=["band", "recording", "status"])

reference_names = sorted({dict(available)[path] for path in chosen})
if not folder.is_dir():
    status = "no_reference_data"
    note = (
        f"no ground-truth folder at {folder} (config key expected_accuracy.ground_truth_dir): "
        "no expected accuracy for this session."
    )
elif not references:
    status = "no_matching_indicator"
    note = (
        f"{folder} holds no ground truth of {indicator} or of indicators with similar kinetics: "
        "no expected accuracy for this session."
    )
else:
    status = "ok"
    note = (
        f"{len(references)} recordings of {', '.join(reference_names)} "
        f"({'same indicator' if match == 'indicator' else 'same indicator family'}), "
        f"excerpts of at most {settings['excerpt_s']} s, resampled to {fs:g} Hz and to each band's noise."
    )
    noisier = int(bands.n_noisier_references.max()) if len(bands) else 0
    if noisier:
        note += f" Up to {noisier} reference recordings are noisier than a band and were scored as they are."
bands.insert(0, "session", session)
bands.insert(1, "indicator", indicator)
bands.insert(2, "frame_rate_hz", fs)
bands["reference_indicators"] = ";".join(reference_names)
bands["reference_match"] = match
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

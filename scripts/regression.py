"""Per-neuron regression of ΔF/F on the stimulus regressors; response types and stimulus-locked means."""

import numpy as np
import pandas as pd

from calcium.io import load_json, load_npy, read_table, save_table
from calcium.logs import log_to
from calcium.regressors import Regression, fit_regressors, response_types, stimulus_responses

log = log_to(snakemake.log[0], snakemake.wildcards)
facts = load_json(snakemake.input.facts)
settings = snakemake.params.stimulus
long = read_table(snakemake.input.regressors)
labels = list(dict.fromkeys(long.stimulus))
regressors = np.stack([long.regressor[long.stimulus == label].to_numpy() for label in labels])
stimuli = read_table(snakemake.input.table)
start_s = facts.get("start_time_s", 0.0)  # the table is on the recording's clock
stimuli = stimuli.assign(onset_s=stimuli.onset_s - start_s, offset_s=stimuli.offset_s - start_s)
window = tuple(settings["response_window_s"])
baseline = tuple(settings["baseline_window_s"]) if settings["baseline_window_s"] else None
fits, responses = [], []
for first in range(0, facts["n_neurons"], 1000):  # blocks of neurons: bounded memory
    block = load_npy(snakemake.input.traces, slice(first, first + 1000))
    fits.append(fit_regressors(block, regressors))
    block_responses = stimulus_responses(block, stimuli, facts["frame_rate_hz"], window, baseline)
    block_responses["neuron"] += first
    responses.append(block_responses)
fit = Regression(*(np.concatenate(parts) for parts in zip(*fits, strict=True)))
selected, types = response_types(fit, labels, settings["min_r2"], settings["response_type"])
table = pd.DataFrame({"neuron": np.arange(facts["n_neurons"]), "r2": fit.r2, "intercept_dff": fit.intercept})
for k, label in enumerate(labels):
    table[f"coef_{label}"] = fit.coefficients[:, k]
table["selected"] = selected
table["response_type"] = types
save_table(snakemake.output.regression, table)
save_table(snakemake.output.responses, pd.concat(responses, ignore_index=True))
log.info(
    "%d of %d neurons stimulus-locked (R² > %s), %d of them suppressed",
    int(selected.sum()),
    len(table),
    settings["min_r2"],
    int(table.response_type.str.startswith("suppressed:").sum()),
)

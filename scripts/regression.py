"""Per-neuron regression of ΔF/F on the stimulus regressors; response types and stimulus-locked means."""

import numpy as np
import pandas as pd

from calcium.io import load_json, load_npy, read_table, save_table
from calcium.logs import log_to
from calcium.regressors import fit_regressors, response_types, stimulus_responses

log = log_to(snakemake.log[0])
facts = load_json(snakemake.input.facts)
settings = snakemake.params.stimulus
long = read_table(snakemake.input.regressors)
labels = list(dict.fromkeys(long.stimulus))
regressors = np.stack([long.regressor[long.stimulus == label].to_numpy() for label in labels])
traces = load_npy(snakemake.input.traces)
fit = fit_regressors(traces, regressors)
selected, types = response_types(fit, labels, settings["min_r2"])
table = pd.DataFrame({"neuron": np.arange(traces.shape[0]), "r2": fit.r2, "intercept_dff": fit.intercept})
for k, label in enumerate(labels):
    table[f"coef_{label}"] = fit.coefficients[:, k]
table["selected"] = selected
table["response_type"] = types
save_table(snakemake.output.regression, table)
stimuli = read_table(snakemake.input.table)
responses = stimulus_responses(
    traces,
    stimuli,
    facts["frame_rate_hz"],
    tuple(settings["response_window_s"]),
    tuple(settings["baseline_window_s"]) if settings["baseline_window_s"] else None,
)
save_table(snakemake.output.responses, responses)
log.info("%d of %d neurons stimulus-locked (R² >= %s)", int(selected.sum()), len(table), settings["min_r2"])

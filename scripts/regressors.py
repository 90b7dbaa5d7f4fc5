"""Stimulus regressors: boxcars convolved with the indicator's response kernel."""

import numpy as np
import pandas as pd

from calcium.io import load_json, save_table
from calcium.logs import log_to, reported_errors
from calcium.regressors import stimulus_regressors, validate_stimulus_table

log = log_to(snakemake.log[0])
facts = load_json(snakemake.input.facts)
kernel_settings = snakemake.params.kernel
method = snakemake.params.method
fs = facts["frame_rate_hz"]
with reported_errors(log, f"session {snakemake.wildcards.session}"):
    table = validate_stimulus_table(
        pd.read_csv(snakemake.input.stimuli, dtype=str, keep_default_na=False),
        facts["duration_s"],
        str(snakemake.input.stimuli),
    )
    labels, boxcars, regressors = stimulus_regressors(
        table,
        facts["n_frames"],
        fs,
        kernel_settings["shape"],
        kernel_settings["tau_decay_s"],
        kernel_settings["tau_rise_s"],
        method,
    )
frames = np.arange(facts["n_frames"])
save_table(
    snakemake.output.regressors,
    pd.DataFrame(
        {
            "frame": np.tile(frames, len(labels)),
            "time_s": np.tile(frames / fs, len(labels)),
            "stimulus": np.repeat(labels, facts["n_frames"]),
            "boxcar": boxcars.ravel(),
            "regressor": regressors.ravel(),
        }
    ),
)
save_table(snakemake.output.table, table)
log.info("%d presentations of %s; kernel %s, %s regressors", len(table), labels, kernel_settings, method)

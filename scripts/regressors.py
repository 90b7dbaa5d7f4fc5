"""Stimulus regressors: boxcars convolved with the indicator's response kernel."""

import numpy as np
import pandas as pd

from calcium.input_tables import parse_stimulus_table, read_user_table
from calcium.io import load_json, save_table
from calcium.logs import log_to
from calcium.regressors import stimulus_regressors

log = log_to(snakemake.log[0], snakemake.wildcards)
facts = load_json(snakemake.input.facts)
kernel_settings = snakemake.params.kernel
method = snakemake.params.method
fs = facts["frame_rate_hz"]
start_s = facts.get("start_time_s", 0.0)
table = parse_stimulus_table(
    read_user_table(snakemake.input.stimuli, "stimulus table"),
    str(snakemake.input.stimuli),
    facts["duration_s"],
    start_s,
)
labels, boxcars, regressors = stimulus_regressors(
    table,
    facts["n_frames"],
    fs,
    kernel_settings["shape"],
    kernel_settings["tau_decay_s"],
    kernel_settings["tau_rise_s"],
    method,
    start_time_s=start_s,
)
frames = np.arange(facts["n_frames"])
save_table(
    snakemake.output.regressors,
    pd.DataFrame(
        {
            "frame": np.tile(frames, len(labels)),
            "time_s": np.tile(start_s + frames / fs, len(labels)),
            "stimulus": np.repeat(labels, facts["n_frames"]),
            "boxcar": boxcars.ravel(),
            "regressor": regressors.ravel(),
        }
    ),
)
save_table(snakemake.output.table, table)
log.info("%d presentations of %s; kernel %s, %s regressors", len(table), labels, kernel_settings, method)

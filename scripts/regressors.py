"""Stimulus regressors: boxcars convolved with the indicator's response kernel."""

import numpy as np
import pandas as pd

from calcium.input_tables import parse_stimulus_table, read_user_table
from calcium.io import load_json, save_table
from calcium.kernels import calcium_kernel
from calcium.logs import log_to
from calcium.regressors import convolve_regressors, stimulus_boxcars

log = log_to(snakemake.log[0], snakemake.wildcards)
facts = load_json(snakemake.input.facts)
kernel_settings = snakemake.params.kernel
fs = facts["frame_rate_hz"]
start_s = facts.get("start_time_s", 0.0)
table = parse_stimulus_table(
    read_user_table(snakemake.input.stimuli, "stimulus table"),
    str(snakemake.input.stimuli),
    facts["duration_s"],
    start_s,
)
# The library counts time from the first frame; the table is on the recording's clock.
from_first_frame = table.assign(onset_s=table.onset_s - start_s, offset_s=table.offset_s - start_s)
labels, boxcars = stimulus_boxcars(from_first_frame, facts["n_frames"], fs)
kernel = calcium_kernel(
    kernel_settings["shape"], fs, kernel_settings["tau_decay_s"], kernel_settings["tau_rise_s"]
)
regressors = convolve_regressors(boxcars, kernel)
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
log.info("%d presentations of %s; kernel %s", len(table), labels, kernel_settings)

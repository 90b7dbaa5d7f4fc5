"""Coactivity: number of neurons with an event in each bin (and within the jitter window)."""

import numpy as np
import pandas as pd

from calcium.coactivity import coactivity, session_raster, window_coactivity
from calcium.io import load_json, read_table, save_table
from calcium.logs import log_to

log = log_to(snakemake.log[0], snakemake.wildcards)
facts = load_json(snakemake.input.facts)
settings = snakemake.params.coactivity
raster = session_raster(read_table(snakemake.input.events), facts, settings)
n_active = coactivity(raster)
bins = np.arange(raster.n_bins)
table = pd.DataFrame(
    {
        "bin": bins,
        "start_s": bins * settings["bin_s"],
        "end_s": np.minimum((bins + 1) * settings["bin_s"], facts["duration_s"]),
        "n_frames": raster.frames_per_bin,
        "n_active": n_active,
        "fraction_active": n_active / facts["n_neurons"],
        "n_active_window": window_coactivity(raster, settings["jitter_bins"]),
    }
)
save_table(snakemake.output[0], table)
log.info(
    "%d bins of %s s (%d hold no frame); max %d active neurons, %d within ± %d bins",
    raster.n_bins,
    settings["bin_s"],
    int((raster.frames_per_bin == 0).sum()),
    int(n_active.max()),
    int(table.n_active_window.max()),
    settings["jitter_bins"],
)

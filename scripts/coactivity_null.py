"""Circular-shift null of coactivity and the significance threshold."""

import numpy as np
import pandas as pd

from calcium.coactivity import circular_shift_null, null_threshold, session_raster
from calcium.io import load_json, read_table, save_json, save_table
from calcium.logs import log_to

log = log_to(snakemake.log[0], snakemake.wildcards)
facts = load_json(snakemake.input.facts)
binning = snakemake.params.coactivity
settings = snakemake.params.null
raster = session_raster(read_table(snakemake.input.events), facts, binning)
null = circular_shift_null(raster, settings["n_shuffles"], settings["seed"])
threshold = null_threshold(null, settings["percentile"], settings["statistic"])
save_table(
    snakemake.output.shuffles,
    pd.DataFrame(
        {
            "shuffle": np.arange(null.shape[0]),
            "max_active": null.max(axis=1),
            "mean_active": null.mean(axis=1),
        }
    ),
)
counts = np.bincount(null.ravel(), minlength=facts["n_neurons"] + 1)
save_table(
    snakemake.output.histogram,
    pd.DataFrame({"n_active": np.arange(counts.size), "n_bins": counts, "fraction": counts / counts.sum()}),
)
save_json(
    snakemake.output.threshold,
    {"threshold_n_active": threshold, **settings, "bin_s": binning["bin_s"], "n_bins": raster.n_bins},
)
log.info("null of %d shuffles: threshold %.3g active neurons", settings["n_shuffles"], threshold)

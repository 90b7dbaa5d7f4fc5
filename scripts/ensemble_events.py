"""Ensemble events: bins whose coactivity exceeds the null threshold, and their neurons."""

import numpy as np
import pandas as pd

from calcium.coactivity import contributions, session_raster
from calcium.io import load_json, read_table, save_table
from calcium.logs import log_to

log = log_to(snakemake.log[0], snakemake.wildcards)
facts = load_json(snakemake.input.facts)
binning = snakemake.params.coactivity
threshold = load_json(snakemake.input.threshold)["threshold_n_active"]
table = read_table(snakemake.input.coactivity)
significant = table[table.n_active > threshold].reset_index(drop=True)
raster = session_raster(read_table(snakemake.input.events), facts, binning)
matrix = contributions(raster, significant.bin.to_numpy())
event, neuron = np.nonzero(matrix)
save_table(
    snakemake.output.events,
    significant[["bin", "start_s", "end_s", "n_active"]].rename_axis("event").reset_index(),
)
save_table(snakemake.output.neurons, pd.DataFrame({"event": event, "neuron": neuron}))
log.info("%d ensemble events (coactivity > %.3g)", len(significant), threshold)

"""Concatenate per-shard tables (one row per neuron) into one session table."""

import pandas as pd

from calcium.io import save_table
from calcium.logs import log_to

log = log_to(snakemake.log[0])
table = pd.concat([pd.read_csv(path, sep="\t") for path in snakemake.input], ignore_index=True)
save_table(snakemake.output[0], table)
log.info("gathered %d rows from %d shards", len(table), len(snakemake.input))

"""Concatenate per-shard tables into session tables: output `name` gathers input `name`."""

import pandas as pd

from calcium.io import read_table, save_table
from calcium.logs import log_to

log = log_to(snakemake.log[0], snakemake.wildcards)
for name, path in snakemake.output.items():
    table = pd.concat([read_table(shard) for shard in snakemake.input[name]], ignore_index=True)
    save_table(path, table)
    log.info("%s: %d rows from %d shards", path, len(table), len(snakemake.input[name]))

"""A session's stimulus table from the TimeIntervals of its NWB file (times on the file's clock)."""

from calcium.input.nwb_tables import read_stimulus_intervals
from calcium.io import save_table
from calcium.logs import log_to

log = log_to(snakemake.log[0], snakemake.wildcards)
table = read_stimulus_intervals(snakemake.input[0], snakemake.params.intervals)
save_table(snakemake.output[0], table)
log.info(
    "%s %s: %d presentations of %s",
    snakemake.input[0],
    snakemake.params.intervals,
    len(table),
    sorted(set(table.stimulus)),
)

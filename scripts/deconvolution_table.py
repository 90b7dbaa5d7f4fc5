"""deconvolution.tsv: each neuron's deconvolution settings and why (the deconvolve rule's table)
with its expected spike-inference accuracy and quality flag (the expected_accuracy rule's)."""

from calcium.errors import InputError
from calcium.evaluation.quality_flag import with_quality_flag
from calcium.io import read_table, save_table
from calcium.logs import log_to

log = log_to(snakemake.log[0], snakemake.wildcards)
settings, quality = snakemake.input.settings, snakemake.input.quality
try:
    table = with_quality_flag(read_table(settings), read_table(quality))
except ValueError as error:  # tables of different runs: name both files, one line
    raise InputError(f"{settings} and {quality}: {error}") from None
save_table(snakemake.output[0], table)
flagged = int(table.quality_flag.sum())
log.info("%d of %d neurons flagged: expected spike-inference r below the floor", flagged, len(table))

"""Concatenate a stage's shards into one session array, written piecewise (bounded memory)."""

from calcium.io import load_json, load_npy, npy_writer
from calcium.logs import log_to

log = log_to(snakemake.log[0], snakemake.wildcards)
facts = load_json(snakemake.input.facts)
shape = (facts["n_neurons"], facts["n_frames"])
with npy_writer(snakemake.output[0], shape) as out:
    for path in snakemake.input.shards:
        out.append(load_npy(path, slice(None)))
log.info("gathered %d shards into %s %s", len(snakemake.input.shards), snakemake.output[0], shape)

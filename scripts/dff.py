"""ΔF/F of one shard of neurons (passed through for sessions that are ΔF/F already)."""

import numpy as np

from calcium.dff import baseline_f0, delta_f_over_f
from calcium.io import load_json, load_npy, save_npy
from calcium.logs import log_to
from calcium.shards import shard_rows

log = log_to(snakemake.log[0], snakemake.wildcards)
settings = snakemake.params.dff
facts = load_json(snakemake.input.facts)
rows = shard_rows(int(snakemake.wildcards.shard), facts["n_neurons"], snakemake.params.neurons_per_shard)
fluorescence = load_npy(snakemake.input.traces, rows)

if settings["input_kind"] == "dff":
    log.info("input is ΔF/F already: neurons %d-%d passed through", rows.start, rows.stop - 1)
    dff = fluorescence
else:
    f0 = baseline_f0(
        fluorescence, settings["percentile"], settings["window_s"], snakemake.params.frame_rate_hz
    )
    dff = delta_f_over_f(
        fluorescence, f0, settings["min_f0"], settings["low_f0"], np.arange(rows.start, rows.stop)
    )
    log.info("ΔF/F of neurons %d-%d; median F0 %.4g", rows.start, rows.stop - 1, float(np.median(f0)))
save_npy(snakemake.output[0], dff.astype(np.float32))

"""Figure: coactivity over time with the circular-shift null threshold."""

import numpy as np

from calcium.coactivity import thresholds_from_table, window_frames
from calcium.io import load_json, read_table
from calcium.logs import log_to
from calcium.plots import coactivity_figure, save_figure

log = log_to(snakemake.log[0], snakemake.wildcards)
facts = load_json(snakemake.input.facts)
table = read_table(snakemake.input.coactivity)
null = load_json(snakemake.input.threshold)
jitter = null["jitter_bins"]
figure = coactivity_figure(
    table.start_s.to_numpy(),
    table.n_active_window.to_numpy(),
    # Effective threshold: above the null and at least min_active neurons (counts are integers).
    np.maximum(
        thresholds_from_table(
            null["thresholds"], window_frames(table.n_frames.to_numpy(), jitter), "threshold_n_active"
        ),
        null["min_active"] - 1,
    ),
    read_table(snakemake.input.histogram),
    facts["n_neurons"],
    title=f"session {snakemake.wildcards.session}: neurons active within ± {jitter} bins; "
    f"{null['n_shuffles']} circular shifts, {null['percentile']}th percentile ({null['statistic']}), "
    f"at least {null['min_active']} neurons",
)
save_figure(figure, snakemake.output[0])
log.info("coactivity drawn")

"""Circular-shift null of coactivity (event frames shifted) and the significance thresholds."""

import numpy as np
import pandas as pd

from calcium.coactivity import (
    circular_shift_null,
    degenerate_groups,
    event_frames,
    frames_per_bin,
    null_thresholds,
    statistic_scale,
    threshold_table,
    window_frames,
)
from calcium.io import load_json, read_table, save_json, save_table
from calcium.logs import log_to

log = log_to(snakemake.log[0], snakemake.wildcards)
facts = load_json(snakemake.input.facts)
binning = snakemake.params.coactivity
settings = snakemake.params.null
jitter = binning["jitter_bins"]
neurons, frames = event_frames(read_table(snakemake.input.events), binning["event_time"])
null = circular_shift_null(
    neurons,
    frames,
    facts["n_neurons"],
    facts["n_frames"],
    facts["frame_rate_hz"],
    binning["bin_s"],
    settings["n_shuffles"],
    settings["seed"],
    jitter_bins=jitter,
)
frames_in = window_frames(frames_per_bin(facts["n_frames"], facts["frame_rate_hz"], binning["bin_s"]), jitter)
thresholds = null_thresholds(null, frames_in, settings["percentile"], settings["statistic"])
scale = statistic_scale(facts["n_neurons"], jitter)
table = threshold_table(thresholds, frames_in, scale)
null = null // scale  # neurons active within the window (the statistic breaks ties beyond this)
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
histograms = []
for row in table:
    counts = np.bincount(null[:, frames_in == row["frames"]].ravel(), minlength=facts["n_neurons"] + 1)
    histograms.append(
        pd.DataFrame(
            {
                "frames": row["frames"],
                "n_active": np.arange(counts.size),
                "n_bins": counts,
                "fraction": counts / counts.sum(),
            }
        )
    )
save_table(snakemake.output.histogram, pd.concat(histograms, ignore_index=True))
# The threshold of the most common kind of bin, for figures and quick reading.
typical = max(table, key=lambda row: (row["n_bins"], row["frames"]))
degenerate = degenerate_groups(table, settings["min_active"])
note = None
if degenerate:
    note = (
        f"degenerate null: in bins holding {[row['frames'] for row in degenerate]} frames the "
        f"{settings['percentile']}th percentile of the null is "
        f"{[row['threshold_n_active'] for row in degenerate]} active neurons (events are too sparse "
        f"for a null); ensemble events there need at least min_active = {settings['min_active']} neurons"
    )
    log.warning(note)
save_json(
    snakemake.output.threshold,
    {
        "threshold_n_active": typical["threshold_n_active"],
        "thresholds": table,
        "statistic_scale": scale,
        "degenerate": bool(degenerate),
        "note": note,
        **settings,
        "bin_s": binning["bin_s"],
        "jitter_bins": jitter,
        "n_bins": int(null.shape[1]),
    },
)
log.info(
    "null of %d shuffles (event frames shifted): thresholds %s active neurons by frames per window",
    settings["n_shuffles"],
    {row["frames"]: round(row["threshold_n_active"], 3) for row in table},
)

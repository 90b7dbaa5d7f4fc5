"""Figure: example neurons across the signal chain, with inferred spike times."""

import numpy as np
import pandas as pd

from calcium.io import load_json, load_npy
from calcium.logs import log_to
from calcium.plots import save_figure, trace_steps_figure

log = log_to(snakemake.log[0])
facts = load_json(snakemake.input.facts)
settings = snakemake.params.figures
fs = snakemake.params.frame_rate_hz
neurons = [n for n in settings["example_neurons"] if n < facts["n_neurons"]] or [0]
frames = np.arange(facts["n_frames"])
if settings["time_window_s"]:
    start_s, end_s = settings["time_window_s"]
    frames = frames[(frames / fs >= start_s) & (frames / fs <= end_s)]
    if frames.size < 2:
        frames = np.arange(facts["n_frames"])
span = slice(frames[0], frames[-1] + 1)
raw_name = "input ΔF/F" if snakemake.params.input_kind == "dff" else "raw F"
raw_unit = "ΔF/F" if snakemake.params.input_kind == "dff" else "F (a.u.)"
steps = [
    (raw_name, raw_unit, load_npy(snakemake.input.raw)[neurons, span]),
    ("ΔF/F", "ΔF/F", load_npy(snakemake.input.dff)[neurons, span]),
    ("detrended", "ΔF/F", load_npy(snakemake.input.detrended)[neurons, span]),
    ("wavelet-denoised", "ΔF/F", load_npy(snakemake.input.denoised)[neurons, span]),
    ("OASIS calcium + spike times", "c (ΔF/F)", load_npy(snakemake.input.calcium)[neurons, span]),
]
spikes = pd.read_csv(snakemake.input.spike_times)
times = facts.get("start_time_s", 0.0) + frames / fs  # the spike times' clock
spike_times = [
    spikes.time_s[(spikes.neuron == n) & spikes.time_s.between(times[0], times[-1])].to_numpy()
    for n in neurons
]
figure = trace_steps_figure(
    times, steps, spike_times, neurons, title=f"session {snakemake.wildcards.session}"
)
save_figure(figure, snakemake.output[0])
log.info("drew neurons %s", neurons)

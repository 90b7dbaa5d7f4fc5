"""The session browser: results/<session>/browser.html, one self-contained page.

All file reading is here (output names and columns may change); calcium.outputs.browser gets arrays
and tables and returns the page.
"""

from pathlib import Path

import numpy as np

from calcium.io import NpyRows, load_json, read_table, save_text
from calcium.logs import log_to
from calcium.outputs.browser import DenseTrace, SessionData, build_page
from calcium.outputs.roimap import read_footprints
from calcium.population.coactivity import null_exceedance, window_frames
from calcium.population.ordering import raster_orders
from calcium.population.steps import effective_thresholds
from calcium.signal.dff import baseline_f0
from calcium.stimulus.regressors import regressors_from_table

MAX_BLOCK_SAMPLES = 8_000_000  # samples read and decimated at a time (bounds memory: ~0.4 GB)


def read_text(path) -> str:
    return Path(path).read_text(encoding="utf-8")


log = log_to(snakemake.log[0], snakemake.wildcards)
inp = snakemake.input
params = snakemake.params
session = snakemake.wildcards.session
facts = load_json(inp.facts)
fs = float(facts["frame_rate_hz"])
dff_settings = params.dff

raw = NpyRows(inp.raw)
n_neurons = raw.shape[0]
BLOCK = max(1, min(256, MAX_BLOCK_SAMPLES // raw.shape[1]))
traces = []
f0 = None
if dff_settings["input_kind"] == "dff":
    traces.append(DenseTrace("raw", "input ΔF/F", "ΔF/F", raw))
else:
    traces.append(DenseTrace("raw", "raw F", "F (a.u.)", raw))

    def f0_of(block):
        return baseline_f0(block, dff_settings["percentile"], dff_settings["window_s"], fs)

    if dff_settings["window_s"] is None:
        f0 = np.concatenate(
            [f0_of(raw[a : min(a + BLOCK, n_neurons)])[:, 0] for a in range(0, n_neurons, BLOCK)]
        )
    else:
        traces.append(DenseTrace("f0", "F0 (sliding)", "F (a.u.)", NpyRows(inp.raw, f0_of)))
traces += [
    DenseTrace("dff", "ΔF/F", "ΔF/F", NpyRows(inp.dff)),
    DenseTrace("detrended", "detrended ΔF/F", "ΔF/F", NpyRows(inp.detrended)),
    DenseTrace("denoised", "wavelet-denoised ΔF/F", "ΔF/F", NpyRows(inp.denoised)),
    DenseTrace("calcium", "OASIS calcium c", "ΔF/F", NpyRows(inp.calcium)),
    DenseTrace("spikes", "OASIS spike amplitude s", "s (ΔF/F)", NpyRows(inp.spikes)),
]
neurons = read_table(inp.neurons)
labels = neurons.sort_values("neuron")["label"].astype(str).tolist()
events = read_table(inp.events)
spikes = read_table(inp.spike_times)[["neuron", "frame"]]
coactivity = read_table(inp.coactivity)
null = load_json(inp.null_threshold)
# The null as the coactivity figure shows it: the tested statistic, each bin's threshold, the
# pooled null distribution, and each bin's P(null >= observed).
histogram = read_table(inp.null_histogram)
tested = coactivity["n_active_window"].to_numpy()
pooled = histogram.groupby("n_active").n_bins.sum()
null_fraction = np.zeros(int(pooled.index.max()) + 1 if len(pooled) else 0)
null_fraction[pooled.index.to_numpy(dtype=int)] = pooled.to_numpy() / max(pooled.sum(), 1)
p_values = null_exceedance(
    tested,
    window_frames(coactivity["n_frames"].to_numpy(), null.get("jitter_bins", 0)),
    histogram.frames.to_numpy(),
    histogram.n_active.to_numpy(),
    histogram.n_bins.to_numpy(),
)
event_time = f"{params.roles['event_time']}_s"
regression_table = read_table(inp.regression) if "regression" in inp.keys() else None
orders = raster_orders(
    n_neurons,
    events.neuron.to_numpy(),
    events[event_time].to_numpy(),
    float(facts.get("start_time_s", 0.0)),
    float(facts["duration_s"]),
    float(null.get("bin_s", 0.0)) or 1.0,
    read_table(inp.ensemble_members),
    regression_table,
)
data = SessionData(
    session=session,
    frame_rate_hz=fs,
    start_time_s=float(facts.get("start_time_s", 0.0)),
    traces=traces,
    labels=labels,
    spikes=spikes,
    events=events,
    f0=f0,
    neuron_tables={
        "features": read_table(inp.features),
        "thresholds": read_table(inp.thresholds),
        "deconvolution": read_table(inp.deconvolution),
        "expected accuracy": read_table(inp.quality)[
            ["neuron", "nu", "expected_correlation", "quality_flag", "quality_reason"]
        ],
    },
    roles=dict(params.roles),
    ensembles=read_table(inp.ensembles),
    ensemble_events=read_table(inp.ensemble_events),
    ensemble_members=read_table(inp.ensemble_members),
    coactivity=tested,
    coactivity_start_s=coactivity["start_s"].to_numpy(),
    coactivity_bin_s=float(null.get("bin_s", 0.0)) or None,
    coactivity_threshold=null.get("threshold_n_active"),
    coactivity_thresholds=effective_thresholds(coactivity, null),
    coactivity_p=p_values,
    null_fraction=null_fraction,
    coactivity_label=f"neurons active within ± {null.get('jitter_bins', 0)} bins",
    coactivity_n_shuffles=null.get("n_shuffles"),
    raster_orders=orders,
    footprints=read_footprints(inp.footprints),
)
if "stimuli" in inp.keys():
    data.stimuli = read_table(inp.stimuli)[["stimulus", "onset_s", "offset_s"]]
    labels, _, regressors = regressors_from_table(read_table(inp.regressors))
    data.regressors = {label: regressors[k] for k, label in enumerate(labels)}
    data.regression = regression_table
    data.trials = read_table(inp.trials)
    data.trial_window_s = tuple(params.trial_window_s)
html, info = build_page(
    data,
    read_text(inp.template),
    {
        "style": read_text(inp.uplot_css) + "\n" + read_text(inp.css),
        "script": read_text(inp.uplot_js) + "\n" + read_text(inp.js),
    },
    max_bytes=int(params.browser["max_mb"] * 1e6),
    block_neurons=BLOCK,
    workers=snakemake.threads,
)

save_text(snakemake.output[0], html)
resolution = info["resolution"]
log.info(
    "page %.2f MB (tables %.2f MB, traces %.2f MB of %.2f MB raw); %d neurons x %d frames stored as %s",
    info["page_bytes"] / 1e6,
    info["tables_page_bytes"] / 1e6,
    info["traces_page_bytes"] / 1e6,
    info["traces_raw_bytes"] / 1e6,
    n_neurons,
    raw.shape[1],
    "every frame"
    if resolution.full
    else f"min/max envelopes of {resolution.frames_per_column} frames per column",
)

"""Stimulus regressors (boxcars convolved with the indicator's kernel) and the per-neuron regression."""

from calcium.input.tables import parse_stimulus_table, read_user_table
from calcium.io import load_json, load_npy, save_table
from calcium.logs import log_to
from calcium.progress import Progress, track
from calcium.stimulus.regressors import regression_tables, regressor_table, stimulus_regressors

log = log_to(snakemake.log[0], snakemake.wildcards)
facts = load_json(snakemake.input.facts)
settings = snakemake.params.regression
kernel = snakemake.params.kernel
fs, start_s, n_frames = facts["frame_rate_hz"], facts["start_time_s"], facts["n_frames"]
stimuli = parse_stimulus_table(
    read_user_table(snakemake.input.stimuli, "stimulus table"),
    str(snakemake.input.stimuli),
    facts["duration_s"],
    start_s,
)
labels, boxcars, regressors = stimulus_regressors(
    stimuli,
    n_frames,
    fs,
    kernel["shape"],
    kernel["tau_decay_s"],
    kernel["tau_rise_s"],
    settings["regressor"],
    start_s,
)
block = max(1, 25_000_000 // n_frames)  # neurons at a time: ~0.1 GB of float32, bounded memory
firsts = range(0, facts["n_neurons"], block)
with Progress(len(firsts), f"regression ({facts['n_neurons']} neurons)", "blocks") as progress:
    regression, responses = regression_tables(
        (
            (first, load_npy(snakemake.input.traces, slice(first, first + block)))
            for first in track(firsts, progress)
        ),
        labels,
        regressors,
        stimuli.assign(onset_s=stimuli.onset_s - start_s, offset_s=stimuli.offset_s - start_s),
        fs,
        settings["min_r2"],
        settings["response_type"],
        tuple(settings["response_window_s"]),
        tuple(settings["baseline_window_s"]) if settings["baseline_window_s"] else None,
    )
save_table(snakemake.output.stimuli, stimuli)
save_table(snakemake.output.regressors, regressor_table(labels, boxcars, regressors, fs, start_s))
save_table(snakemake.output.regression, regression)
save_table(snakemake.output.responses, responses)
log.info(
    "%d presentations of %s (kernel %s, %s regressors); %d of %d neurons stimulus-locked (R² > %s), "
    "%d of them suppressed",
    len(stimuli),
    labels,
    kernel,
    settings["regressor"],
    int(regression.selected.sum()),
    len(regression),
    settings["min_r2"],
    int(regression.response_type.str.startswith("suppressed:").sum()),
)

"""Stimulus regressors (boxcars convolved with the indicator's kernel) and the per-neuron regression."""

from calcium.input.tables import parse_stimulus_table, read_user_table
from calcium.input.trial_structure import trial_bounds
from calcium.io import load_json, save_table
from calcium.logs import log_to
from calcium.stimulus.regression import session_regression
from calcium.stimulus.regressors import regressor_table, stimulus_regressors

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
bounds = trial_bounds(snakemake.input)  # with trials: regressors within each, fit on their frames
labels, boxcars, regressors = stimulus_regressors(
    stimuli,
    n_frames,
    fs,
    kernel["shape"],
    kernel["tau_decay_s"],
    kernel["tau_rise_s"],
    settings["regressor"],
    start_s,
    bounds,
)
relative = stimuli.assign(onset_s=stimuli.onset_s - start_s, offset_s=stimuli.offset_s - start_s)
regression, responses = session_regression(
    snakemake.input.traces, facts["n_neurons"], n_frames, labels, regressors, relative, fs, settings, bounds
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

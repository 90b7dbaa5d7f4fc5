"""ΔF/F of every neuron (passed through for sessions that are ΔF/F already)."""

import functools

import numpy as np

import calcium.signal.dff  # noqa: F401 (imported before the pool forks: workers share it)
from calcium.blocks import process_blocks
from calcium.input.trial_structure import trial_bounds
from calcium.io import load_json
from calcium.logs import log_to
from calcium.signal import stages
from calcium.signal.dff import check_session_scale

log = log_to(snakemake.log[0], snakemake.wildcards)
facts = load_json(snakemake.input.facts)
settings = dict(snakemake.params.dff)
scale_check = settings.pop("scale_check", True)  # False: the sheet's scale_check: no
trials = trial_bounds(snakemake.input)  # (trials, 2) frames of each trial; None: continuous
# Traces on another scale than input_kind says stop here, judged once for the whole session
# (unless the sheet's scale_check says no for it).
if scale_check:
    check_session_scale(
        np.load(snakemake.input.traces, mmap_mode="r"),
        settings.get("input_kind", "raw"),
        settings.get("low_f0", "error"),
        trials,
    )
else:
    log.info("scale check skipped: scale_check no in the session sheet")
stage = functools.partial(stages.dff, frame_rate_hz=facts["frame_rate_hz"], trials=trials, **settings)
process_blocks(
    stage,
    [snakemake.input.traces],
    [snakemake.output[0]],
    facts["n_neurons"],
    facts["n_frames"],
    snakemake.threads,
    label=snakemake.rule,
)
log.info("ΔF/F of %d neurons with %s (%d processes)", facts["n_neurons"], settings, snakemake.threads)

"""Remove slow drifts from every neuron's ΔF/F; and, read as it is written, the session's linear
interpolation from a slower scan (pooled over its neurons), which later rules take from here."""

import functools

import numpy as np

import calcium.signal.detrend  # noqa: F401 (imported before the pool forks: workers share it)
from calcium.blocks import process_blocks
from calcium.input.trial_structure import trial_bounds
from calcium.io import load_json
from calcium.logs import log_to
from calcium.signal import stages
from calcium.signal.interpolation_session import pooled_ratio
from calcium.signal.knots import knot_ratio, knot_rows
from calcium.signal.scan_rate import save_interpolation

log = log_to(snakemake.log[0], snakemake.wildcards)
facts = load_json(snakemake.input.facts)
settings = snakemake.params.detrend
trials = trial_bounds(snakemake.input)  # (trials, 2) frames of each trial; None: continuous
stage = functools.partial(
    stages.detrend,
    frame_rate_hz=facts["frame_rate_hz"],
    trials=trials,
    knot_rows=knot_rows(facts["n_neurons"]),
    **settings,
)
tables = process_blocks(
    stage,
    [snakemake.input.traces],
    [snakemake.output.traces],
    facts["n_neurons"],
    facts["n_frames"],
    snakemake.threads,
    label=snakemake.rule,
)
log.info("detrended %d neurons with %s", facts["n_neurons"], settings)
ratio = pooled_ratio([evidence for evidence, _ in tables])
knots = knot_ratio(np.vstack([windows for _, windows in tables]))  # exact where np.interp made the clock
session = save_interpolation(snakemake.output.scan, ratio, facts["frame_rate_hz"], knots)
if session.ratio == session.ratio:
    log.info(
        "session linearly interpolated from a %.4g Hz scan (%s)",
        facts["frame_rate_hz"] / session.ratio,
        "its traces piecewise linear between the scan's frames" if session.proven else "pooled spectra",
    )

"""How well spikes can be inferred from this session: its settings run on ground truth made like it.

Ground-truth recordings of the session's indicator family, from the excerpts shipped in
resources/groundtruth and the folder named by expected_accuracy.ground_truth_dir, are
averaged down to the session's frame rate, or to its scan's rate when its traces are
band-limited or interpolated from a slower scan (slower ones scored at their own and
carried up), brought to the noise level of each noise band of the session's neurons, run through
the session's deconvolution and spike-time settings, and carried to the band's skewness of
ΔF/F (calcium.evaluation.session_accuracy). Without
reference data the tables and the figure say so; the run never fails for that.
"""

from pathlib import Path

from calcium.evaluation.session_accuracy import (
    session_expected_accuracy,
    session_noise,
    trace_preparation,
    workflow_pipeline,
)
from calcium.input.trial_structure import trial_bounds
from calcium.io import load_json, save_table
from calcium.logs import log_to
from calcium.outputs.evaluation_plots import expected_accuracy_figure
from calcium.outputs.plot_style import save_figure
from calcium.signal.scan_rate import read_interpolation

log = log_to(snakemake.log[0], snakemake.wildcards)
session = snakemake.wildcards.session
params = snakemake.params
indicator = params.indicator
facts = load_json(snakemake.input.facts)
fs = float(facts["frame_rate_hz"])
SHIPPED = Path(__file__).resolve().parents[1] / "resources" / "groundtruth"  # the workflow's own excerpts
folders = [str(SHIPPED)] + (
    [params.expected_accuracy["ground_truth_dir"]] if params.expected_accuracy["ground_truth_dir"] else []
)

bounds = trial_bounds(snakemake.input)  # with trials: their frames back to back (gaps left out)
ratio = read_interpolation(snakemake.input.scan)  # pooled over the session's neurons by detrend
noise = session_noise(snakemake.input.dff, facts["n_neurons"], facts["n_frames"], fs, bounds, ratio)
prepare = trace_preparation(params.trace, params.detrend)  # denoised: detrended, then denoised
pipeline = workflow_pipeline(params.deconvolution, params.spike_times, prepare, params.denoise or None)
bands, neurons, scores, status, note = session_expected_accuracy(
    noise, fs, session, indicator, folders, params.expected_accuracy, params.evaluation, pipeline
)
save_table(snakemake.output.table, bands)
save_table(snakemake.output.neurons, neurons)
save_table(snakemake.output.references, scores)
figure = expected_accuracy_figure(
    bands,
    noise.nu,
    note=note if status != "ok" else "",
    title=f"session {session} ({indicator}, {fs:g} Hz): expected spike-inference accuracy",
)
save_figure(figure, snakemake.output.figure)
log.info("expected accuracy of session %s: %s; %s", session, status, note)
flagged = int(neurons.quality_flag.sum())
if flagged:
    log.info("%d of %d neurons flagged: expected spike-inference r below 0.2", flagged, len(neurons))

"""Figure: distributions of per-neuron event features."""

from calcium.io import read_table
from calcium.logs import log_to
from calcium.plots import feature_distributions_figure, save_figure

log = log_to(snakemake.log[0], snakemake.wildcards)
columns = [
    ("event_rate_per_min", "event rate (events/min)"),
    ("mean_amplitude_dff", "mean amplitude (ΔF/F)"),
    ("mean_fwhm_s", "mean FWHM (s)"),
    ("mean_area_dff_s", "mean area (ΔF/F·s)"),
    ("iei_mean_s", "mean inter-event interval (s)"),
    ("iei_cv", "inter-event interval CV"),
    ("fraction_time_active", "fraction of time active"),
    ("burst_index", "burst index"),
    ("population_coupling", "population coupling (ratio)"),
    ("ensemble_event_fraction", "fraction of events in ensemble events"),
]
figure = feature_distributions_figure(
    read_table(snakemake.input[0]), columns, title=f"session {snakemake.wildcards.session}"
)
save_figure(figure, snakemake.output[0])
log.info("feature distributions drawn")

"""Remove slow drifts from the ΔF/F of one shard."""

from calcium.detrend import detrend
from calcium.io import load_npy, save_npy
from calcium.logs import log_to

log = log_to(snakemake.log[0], snakemake.wildcards)
settings = snakemake.params.detrend
detrended = detrend(
    load_npy(snakemake.input[0], slice(None)),
    snakemake.params.frame_rate_hz,
    method=settings["method"],
    slow_drift_s=settings["slow_drift_s"],
    percentile=settings["percentile"],
    highpass_order=settings["highpass_order"],
)
log.info(
    "detrended %d neurons (%s, slow_drift_s=%s)",
    detrended.shape[0],
    settings["method"],
    settings["slow_drift_s"],
)
save_npy(snakemake.output[0], detrended)

"""Wavelet-denoise the detrended ΔF/F of one shard."""

from calcium.denoise import wavelet_denoise
from calcium.io import load_npy, save_npy
from calcium.logs import log_to

log = log_to(snakemake.log[0], snakemake.wildcards)
settings = snakemake.params.denoise
denoised = wavelet_denoise(load_npy(snakemake.input[0], slice(None)), **settings)
log.info("denoised %d neurons with %s", denoised.shape[0], settings)
save_npy(snakemake.output[0], denoised)

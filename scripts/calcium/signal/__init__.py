"""Signal: each neuron's trace from fluorescence to spikes, vectorised across neurons.

- `dff` (ΔF/F on a robust F0, `baseline` its running percentiles), `detrend` (drifts slower
  than ~20 s), `denoise` (wavelets), `deconvolve` (OASIS; its default rule in
  `deconvolution_settings`, from `indicators` and `kernels`; band-limited traces at the rate
  `bandlimit` finds), `spikes` (spike times by thresholding the deconvolved activity)
- `stages`: what each per-neuron rule computes for one block of neurons (see `calcium.blocks`)
"""

from calcium import lazy_api

API = {
    "baseline_f0": "dff",
    "delta_f_over_f": "dff",
    "slow_trend": "detrend",
    "wavelet_denoise": "denoise",
    "deconvolve_traces": "deconvolve",
    "default_settings": "deconvolution_settings",
    "noise_sd": "deconvolve",
    "effective_frame_rate": "bandlimit",
    "spike_times_by_neuron": "spikes",
    "indicator_kinetics": "indicators",
    "calcium_kernel": "kernels",
}
__getattr__, __dir__ = lazy_api(__name__, API)

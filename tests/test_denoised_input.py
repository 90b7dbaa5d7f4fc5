"""Wavelet-denoised traces as the input of deconvolution and events (`deconvolution.input`,
`events.input`: denoised): the scan's rates, interpolation and noise are read from the detrended
trace they were denoised from, never from the shrunk band."""

from __future__ import annotations

import re

import numpy as np
import pytest
from test_deconvolve import _scanned_recording

from calcium.evaluation.session_accuracy import workflow_pipeline
from calcium.signal import stages
from calcium.signal.deconvolution_settings import default_settings
from calcium.signal.deconvolve import deconvolve_block, noise_sd
from calcium.signal.denoise import noise_left_sd, wavelet_denoise

DENOISE = {"wavelet": "sym4", "level": 3, "threshold_rule": "universal", "threshold_mode": "soft"}
OASIS_KEYS = ("ar_order", "tau_decay_s", "tau_rise_s", "penalty", "s_min", "optimize_g", "seed")


def test_the_noise_left_is_what_the_shrinkage_did_not_remove():
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 0.05, (20, 9000))
    sn = noise_sd(x)
    np.testing.assert_array_equal(noise_left_sd(x, x, sn, 0.125), sn)  # nothing removed: all of it
    # pure noise denoised: what is left is the approximation band's, 1/8 of the power at level 3
    left = noise_left_sd(wavelet_denoise(x, **DENOISE), x, sn, 0.125)
    np.testing.assert_allclose(left / sn, np.sqrt(0.125), rtol=0.15)
    assert np.all(left >= np.sqrt(0.125) * sn - 1e-12)  # never below the band nothing shrinks


@pytest.mark.parametrize(
    "indicator, fs", [("GCaMP6f", 30.0), ("GCaMP6s", 7.5), ("GCaMP8m", 100.0), ("OGB-1", 15.0)]
)
def test_denoised_input_is_deconvolved_at_the_scan_rate_with_the_scan_noise_left(indicator, fs):
    """Before: the wavelet shrinkage's missing high frequencies were read as the scan's band limit
    (a 30 Hz recording deconvolved at 1-5 Hz) and the noise was the shrunk band's: the spike
    amplitudes summed to 0.19-1.26x the detrended trace's. With the detrended trace beside it:
    natively sampled, the noise (and the spike-amplitude noise spike times are thresholded at) is
    the scan's, OASIS allows the noise denoising left, and the amplitudes sum to 1.07-1.26x."""
    x = np.stack([_scanned_recording(indicator, fs, seconds=240.0, seed=seed) for seed in (1, 2, 3)])
    denoised = wavelet_denoise(x, **DENOISE).astype(float)
    settings = default_settings(indicator, fs)
    args = (fs, settings["smoothing_s"], settings["lag_s"], settings["timing"])
    oasis = {k: settings[k] for k in OASIS_KEYS}
    block = deconvolve_block(slice(0, 3), denoised, *args, noise_traces=x, denoise=DENOISE, **oasis)
    table = block.tables[0]
    np.testing.assert_array_equal(table.effective_rate_hz, fs)
    assert (table.rate_reason == "natively sampled").all()
    np.testing.assert_allclose(table.noise_sd_dff, noise_sd(x))
    alone = deconvolve_block(slice(0, 3), denoised, *args, **oasis).tables[0]
    assert np.any(alone.effective_rate_hz < fs)  # alone: as if scanned slower
    detrended = deconvolve_block(slice(0, 3), x, *args, **oasis).tables[0]
    ratio = table.spike_sum_dff / detrended.spike_sum_dff
    assert ratio.between(0.9, 1.3).all(), ratio
    # the expected accuracy's pipeline does what the rule does
    activity, _ = workflow_pipeline(settings, {"method": "noise"}, None, DENOISE)(x, fs, 0.0)
    np.testing.assert_array_equal(activity, block.arrays[2])


def test_events_on_denoised_traces_read_the_interpolation_from_the_detrended_ones():
    """Events on denoised traces are thresholded at σ of the scan's samples where the detrended
    traces they came from were linearly interpolated (a 7.5 Hz scan on a 30 Hz clock), and at
    σ of all samples where those were scanned at 30 Hz: the denoised traces alone look
    interpolated in both cases (their shrunk top band), so the scan rate is read from the
    detrended ones (`noise_traces`)."""
    from calcium.population.events import detect_events

    scan_hz, fs = 7.5, 30.0
    scans = np.stack([_scanned_recording("GCaMP6f", scan_hz, seconds=300.0, seed=s) for s in (4, 5)])
    t = np.arange(scans.shape[1]) / scan_hz
    grid = np.arange(0.0, t[-1], 1.0 / fs)
    interpolated = np.stack([np.interp(grid, t, row) for row in scans])
    native = np.stack([_scanned_recording("GCaMP6f", fs, seconds=300.0, seed=s) for s in (4, 5)])
    for x, scan_rate in ((interpolated, scan_hz), (native, np.nan)):
        denoised = wavelet_denoise(x, **DENOISE).astype(float)
        assert np.isfinite(stages.interpolated_scan_rates(denoised, fs)).any()  # alone: looks interpolated
        rates = np.full(2, scan_rate)
        np.testing.assert_allclose(stages.interpolated_scan_rates(x, fs), rates, rtol=0.05)
        _, thresholds = stages.events(slice(0, 2), denoised, fs, noise_traces=x, k_sigma=5.0).tables
        expected = detect_events(
            denoised, fs, k_sigma=5.0, scan_rates_hz=stages.interpolated_scan_rates(x, fs)
        )[1]
        np.testing.assert_array_equal(thresholds.noise_sd_dff, expected.noise_sd_dff)
        alone = stages.events(slice(0, 2), denoised, fs, k_sigma=5.0).tables[1]
        if np.isnan(scan_rate):  # natively sampled: σ of every sample, not of a scan it never had
            assert not np.allclose(thresholds.noise_sd_dff, alone.noise_sd_dff)


def test_a_flat_neuron_denoised_gets_no_spikes():
    """A flat ROI detrends to zeros; denoised input (its noise read from those zeros) gives it no
    spikes, a NaN decay and finite outputs, as detrended input does."""
    fs = 30.0
    x = np.stack([_scanned_recording("GCaMP6f", fs, seconds=120.0, seed=8), np.zeros(3600)])
    denoised = wavelet_denoise(x, **DENOISE).astype(float)
    settings = default_settings("GCaMP6f", fs)
    args = (fs, settings["smoothing_s"], settings["lag_s"], settings["timing"])
    block = deconvolve_block(
        slice(0, 2), denoised, *args, noise_traces=x, denoise=DENOISE, **{k: settings[k] for k in OASIS_KEYS}
    )
    assert all(np.isfinite(array).all() for array in block.arrays)
    table = block.tables[0]
    assert table.spike_sum_dff[1] == 0 and np.isnan(table.g1[1]) and table.spike_sum_dff[0] > 0


def test_the_workflow_deconvolves_and_detects_events_on_denoised_traces_within_trials(workflow_copy):
    """`deconvolution.input` and `events.input` denoised, on sessions cut into trials: both rules
    read the detrended traces beside the denoised ones (each trial's part), and every neuron of the
    bundled session (natively sampled at 5 Hz; alone, its denoised traces look band-limited) is
    deconvolved at its frame rate."""
    import pandas as pd
    import yaml
    from conftest import snakemake
    from test_trial_structure import _trial_sheet

    _trial_sheet(workflow_copy)
    config = yaml.safe_load((workflow_copy / "config.yaml").read_text())
    config["deconvolution"]["input"] = config["events"]["input"] = "denoised"
    (workflow_copy / "config.yaml").write_text(yaml.safe_dump(config))
    targets = ["results/s1/deconvolution_settings.tsv", "results/s1/events/events.csv"]
    planned = snakemake(workflow_copy, "-n", *targets)
    assert planned.returncode == 0, planned.stdout[-3000:]
    jobs = [
        job
        for job in re.split(r"^\[.*\]$", planned.stdout, flags=re.M)
        if "rule deconvolve:" in job or "rule events:" in job
    ]
    assert len(jobs) == 2
    for job in jobs:
        inputs = next(line for line in job.splitlines() if line.strip().startswith("input:"))
        assert "denoised.npy" in inputs and "detrended.npy" in inputs, job
    result = snakemake(workflow_copy, *targets)
    assert result.returncode == 0, result.stdout[-3000:]
    table = pd.read_csv(workflow_copy / targets[0], sep="\t")
    assert (table.rate_reason == "natively sampled").all(), table.rate_reason.value_counts()
    assert len(pd.read_csv(workflow_copy / targets[1])) > 0


def test_a_decay_estimated_for_denoised_input_is_the_detrended_traces():
    """tau_decay_s null (OASIS estimates the AR coefficients): from the detrended trace, whose
    autocovariance holds the scan's noise at lag 0 as OASIS's estimate assumes; the denoised
    trace's own estimate reads the shrinkage's smoothing as a slower decay."""
    from calcium.signal.decay_estimate import oasis_ar_estimate
    from calcium.signal.deconvolve import deconvolve_traces

    fs = 30.0
    x = np.stack([_scanned_recording("GCaMP6f", fs, seconds=240.0, seed=s) for s in (6, 7)])
    denoised = wavelet_denoise(x, **DENOISE).astype(float)
    result = deconvolve_traces(denoised, fs, tau_decay_s=None, noise_traces=x, denoise_level=3)
    expected = [oasis_ar_estimate(row, 1)[0] for row in x]
    np.testing.assert_allclose(result.g[:, 0], expected)
    assert not np.allclose(deconvolve_traces(denoised, fs, tau_decay_s=None).g[:, 0], expected)
    with pytest.raises(ValueError, match="denoise_level"):
        deconvolve_traces(denoised, fs, noise_traces=x)

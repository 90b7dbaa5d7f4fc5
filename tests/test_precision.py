"""calcium.signal.precision: smoothing from how reproducibly a neuron's spikes are placed."""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

from calcium.signal.deconvolution_settings import default_settings
from calcium.signal.deconvolve import deconvolve_block, deconvolve_traces
from calcium.signal.precision import choose_extra_smoothing, redrawn_traces, reproducible_smoothing

FS = 30.0


def _traces(amplitudes, noise_sd=0.05, n_frames=3000, seed=0):
    """GCaMP6s-like AR(1) traces (decay 1.25 s) of Poisson spikes (1 Hz), one row per amplitude."""
    rng = np.random.default_rng(seed)
    g = np.exp(-1.0 / (1.25 * FS))
    rows = []
    for amplitude in amplitudes:
        spikes = rng.poisson(1.0 / FS, n_frames) * amplitude
        calcium = lfilter([1.0], [1.0, -g], spikes)
        rows.append(calcium + rng.normal(0.0, noise_sd, n_frames))
    return np.array(rows)


def test_clean_spikes_get_no_extra_smoothing_and_noisy_ones_do():
    traces = _traces([1.0, 0.08])  # single-spike signal 20x and 1.6x the noise SD
    result = deconvolve_traces(traces, FS, tau_decay_s=1.25)
    again = deconvolve_traces(
        redrawn_traces(result.calcium, result.baseline, result.noise_sd, result.rate_hz, FS),
        FS,
        tau_decay_s=1.25,
    )
    base = np.full(2, 1 / (np.sqrt(12) * FS))
    extra, reproducibility = reproducible_smoothing(result.spikes, again.spikes, FS, base, target=0.85)
    assert extra[0] == 0.0 and reproducibility[0] >= 0.85, (extra, reproducibility)
    assert extra[1] >= 0.02, (extra, reproducibility)
    # a neuron's redrawn trace has its own noise level, and depends on its id only
    full = redrawn_traces(result.calcium, result.baseline, result.noise_sd, result.rate_hz, FS)
    residual = full - (result.calcium + result.baseline[:, None])
    np.testing.assert_allclose(residual.std(axis=1), result.noise_sd, rtol=0.05)
    alone = redrawn_traces(
        result.calcium[1:], result.baseline[1:], result.noise_sd[1:], result.rate_hz[1:], FS, neuron_ids=[1]
    )
    np.testing.assert_array_equal(alone[0], full[1])


def test_choice_is_the_first_extra_reaching_the_target():
    curve = np.array([[0.9, 0.95, 0.97], [0.5, 0.86, 0.9], [0.1, 0.2, 0.3], [np.nan, np.nan, np.nan]])
    extra, reached = choose_extra_smoothing(curve, 0.85, (0.0, 0.02, 0.05))
    np.testing.assert_array_equal(extra, [0.0, 0.02, 0.05, 0.0])
    np.testing.assert_array_equal(reached[:3], [0.9, 0.86, 0.3])
    # one target per neuron (a neuron whose decay was lengthened must reach a higher one)
    extra, reached = choose_extra_smoothing(curve[:2], np.array([0.95, 0.85]), (0.0, 0.02, 0.05))
    np.testing.assert_array_equal(extra, [0.02, 0.02])


def test_deconvolution_table_says_what_each_neuron_got():
    traces = _traces([1.0, 0.08], seed=1)
    settings = default_settings("GCaMP6s", FS)
    oasis = {
        k: settings[k]
        for k in ("ar_order", "tau_decay_s", "tau_rise_s", "penalty", "s_min", "optimize_g", "seed")
    }
    block = deconvolve_block(
        slice(0, 2), traces, FS, settings["smoothing_s"], settings["lag_s"], settings["timing"], **oasis
    )
    table = block.tables[0]
    np.testing.assert_allclose(table.smoothing_s, np.hypot(settings["smoothing_s"], table.extra_smoothing_s))
    assert table.extra_smoothing_s[0] == 0.0 and table.extra_smoothing_s[1] > 0.0
    # a smoothing fixed in the config is used as is
    fixed = default_settings("GCaMP6s", FS, {"smoothing_s": 0.05})
    block = deconvolve_block(slice(0, 2), traces, FS, 0.05, fixed["lag_s"], fixed["timing"], **oasis)
    np.testing.assert_array_equal(block.tables[0].smoothing_s, 0.05)
    np.testing.assert_array_equal(block.tables[0].extra_smoothing_s, 0.0)

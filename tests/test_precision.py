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


def _long_traces(seconds=1500.0, seed=3):
    """Three GCaMP6s-like neurons of 1 Hz Poisson spikes (single-spike signal 10x, 4x and 2.4x the
    noise SD) and one that fires from 300 s to 390 s only, longer than the bootstrap's window."""
    n = int(seconds * FS)
    traces = _traces([0.5, 0.2, 0.12, 0.5], n_frames=n, seed=seed)
    quiet = _traces([0.5], n_frames=int(90 * FS), seed=seed + 1)[0]
    traces[3] = np.random.default_rng(seed).normal(0.0, 0.05, n)
    traces[3, int(300 * FS) : int(300 * FS) + quiet.size] = quiet
    return traces


def test_bootstrap_parts_of_a_long_recording():
    from calcium.signal.bootstrap_parts import (
        BOOTSTRAP_SEGMENTS,
        BOOTSTRAP_WINDOW_S,
        bootstrap_parts,
        bootstrap_segments,
    )

    # up to the window: the whole recording (what the ground truth's recordings but 7 of 733 get)
    n = int(BOOTSTRAP_WINDOW_S * FS)
    np.testing.assert_array_equal(bootstrap_segments(n, FS), [[0, n]])
    candidates = bootstrap_segments(100_000, FS)  # 55.6 min at 30 Hz: 11 slices of 300 s
    length = round(BOOTSTRAP_WINDOW_S * FS / BOOTSTRAP_SEGMENTS)
    assert len(candidates) == 100_000 // length
    np.testing.assert_array_equal(candidates[:, 1] - candidates[:, 0], length)
    slices = np.arange(len(candidates) + 1) * 100_000 / len(candidates)
    assert np.all(candidates[:, 0] >= slices[:-1]) and np.all(candidates[:, 1] <= slices[1:])  # one in each
    # per neuron: spread evenly (parts 1, 5, 9 of 11), with the one where its spikes have the most
    # energy in place of the nearest
    spikes = np.zeros((3, 100_000), dtype=np.float32)
    spikes[0, candidates[[7, 2, 9], 0] + 5] = [3.0, 2.0, 1.0]
    spikes[1, candidates[0, 0] + 5] = 1.0
    chosen = bootstrap_parts(spikes, candidates)
    np.testing.assert_array_equal(chosen[0], candidates[[1, 7, 9]])
    np.testing.assert_array_equal(chosen[1], candidates[[0, 5, 9]])
    np.testing.assert_array_equal(chosen[2], candidates[[1, 5, 9]])  # silent: spread evenly


def test_windowed_bootstrap_matches_the_whole_recording(monkeypatch):
    import calcium.signal.bootstrap_parts as parts_of
    import calcium.signal.precision as precision

    traces = _long_traces()
    result = deconvolve_traces(traces, FS, tau_decay_s=1.25)
    base = np.full(traces.shape[0], 1 / (np.sqrt(12) * FS))
    ids = np.arange(traces.shape[0])
    timing = {"reproducibility_target": 0.85}
    oasis = {"tau_decay_s": 1.25}
    parts = parts_of.bootstrap_segments(traces.shape[1], FS)[[1, 3]]  # two of five, apart
    # each part, deconvolved with its margins, gives the whole redrawn trace's spikes on its frames
    # (but for the noise constraint's lambda, set on the part): OASIS's free start would put the
    # calcium at the part's start into its first frame
    redrawn = redrawn_traces(result.calcium, result.baseline, result.noise_sd, result.rate_hz, FS)
    whole = deconvolve_traces(redrawn, FS, tau_decay_s=1.25).spikes
    margins = parts_of.bootstrap_margins(result.g, result.rate_hz, base, FS, max(precision.EXTRA_SMOOTHING_S))
    assert np.all(margins >= parts_of.MARGIN_DECAYS * 1.25 * FS)
    windowed = parts_of.deconvolve_parts(redrawn, FS, parts, margins, ids, result.rate_hz, None, oasis)
    frames = np.concatenate([np.arange(a, b) for a, b in parts])
    difference = np.abs(windowed[:3, frames] - whole[:3, frames])
    assert difference[0].max() < 0.05  # a tenth of a spike (0.084 without the margins)
    assert np.all(difference.sum(axis=1) < 0.06 * whole[:3, frames].sum(axis=1))
    # smoothing part by part is smoothing the whole row, on the parts' frames
    smoothed = precision._smoothed_parts(whole, FS, base + 0.08, parts)
    full = precision._smoothed_parts(whole, FS, base + 0.08, None)
    np.testing.assert_allclose(smoothed, full[:, frames], rtol=1e-6, atol=1e-9)

    _, extra, reproducible = precision.precision_smoothing(result, FS, base, ids, timing, None, oasis)
    monkeypatch.setattr(precision, "bootstrap_segments", lambda n, fs: np.array([[0, n]]))
    _, extra_whole, reproducible_whole = precision.precision_smoothing(
        result, FS, base, ids, timing, None, oasis
    )
    steps = np.searchsorted(precision.EXTRA_SMOOTHING_S, extra) - np.searchsorted(
        precision.EXTRA_SMOOTHING_S, extra_whole
    )
    assert np.all(np.abs(steps) <= 1), (extra, extra_whole, reproducible, reproducible_whole)
    np.testing.assert_allclose(reproducible, reproducible_whole, atol=0.03)
    assert extra_whole[0] == 0.0 and extra_whole[2] > extra_whole[1] > 0.0  # the neurons differ
    # a neuron firing from 300 s to 390 s only is measured where it fires (not on noise elsewhere)
    assert extra[3] == extra_whole[3] == 0.0 and reproducible[3] > 0.95
    # a neuron's result does not depend on the others
    monkeypatch.undo()
    alone = deconvolve_traces(traces[1:2], FS, tau_decay_s=1.25, neuron_ids=[1])
    _, extra_alone, reproducible_alone = precision.precision_smoothing(
        alone, FS, base[1:2], [1], timing, None, oasis
    )
    assert extra_alone[0] == extra[1] and reproducible_alone[0] == reproducible[1]

"""Unit tests for calcium.signal.dff: baseline F0 and ΔF/F."""

from __future__ import annotations

import re

import numpy as np
import pytest

from calcium.signal.dff import BaselineError, baseline_f0, delta_f_over_f


def _quiet_majority_dff(rng, n_neurons, n_frames, active_fraction=0.15):
    """ΔF/F that is exactly 0 on most frames, with positive exponential transients."""
    x = np.zeros((n_neurons, n_frames))
    kernel = np.exp(-np.arange(20) / 5.0)
    for row in range(n_neurons):
        n_events = int(active_fraction * n_frames / len(kernel))
        onsets = rng.choice(n_frames - len(kernel), n_events, replace=False)
        for onset in onsets:
            x[row, onset : onset + len(kernel)] += rng.uniform(0.5, 2.0) * kernel
    return x


def test_dff_recovers_planted_relative_change():
    rng = np.random.default_rng(0)
    n_neurons, n_frames = 8, 2000
    x = _quiet_majority_dff(rng, n_neurons, n_frames)
    assert np.mean(x == 0, axis=1).min() >= 0.75  # the 25th percentile of 1 + x is 1
    f0 = rng.uniform(100.0, 2000.0, (n_neurons, 1))
    fluorescence = f0 * (1 + x)
    estimated_f0 = baseline_f0(fluorescence)
    assert estimated_f0.shape == (n_neurons, 1)
    np.testing.assert_allclose(estimated_f0, f0, rtol=1e-5)
    dff = delta_f_over_f(fluorescence, estimated_f0)
    assert dff.shape == (n_neurons, n_frames)
    np.testing.assert_allclose(dff, x, rtol=1e-5, atol=1e-5)


def test_baseline_percentile_argument_is_used():
    trace = np.arange(1.0, 101.0)[None, :]  # 1..100
    assert baseline_f0(trace, percentile=0.0)[0, 0] == pytest.approx(1.0)
    assert baseline_f0(trace, percentile=100.0)[0, 0] == pytest.approx(100.0)
    assert baseline_f0(trace, percentile=50.0)[0, 0] == pytest.approx(50.5)


def test_sliding_baseline_follows_bleaching():
    rng = np.random.default_rng(1)
    fs, duration_s, tau_bleach_s = 10.0, 300.0, 200.0
    t = np.arange(int(fs * duration_s)) / fs
    f0 = rng.uniform(200.0, 800.0, (5, 1))
    bleaching = f0 * np.exp(-t / tau_bleach_s)[None, :]
    sliding = baseline_f0(bleaching, window_s=10.0, frame_rate_hz=fs)
    assert sliding.shape == bleaching.shape
    dff = delta_f_over_f(bleaching, sliding)
    # A 10 s window on a 200 s decay: the 25th percentile lags by 10/4/200 = 1.25 %,
    # plus up to 10/2/200 = 2.5 % at the ends where F0 is held.
    assert np.abs(dff).max() < 0.05
    # A single global F0 cannot follow it (a 4.5-fold decay over the recording).
    global_dff = delta_f_over_f(bleaching, baseline_f0(bleaching))
    assert np.abs(global_dff).max() > 0.3


def test_sliding_baseline_ignores_transients_on_a_bleaching_trace():
    rng = np.random.default_rng(2)
    fs, n_frames = 10.0, 4000
    t = np.arange(n_frames) / fs
    x = _quiet_majority_dff(rng, 4, n_frames, active_fraction=0.1)
    tau_bleach_s, window_s = 300.0, 20.0
    rest = 500.0 * np.exp(-t / tau_bleach_s)[None, :]
    fluorescence = rest * (1 + x)
    dff = delta_f_over_f(fluorescence, baseline_f0(fluorescence, window_s=window_s, frame_rate_hz=fs))
    # (1 + ΔF/F) / (1 + x) = rest / F0: the relative error of F0. A 25th percentile
    # lags the window centre by window/4 (1.7 %); within window/2 of either end
    # F0 is held, adding up to another (window/2) / tau (3.3 %).
    relative = np.abs((1 + dff) / (1 + x) - 1)
    lag = window_s / 4 / tau_bleach_s
    edge = window_s / 2 / tau_bleach_s
    assert relative.max() < lag + edge + 0.005
    interior = slice(int(window_s * fs), n_frames - int(window_s * fs))
    assert relative[:, interior].max() < lag + 0.005


def test_sliding_baseline_needs_a_frame_rate():
    with pytest.raises(ValueError, match="frame_rate_hz"):
        baseline_f0(np.ones((2, 100)), window_s=5.0)
    with pytest.raises(ValueError, match="frame_rate_hz"):
        baseline_f0(np.ones((2, 100)), window_s=5.0, frame_rate_hz=0.0)


def _listed_ids(message):
    match = re.search(r"output tables\): ([^.]*)\.", message)
    assert match, message
    return [int(v) for v in match.group(1).split(", ")]


def test_low_f0_error_names_offending_neurons():
    fluorescence = np.full((5, 100), 300.0)
    fluorescence[1] = -20.0  # background-subtracted neuron
    fluorescence[3] = 1e-4  # below min_f0
    f0 = baseline_f0(fluorescence)
    ids = np.array([101, 202, 303, 404, 505])
    with pytest.raises(BaselineError) as info:
        delta_f_over_f(fluorescence, f0, min_f0=1e-3, neuron_ids=ids)
    message = str(info.value)
    assert _listed_ids(message) == [202, 404]
    assert "2 neuron(s)" in message
    # Default ids are row numbers.
    with pytest.raises(BaselineError) as info:
        delta_f_over_f(fluorescence, f0, min_f0=1e-3)
    assert _listed_ids(str(info.value)) == [1, 3]


def test_low_f0_error_with_a_sliding_baseline():
    fluorescence = np.full((3, 200), 50.0)
    fluorescence[2, :100] = 0.0  # F0 dips to 0 in part of the recording only
    f0 = baseline_f0(fluorescence, window_s=2.0, frame_rate_hz=10.0)
    with pytest.raises(BaselineError) as info:
        delta_f_over_f(fluorescence, f0, neuron_ids=[7, 8, 9])
    assert _listed_ids(str(info.value)) == [9]


def test_low_f0_error_truncates_long_lists():
    fluorescence = np.zeros((25, 10))
    with pytest.raises(BaselineError) as info:
        delta_f_over_f(fluorescence, baseline_f0(fluorescence))
    message = str(info.value)
    assert "25 neuron(s)" in message
    assert message.count(", ") >= 19 and " ..." in message
    assert ", 20," not in message and ", 19 ..." in message


def test_low_f0_clip_gives_finite_output_and_keeps_good_neurons():
    rng = np.random.default_rng(3)
    fluorescence = rng.uniform(100.0, 200.0, (4, 500))
    fluorescence[0] -= 150.0  # some values negative, F0 around 0 or below
    f0 = baseline_f0(fluorescence)
    assert f0[0, 0] < 1e-3
    clipped = delta_f_over_f(fluorescence, f0, min_f0=1e-3, low_f0="clip")
    assert np.isfinite(clipped).all()
    np.testing.assert_allclose(clipped[0], (fluorescence[0] - 1e-3) / 1e-3, rtol=1e-4)
    np.testing.assert_allclose(clipped[1:], delta_f_over_f(fluorescence[1:], f0[1:]), rtol=1e-6)


def test_unknown_low_f0_policy_raises():
    with pytest.raises(ValueError, match="low_f0"):
        delta_f_over_f(np.zeros((2, 10)), np.zeros((2, 1)), low_f0="ignore")


def _transients(rng, n_neurons: int, n_frames: int, fs: float) -> np.ndarray:
    """Fractional ΔF/F: calcium transients (amplitude 0.2-2, 0.5 s decay) at 0.2 Hz."""
    spikes = rng.poisson(0.2 / fs, (n_neurons, n_frames)) * rng.uniform(0.2, 2.0, (n_neurons, 1))
    kernel = np.exp(-np.arange(int(5 * fs) + 1) / (0.5 * fs))
    return np.stack([np.convolve(row, kernel)[:n_frames] for row in spikes])


@pytest.mark.parametrize("fs", [1.0, 5.0, 30.0])
@pytest.mark.parametrize("noise", [0.02, 0.1, 0.5])
def test_traces_on_another_scale_than_the_sheet_says_are_refused_and_others_are_not(fs, noise):
    """ΔF/F in percent, raw fluorescence called ΔF/F, or ΔF/F called raw gave every ΔF/F-unit
    number off by 100x (or 10x) while the spike and event counts looked normal. Fractional
    ΔF/F (noise 0.02-0.5 of F0) and raw fluorescence (F0 100-1000, noise up to 0.5 of F0) pass."""
    from calcium.signal.dff import scale_mismatch

    rng = np.random.default_rng(int(fs * 10 + noise * 100))
    dff = _transients(rng, 20, int(120 * fs), fs) + rng.normal(0, noise, (20, int(120 * fs)))
    f0 = rng.uniform(100, 1000, (20, 1))
    raw = f0 * (1 + dff)
    assert scale_mismatch(dff, "dff") is None
    assert scale_mismatch(raw, "raw") is None
    assert "in percent" in scale_mismatch(100 * dff, "dff")
    assert "input_kind: raw" in scale_mismatch(raw, "dff").replace("Set", "set")
    assert "ΔF/F already" in scale_mismatch(dff, "raw")


def test_a_scale_mismatch_is_judged_once_per_session_and_names_the_fix():
    """Judged on neurons spread over the whole session (per block, a run of noisy ROIs in one block
    stopped a session that 1 process ran: the verdict depended on the processes); percent ΔF/F
    resting above 5 (a low-percentile baseline) is percent, not raw fluorescence; background-
    subtracted raw F passes with dff.low_f0: clip, the fix its refusal names."""
    from calcium.signal.dff import ScaleError, check_session_scale, scale_mismatch

    rng = np.random.default_rng(3)
    dff = _transients(rng, 40, 3000, 30.0) + rng.normal(0, 0.1, (40, 3000))
    with pytest.raises(ScaleError, match="input_kind dff: .*Divide them by 100"):
        check_session_scale(100 * dff, "dff")
    noisy_first = dff.copy()
    noisy_first[:8] = rng.normal(0, 1.5, (8, 3000))  # a block's worth of noisy ROIs
    check_session_scale(noisy_first, "dff")
    assert "in percent" in scale_mismatch(noisy_first[:8], "dff")  # what one block alone said
    percent = 100 * (dff - np.percentile(dff, 8, axis=1, keepdims=True)) + 5
    assert "in percent" in scale_mismatch(percent, "dff")
    subtracted = 5 * (1 + dff) + rng.normal(0, 10, dff.shape)
    assert "dff.low_f0: clip" in scale_mismatch(subtracted, "raw")
    check_session_scale(subtracted, "raw", low_f0="clip")
    gaps = np.array([[0, 1000], [1500, 3000]])
    with_gap = dff.copy()
    with_gap[:, 1000:1500] = 0.0
    check_session_scale(with_gap, "dff", trials=gaps)


def test_the_session_scale_check_reads_a_bounded_sample(tmp_path):
    """Up to 128 neurons x 20 000 frames, however long the recording (it read 128 whole rows as
    float64 and copied them: 1.9 GB for 200 neurons x 300 000 frames, beyond the rule's memory)."""
    import tracemalloc

    from calcium.signal.dff import check_session_scale

    traces = np.lib.format.open_memmap(tmp_path / "t.npy", mode="w+", dtype=np.float32, shape=(150, 100_000))
    traces[:] = 0.05 * np.random.default_rng(0).standard_normal((150, 100_000), dtype=np.float32)
    traces.flush()
    tracemalloc.start()
    check_session_scale(np.load(tmp_path / "t.npy", mmap_mode="r"), "dff")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 120e6, peak  # the sample and a few copies of it; all 128 rows whole: > 400 MB

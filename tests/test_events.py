"""Unit tests for calcium.population.events: thresholds and calcium-event detection on planted transients."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.signal import peak_widths

from calcium.population.events import (
    EVENT_COLUMNS,
    detect_events,
    empty_events,
    event_thresholds,
    robust_baseline_and_sd,
)
from calcium.signal.kernels import kernel_fwhm_s, plausible_min_fwhm_s, sampled_fwhm_s
from calcium.synthetic import calcium_kernel

FS = 10.0
TAU_S = 1.0
NOISE_SD = 0.05
N_FRAMES = 1500
STARTS = np.arange(100, 1400, 200)  # 7 isolated transients, 20 s apart


def _kernel() -> np.ndarray:
    """Exponential transient, amplitude 1, tau 1 s, sampled at 10 Hz (instantaneous rise)."""
    return calcium_kernel("exponential", FS, tau_decay_s=TAU_S)


def _transients(starts, n_frames=N_FRAMES, amplitudes=None) -> np.ndarray:
    kernel = _kernel()
    trace = np.zeros(n_frames)
    amplitudes = np.ones(len(starts)) if amplitudes is None else amplitudes
    for start, amplitude in zip(starts, amplitudes, strict=True):
        stop = min(start + kernel.size, n_frames)
        trace[start:stop] += amplitude * kernel[: stop - start]
    return trace


def _noise(seed: int, n_frames=N_FRAMES, sd=NOISE_SD) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, sd, n_frames)


# --- thresholds ------------------------------------------------------------------------------------


def test_robust_sd_ignores_transients_and_matches_noise_sd():
    clean = _transients(STARTS[::3], amplitudes=np.full(3, 2.0))  # 3 transients in 150 s
    trace = clean + _noise(0)
    baseline, sd = robust_baseline_and_sd(trace[None])
    # Sparse transients barely move the median/MAD, while they inflate the plain SD.
    assert sd[0] == pytest.approx(NOISE_SD, rel=0.1)
    assert abs(baseline[0]) < 0.01
    assert trace.std() > 2 * NOISE_SD
    # Exact definition: 1.4826 * median absolute deviation from the median.
    x = np.array([[0.0, 1.0, 2.0, 3.0, 10.0]])
    baseline, sd = robust_baseline_and_sd(x)
    assert baseline[0] == 2.0
    assert sd[0] == pytest.approx(1.482602218505602)  # 1 / Φ⁻¹(0.75): a normal SD per unit MAD


def test_thresholds_are_k_sigma_above_baseline_with_an_absolute_floor():
    rng = np.random.default_rng(1)
    traces = np.stack([rng.normal(0.3, 0.1, 5000), rng.normal(-0.1, 0.001, 5000)])
    table = event_thresholds(traces, k_sigma=4.0, min_amplitude_dff=0.2)
    assert list(table.columns) == ["baseline_dff", "noise_sd_dff", "threshold_dff"]
    np.testing.assert_allclose(table.baseline_dff, [0.3, -0.1], atol=0.01)
    np.testing.assert_allclose(table.noise_sd_dff, [0.1, 0.001], rtol=0.05)
    # Noisy neuron: k·σ (0.4) > floor (0.2); quiet neuron: floor (0.2) > k·σ (0.004).
    expected = table.baseline_dff + np.maximum(4.0 * table.noise_sd_dff, 0.2)
    np.testing.assert_allclose(table.threshold_dff, expected)
    assert table.threshold_dff[0] - table.baseline_dff[0] > 0.35
    assert table.threshold_dff[1] - table.baseline_dff[1] == pytest.approx(0.2)


# --- planted transients ----------------------------------------------------------------------------


def test_one_event_per_planted_transient_at_the_right_place_and_size():
    trace = _transients(STARTS) + _noise(0)
    events, thresholds = detect_events(trace[None], FS)
    assert list(events.columns) == EVENT_COLUMNS
    assert len(events) == len(STARTS)
    assert thresholds.n_events.tolist() == [len(STARTS)]
    events = events.sort_values("peak_frame")
    # Instantaneous rise: the planted peak and the planted start are the same frame.
    np.testing.assert_allclose(events.peak_frame, STARTS, atol=1)
    np.testing.assert_allclose(events.onset_frame, STARTS, atol=1)
    np.testing.assert_allclose(events.amplitude_dff, 1.0, rtol=0.1)
    # Times are frames / frame rate.
    np.testing.assert_allclose(events.peak_s, events.peak_frame / FS)
    np.testing.assert_allclose(events.onset_s, events.onset_frame / FS)
    np.testing.assert_allclose(events.end_s, events.end_frame / FS)
    # An event ends where the decay is back near rest (1 SD): e^{-t} = 0.05 at t ≈ 3 s.
    assert ((events.end_frame - events.peak_frame) / FS).between(1.5, 4.5).all()
    assert not events.exceeds_max_fwhm.any()


def test_fwhm_matches_the_planted_transient_within_one_frame():
    clean = _transients(STARTS)
    planted_fwhm_s = peak_widths(clean, STARTS, rel_height=0.5)[0] / FS
    assert planted_fwhm_s == pytest.approx(np.full(len(STARTS), TAU_S * np.log(2) + 0.5 / FS), abs=0.01)
    events, _ = detect_events((clean + _noise(0))[None], FS)
    assert len(events) == len(STARTS)
    # Timing noise at half height is noise SD / slope = 0.05 / 0.5 per s = 0.1 s (one frame) per edge.
    np.testing.assert_allclose(events.sort_values("peak_frame").fwhm_s, planted_fwhm_s, atol=2 / FS)
    assert abs(np.mean(events.fwhm_s) - planted_fwhm_s.mean()) < 0.5 / FS


def test_pure_noise_gives_almost_no_events():
    rng = np.random.default_rng(2)
    traces = rng.normal(0.0, NOISE_SD, (20, 3000))
    events, thresholds = detect_events(traces, FS, k_sigma=5.0)
    assert len(events) <= 1
    assert thresholds.n_events.sum() == len(events)
    # The same traces with a permissive threshold do produce events (the detector is live).
    loose, _ = detect_events(traces, FS, k_sigma=2.0, min_prominence_sd=1.0)
    assert len(loose) > 100


def test_compound_transient_gives_two_events_split_at_the_trough():
    first, second = 300, 315  # second transient 1.5 s later, first still at e^-1.5 ≈ 0.22
    clean = _transients([first, second], n_frames=800)
    trace = clean + _noise(3, n_frames=800)
    events, _ = detect_events(trace[None], FS)
    assert len(events) == 2
    a, b = events.sort_values("peak_frame").itertuples()
    assert abs(a.peak_frame - first) <= 1
    assert abs(b.peak_frame - second) <= 1
    trough = a.peak_frame + int(np.argmin(trace[a.peak_frame : b.peak_frame + 1]))
    assert b.onset_frame >= trough
    assert b.onset_frame <= second
    assert a.end_frame <= trough
    assert a.onset_frame == pytest.approx(first, abs=1)
    # The second peak stands on the first's decay: its amplitude above baseline includes the
    # residual of the first (≈ 1.22). It is the higher one, so the first's prominence is measured
    # down to the trough that separates them.
    assert b.amplitude_dff == pytest.approx(1.0 + np.exp(-1.5), abs=0.15)
    assert a.prominence_dff == pytest.approx(trace[a.peak_frame] - trace[trough])


def test_min_amplitude_floor_suppresses_small_bumps_of_a_quiet_neuron():
    tiny_sd = 0.001
    bumps = [100, 400, 700]  # 0.05 ΔF/F: 50 σ, but physiologically negligible
    big = [1000, 1300]
    clean = _transients(bumps, amplitudes=np.full(3, 0.05)) + _transients(big)
    trace = clean + _noise(4, sd=tiny_sd)
    unfloored, unfloored_thresholds = detect_events(trace[None], FS)
    assert sorted(unfloored.peak_frame) == bumps + big
    events, thresholds = detect_events(trace[None], FS, min_amplitude_dff=0.2)
    row = thresholds.iloc[0]
    assert row.threshold_dff >= row.baseline_dff + 0.2 - 1e-12
    assert row.threshold_dff > unfloored_thresholds.threshold_dff.iat[0] + 0.15
    assert sorted(events.peak_frame) == big


def _plateau(n_frames=1200, start=300, length_s=8.0, height=1.0):
    trace = np.zeros(n_frames)
    stop = start + int(round(length_s * FS))
    trace[start:stop] = height
    return trace, start, stop


def test_wide_plateau_is_flagged_and_kept():
    clean, start, stop = _plateau()
    noise = _noise(5, n_frames=clean.size)
    noise[start:stop] = 0.0  # a smooth plateau top: one local maximum
    trace = clean + noise
    events, _ = detect_events(trace[None], FS, max_fwhm_s=5.0)
    assert len(events) == 1
    event = events.iloc[0]
    assert event.fwhm_s == pytest.approx(8.0, abs=2 / FS)
    assert bool(event.exceeds_max_fwhm)
    assert event.onset_frame == start
    assert event.end_frame == stop - 1
    relaxed, _ = detect_events(trace[None], FS, max_fwhm_s=10.0)
    assert len(relaxed) == 1
    assert not relaxed.exceeds_max_fwhm.any()


def test_noisy_wide_plateau_is_one_flagged_event():
    clean, start, stop = _plateau()
    trace = clean + _noise(0, n_frames=clean.size)
    events, _ = detect_events(trace[None], FS, max_fwhm_s=5.0)
    assert len(events) == 1
    assert bool(events.exceeds_max_fwhm.iat[0])


def test_area_of_a_rectangular_event_is_height_times_duration():
    height, length_s = 0.8, 3.0
    clean, start, stop = _plateau(height=height, length_s=length_s)
    noise = _noise(6, n_frames=clean.size, sd=0.02)
    noise[start:stop] = 0.0
    events, thresholds = detect_events((clean + noise)[None], FS)
    assert len(events) == 1
    event = events.iloc[0]
    assert (event.onset_frame, event.end_frame) == (start, stop - 1)
    baseline = thresholds.baseline_dff.iat[0]
    assert event.area_dff_s == pytest.approx((height - baseline) * length_s, rel=1e-9)
    assert event.area_dff_s == pytest.approx(height * length_s, rel=0.02)
    assert event.amplitude_dff == pytest.approx(height, abs=0.01)


def test_neuron_ids_label_events_and_thresholds():
    traces = np.stack([_noise(7), _transients(STARTS[:3]) + _noise(8), _transients(STARTS[3:]) + _noise(9)])
    ids = np.array([40, 41, 42])
    # min_prominence_sd=5: no spurious split on a decay (not what this test is about).
    events, thresholds = detect_events(traces, FS, min_prominence_sd=5.0, neuron_ids=ids)
    assert thresholds.neuron.tolist() == [40, 41, 42]
    assert thresholds.n_events.tolist() == [0, 3, 4]
    assert events.groupby("neuron").size().to_dict() == {41: 3, 42: 4}
    np.testing.assert_allclose(events.loc[events.neuron == 42, "peak_frame"], STARTS[3:], atol=1)
    default, _ = detect_events(traces, FS, min_prominence_sd=5.0)
    assert sorted(default.neuron.unique()) == [1, 2]


def test_no_events_gives_an_empty_table_with_all_columns():
    events, thresholds = detect_events(_noise(10, n_frames=500)[None], FS, k_sigma=8.0)
    assert len(events) == 0
    assert list(events.columns) == EVENT_COLUMNS
    assert thresholds.n_events.tolist() == [0]
    empty = empty_events()
    assert list(empty.columns) == EVENT_COLUMNS
    assert empty.onset_frame.dtype == np.int64
    assert empty.exceeds_max_fwhm.dtype == bool
    assert empty.below_min_fwhm.dtype == bool
    # Concatenating with a real table keeps integer frames.
    real, _ = detect_events((_transients(STARTS[:1]) + _noise(11))[None], FS)
    both = pd.concat([empty, real], ignore_index=True)
    assert both.peak_frame.dtype == np.int64


# --- events too short to be calcium transients (issue 10, item 5) ----------------------------------


def test_minimum_fwhm_follows_the_indicator_and_the_frame_rate():
    # At high rates one spike's transient is sampled finely: the kernel's own FWHM.
    for decay, rise in ((1.25, 0.1), (0.7, 0.05)):
        assert sampled_fwhm_s(100.0, decay, rise) == pytest.approx(
            kernel_fwhm_s("double_exponential", decay, rise), rel=0.01
        )
    # GCaMP6f at 30 Hz: FWHM 0.65 s; a third of it is 6.5 frames.
    assert plausible_min_fwhm_s(30.0, 0.7, 0.05) == pytest.approx(0.652 / 3, rel=0.01)
    # At 1 Hz a transient spans at least about a frame once sampled: never below a frame.
    assert sampled_fwhm_s(1.0, 0.7, 0.05) >= 1.0
    # No rise time: an exponential (FWHM tau·ln 2 at high rates).
    assert sampled_fwhm_s(1000.0, 1.0, None) == pytest.approx(np.log(2), rel=0.01)


def test_short_spikes_are_flagged_and_calcium_transients_are_not():
    """30 Hz GCaMP6f: 1-3 frame spikes are flagged below_min_fwhm, single-spike transients are not."""
    fs = 30.0
    rng = np.random.default_rng(3)
    n_frames = 6000
    kernel = calcium_kernel("double_exponential", fs, 0.7, 0.05, first_sample_frames=0.5)
    trace = rng.normal(0.0, 0.05, n_frames)
    transients = np.arange(300, 5700, 600)
    for start in transients:
        trace[start : start + kernel.size] += 1.0 * kernel[: n_frames - start]
    blips = transients + 300
    for k, start in enumerate(blips):
        trace[start : start + 1 + k % 3] += 1.0  # 1, 2 or 3 frames
    minimum = plausible_min_fwhm_s(fs, 0.7, 0.05)
    events, _ = detect_events(trace[None], fs, min_fwhm_s=minimum)
    flagged = events[events.below_min_fwhm].peak_frame.to_numpy()
    kept = events[~events.below_min_fwhm]
    assert all(np.abs(flagged - blip).min() <= 2 for blip in blips)
    # Every transient's own event is kept; nothing else is (flagged extras are noise wiggles
    # splitting off a transient's decay: as implausible as the blips).
    np.testing.assert_allclose(np.sort(kept.peak_frame.to_numpy()), transients + 4, atol=3)
    assert kept.fwhm_s.min() > 0.5
    unflagged, _ = detect_events(trace[None], fs)  # min_fwhm_s = 0: no flag
    assert not unflagged.below_min_fwhm.any()


@pytest.mark.parametrize(
    ("frame_rate_hz", "tau_decay_s", "tau_rise_s"), [(4.8, 1.25, 0.1), (122.0, 0.2, 0.01), (1.0, 1.8, None)]
)
def test_half_height_width_is_scipys_peak_width(frame_rate_hz, tau_decay_s, tau_rise_s):
    from scipy.signal import peak_widths

    from calcium.signal.kernels import half_height_width

    for phase in np.linspace(0.0, 0.95, 7):
        t = (np.arange(int(10 * tau_decay_s * frame_rate_hz) + 3) - 1 - phase) / frame_rate_hz
        rise = np.exp(-np.maximum(t, 0) / tau_rise_s) if tau_rise_s else 0.0
        y = np.concatenate(
            [[0.0], np.where(t >= 0, np.exp(-np.maximum(t, 0) / tau_decay_s) - rise, 0.0), [0.0]]
        )
        expected = peak_widths(y, [int(np.argmax(y))], rel_height=0.5)[0][0]
        assert half_height_width(y) == pytest.approx(expected, abs=1e-12)


def test_a_trace_interpolated_from_a_slower_scan_gets_the_scans_threshold():
    """Pure noise scanned at 7.5 Hz and linearly interpolated to 30 Hz (np.interp): the peaks are
    the scan's samples but the values between them average two samples' noise, so the robust SD
    of the interpolated trace is ~0.83x the scan's and a 5-SD threshold cuts the scan's noise at
    ~4.2 SD (before: 13 events in 40 neurons x 15 min of noise, none at 7.5 Hz). Its SD is
    measured on the scan's samples: as many events as the scan itself gives (none). A natively
    sampled trace is left as it was."""
    from calcium.population.events import event_thresholds
    from calcium.signal.stages import events, interpolated_scan_rates

    rng = np.random.default_rng(3)
    scan_hz, frame_hz, n = 7.5, 30.0, 40
    scan = rng.normal(0, 0.1, (n, int(900 * scan_hz)))
    t = np.arange(scan.shape[1]) / scan_hz
    clock = np.arange(0, t[-1], 1 / frame_hz)
    interpolated = np.stack([np.interp(clock, t, row) for row in scan])
    rates = interpolated_scan_rates(interpolated, frame_hz)
    np.testing.assert_allclose(rates, scan_hz, rtol=0.04)
    as_is = event_thresholds(interpolated, 5.0)
    measured = event_thresholds(interpolated, 5.0, 0.0, frame_hz, rates)
    assert np.all(as_is.noise_sd_dff < 0.087)  # what was used before: ~0.083
    np.testing.assert_allclose(measured.noise_sd_dff, 0.1, rtol=0.05)  # the scan's
    assert len(events(slice(0, n), interpolated, frame_hz).tables[0]) == 0
    assert len(events(slice(0, n), scan, scan_hz).tables[0]) == 0
    assert np.all(np.isnan(interpolated_scan_rates(scan, scan_hz)))

"""Linear interpolation found over a session's neurons (calcium.signal.bandlimit, pooled evidence).

Interpolating a session's traces to a common clock is done by the acquisition or the user for
every neuron at once: a recording too short for any neuron alone to show it (under 16 Welch
segments, 2176 frames) shows it over the session. Natively sampled sessions, and the native
neurons of a mixed one, keep their rate.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

FS = 30.0
FRAMES = 1500  # 50 s at 30 Hz: 10 Welch segments, too few for a neuron alone


def _scan(fs: float, seconds: float, seed: int, nu: float = 1.0, rate_hz: float = 0.5, tau_s: float = 0.4):
    """ΔF/F of one neuron as a scan at fs records it: Poisson spikes on a 1/240 s grid, a rise and
    decay (peak 0.3) averaged over each frame's exposure, white noise of ν (%·Hz^-1/2)."""
    from scipy.signal import fftconvolve

    from calcium.evaluation.resampling import white_noise_sd_for_nu

    rng = np.random.default_rng(seed)
    fine = 240.0  # a whole number of steps per frame at 7.5, 12 and 30 Hz
    t = np.arange(int(6 * tau_s * fine)) / fine
    kernel = np.exp(-t / tau_s) - np.exp(-t / 0.02)
    counts = rng.poisson(rate_hz / fine, int(seconds * fine)).astype(float)
    calcium = fftconvolve(counts, 0.3 * kernel / kernel.max())[: counts.size]
    step = int(round(fine / fs))
    y = calcium[: calcium.size // step * step].reshape(-1, step).mean(axis=1)  # each frame's exposure
    return y + rng.normal(0.0, white_noise_sd_for_nu(nu, fs), y.size)


def _session(scan_hz: float, n: int, seed: int = 0) -> tuple[np.ndarray, list[np.ndarray]]:
    """(n neurons x FRAMES at FS, linearly interpolated from scans at scan_hz; the scans)."""
    rows, scans = [], []
    for k in range(n):
        y = _scan(
            scan_hz, FRAMES / FS + 1.0, seed * 1000 + k, nu=(0.5, 1.0, 2.0)[k % 3], tau_s=(0.3, 0.8)[k % 2]
        )
        scans.append(y)
        if scan_hz == FS:
            rows.append(y[:FRAMES])
        else:
            rows.append(np.interp(np.arange(FRAMES) / FS, np.arange(y.size) / scan_hz, y))
    return np.array(rows), scans


@pytest.mark.parametrize("scan_hz", [12.0, 7.5])
def test_a_short_interpolated_session_is_found_by_pooling(scan_hz):
    """20 neurons x 50 s scanned at 12 or 7.5 Hz and interpolated to 30 Hz: no neuron alone
    is taken as interpolated (too short; before pooling the whole session stayed at 30 Hz and
    its noise read 2-3x too low), the session is, at its scan's rate, and every neuron's ν is
    then measured there: 0.9-1.1x the scan's own (median; each within 25 %, a 50 s
    trace's own scatter)."""
    from calcium.evaluation.resampling import noise_level_nu
    from calcium.evaluation.session_accuracy import noise_at_scan_rates
    from calcium.signal.bandlimit import band_limits, linear_interpolation_rate

    traces, scans = _session(scan_hz, 20)
    assert np.all(np.isnan(linear_interpolation_rate(traces, FS)))  # each alone: not conclusive
    rates, interpolated = band_limits(traces, FS)
    assert interpolated.all()
    np.testing.assert_allclose(rates, scan_hz, rtol=0.03)
    nu = noise_at_scan_rates(traces, FS).nu
    truth = np.array([noise_level_nu(y[None, :], scan_hz)[0] for y in scans])
    assert np.median(nu / truth) == pytest.approx(1.0, abs=0.1)
    np.testing.assert_allclose(nu, truth, rtol=0.25)
    assert np.median(noise_level_nu(traces, FS) / truth) < 0.6  # read at 30 Hz, as before


def test_a_native_session_of_short_recordings_is_not_flagged():
    """20 natively sampled neurons x 50 s at 30 Hz and at 7.5 Hz (fast and slow decays, clean to
    noisy, a fast-firing clean one whose signal reaches the top octave): none is interpolated."""
    from calcium.signal.bandlimit import band_limits

    for fs in (FS, 7.5):
        rows = [
            _scan(
                fs,
                FRAMES / fs,
                k,
                nu=(0.1, 0.5, 1.0, 3.0)[k % 4],
                rate_hz=(3.0, 0.5)[k % 2],
                tau_s=(0.2, 1.0)[k % 2],
            )
            for k in range(20)
        ]
        rates, interpolated = band_limits(np.array(rows), fs)
        assert not interpolated.any(), fs
        # each row's own decision (the octave rule's band limits) untouched
        np.testing.assert_array_equal(rates, band_limits(np.array(rows), fs, session_ratio=np.nan)[0])


def test_a_mixed_session_is_not_forced():
    """12 neurons interpolated from 7.5 Hz and 8 natively sampled at 30 Hz, 50 s: the session's
    interpolation is taken by the 12, the 8 native ones (their own top octave fits a native shape
    better than that interpolation) keep 30 Hz. With 8 interpolated among 20 the pooled evidence
    (a median over neurons) shows none: a minority does not speak for a session."""
    from calcium.signal.bandlimit import band_limits

    interpolated_rows, _ = _session(7.5, 12, seed=1)
    native_rows, _ = _session(FS, 8, seed=2)
    rates, interpolated = band_limits(np.vstack([interpolated_rows, native_rows]), FS)
    assert interpolated[:12].all() and not interpolated[12:].any()
    np.testing.assert_allclose(rates[:12], 7.5, rtol=1e-9)
    assert np.all(rates[12:] == FS)
    rates, interpolated = band_limits(
        np.vstack([interpolated_rows[:8], native_rows, native_rows[:4] * 1.1]), FS
    )
    assert not interpolated.any()


def test_every_block_of_a_session_takes_the_sessions_interpolation(tmp_path):
    """The decision is the session's, computed once over its file (`file_interpolation_ratio`):
    a block of 3 neurons (too few to pool) deconvolved on its own takes it, so the outputs do not
    depend on how the session is cut into blocks, and `deconvolution.tsv` says why; a native
    session's file gives none."""
    from calcium.signal.bandlimit import band_limits
    from calcium.signal.deconvolution_settings import default_settings
    from calcium.signal.deconvolve import deconvolve_block
    from calcium.signal.scan_rate import file_interpolation_ratio

    traces, _ = _session(7.5, 16)
    path = tmp_path / "dff.npy"
    np.save(path, traces.astype(np.float32))
    ratio = file_interpolation_ratio(path, 16, FRAMES, FS)
    assert ratio == 4.0
    rates, interpolated = band_limits(traces[:3], FS, session_ratio=ratio)
    assert interpolated.all() and np.all(rates == 7.5)
    settings = default_settings("GCaMP6f", FS)
    keys = ("ar_order", "tau_decay_s", "tau_rise_s", "penalty", "s_min", "optimize_g", "seed")
    table = deconvolve_block(
        slice(0, 3), traces[:3], FS, 0.0, 0.0, settings["timing"], ratio, **{k: settings[k] for k in keys}
    ).tables[0]
    np.testing.assert_allclose(table.effective_rate_hz, 7.5, rtol=1e-3)
    assert table.rate_reason.str.contains(
        "the session's neurons together"
    ).all()  # deconvolution.tsv says why
    assert not band_limits(traces[:3], FS)[1].any()  # alone, 3 rows decide nothing
    native, _ = _session(FS, 16)
    np.save(path, native.astype(np.float32))
    assert np.isnan(file_interpolation_ratio(path, 16, FRAMES, FS))


def test_a_short_interpolated_session_keeps_its_scans_spike_count():
    """Deconvolved as the workflow does (its rule, `workflow_pipeline`), 20 neurons x 50 s scanned
    at 12 Hz and interpolated to 30 Hz infer within 20 % of the spikes the scans themselves give
    (each neuron alone, not conclusive: 1.5-1.7x; 7.5 Hz scans: 6-15x)."""
    from calcium.evaluation.session_accuracy import workflow_pipeline
    from calcium.signal.deconvolution_settings import default_settings

    traces, scans = _session(12.0, 20, seed=3)
    at_scan = workflow_pipeline(default_settings("GCaMP6f", 12.0), {"method": "noise"})
    at_frames = workflow_pipeline(default_settings("GCaMP6f", FS), {"method": "noise"})
    n_scan = sum(
        t.size for t in at_scan(np.array([y[: int(FRAMES / FS * 12.0)] for y in scans]), 12.0, 0.0)[1]
    )
    n_pooled = sum(t.size for t in at_frames(traces, FS, 0.0)[1])  # pooled over the rows given
    assert n_scan > 200
    assert abs(n_pooled - n_scan) <= 0.2 * n_scan, (n_scan, n_pooled)


def test_a_sessions_interpolation_is_taken_only_where_a_neurons_own_spectrum_leans_to_it():
    """Given a session's ratio (4: 7.5 -> 30 Hz), a neuron follows it where its own top octave fits
    that interpolation better than any native shape: 640-frame pieces (a trial) of interpolated
    neurons all do, natively sampled ones (clean to noisy, slow and fast firing) none. Following
    unless the native fit was 3x better, tried first, took 18 of these 20 native neurons."""
    from calcium.signal.bandlimit import band_limits

    native = np.array(
        [
            _scan(
                FS,
                640 / FS,
                50 + k,
                nu=(0.3, 1.0, 3.0)[k % 3],
                rate_hz=(0.5, 2.0)[k % 2],
                tau_s=(0.3, 1.0)[k % 2],
            )[:640]
            for k in range(20)
        ]
    )
    rates, interpolated = band_limits(native, FS, session_ratio=4.0)
    assert not interpolated.any() and np.all(rates == FS)
    traces, _ = _session(7.5, 20)
    rates, interpolated = band_limits(traces[:, :640], FS, session_ratio=4.0)
    assert interpolated.all() and np.all(rates == 7.5)


@pytest.mark.parametrize("with_trials", [False, True])
def test_the_detrend_rule_pools_the_interpolation_as_it_writes_whatever_its_blocks(tmp_path, with_trials):
    """The detrend rule pools the session's interpolation over the blocks it writes (one pass
    over the data; deconvolve, events and expected_accuracy read it): blocks of 1 to 16 neurons on
    one or two processes give the ratio `file_interpolation_ratio` reads from the written file, and
    with trials (their frames back to back, gaps left out) too; a neuron with a NaN frame is left
    out, also when it is a block alone. The knot test reads the same windows of the same rows
    whatever the blocks, and proves the same ratio; scan_rate.json says it was proven."""
    from calcium.blocks import process_blocks
    from calcium.io import load_npy
    from calcium.signal import stages
    from calcium.signal.interpolation_session import SessionInterpolation, pooled_ratio
    from calcium.signal.knots import knot_ratio, knot_rows
    from calcium.signal.scan_rate import file_interpolation_ratio, read_interpolation, save_interpolation

    traces, _ = _session(7.5, 16, seed=3)
    trials = np.array([[0, 700], [760, FRAMES]]) if with_trials else None
    source = tmp_path / "dff.npy"
    traces[5, 100] = np.nan
    np.save(source, (traces + 1.0).astype(np.float32))
    settings = dict(frame_rate_hz=FS, trials=trials, method="percentile", slow_drift_s=20.0, percentile=10.0)
    settings["knot_rows"] = knot_rows(16)
    ratios, windows = [], []
    for processes, block_samples in ((1, FRAMES), (2, 5 * FRAMES), (1, 16 * FRAMES)):
        out = tmp_path / f"detrended_{processes}_{block_samples}.npy"
        tables = process_blocks(
            functools.partial(stages.detrend, **settings),
            [source],
            [out],
            16,
            FRAMES,
            processes,
            block_samples,
        )
        assert len(tables) == -(-16 * FRAMES // block_samples)
        ratios.append(pooled_ratio([evidence for evidence, _ in tables]))
        assert ratios[-1] == file_interpolation_ratio(out, 16, FRAMES, FS, trials)
        windows.append(np.vstack([w for _, w in tables]))
    assert ratios == [4.0] * 3
    # the same windows whatever the blocks, so one knot test stands for all (~3 s each)
    assert all(np.array_equal(w, windows[0]) for w in windows) and len(windows[0]) == 4 * 16 - 1
    knots = [knot_ratio(windows[0])]
    assert knots[0][0] == 4.0 and knots[0][1] < 1e-3
    save_interpolation(tmp_path / "scan_rate.json", ratios[0], FS)
    assert read_interpolation(tmp_path / "scan_rate.json") == SessionInterpolation(4.0, False)
    save_interpolation(tmp_path / "scan_rate.json", float("nan"), FS, knots[0])
    assert read_interpolation(tmp_path / "scan_rate.json") == SessionInterpolation(4.0, True)
    assert load_npy(out).shape == (16, FRAMES)
    save_interpolation(tmp_path / "scan_rate.json", float("nan"), FS, (float("nan"), 0.5))
    assert np.isnan(read_interpolation(tmp_path / "scan_rate.json").ratio)

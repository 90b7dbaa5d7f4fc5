"""Resampling, noise matching and the noise level ν used by the expected-accuracy estimate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from calcium.evaluation.accuracy import noise_bands
from calcium.evaluation.references import Recording, choose_recordings, excerpt
from calcium.evaluation.resampling import (
    match_noise_level,
    noise_level_nu,
    resample_traces,
    white_noise_sd_for_nu,
)


def exposure_means(spike_times_s, tau_s, frame_rate_hz, start_time_s, n_frames):
    """Exact mean of sum_k exp(-(t - t_k)/tau) (t > t_k) over each frame's exposure."""
    centres = start_time_s + np.arange(n_frames) / frame_rate_hz
    a, b = centres - 0.5 / frame_rate_hz, centres + 0.5 / frame_rate_hz
    total = np.zeros(n_frames)
    for t_k in spike_times_s:
        lo, hi = np.maximum(a - t_k, 0), np.maximum(b - t_k, 0)
        total += tau_s * (np.exp(-lo / tau_s) - np.exp(-hi / tau_s)) * frame_rate_hz
    return total


def test_nu_of_white_noise_follows_cascade_definition():
    rng = np.random.default_rng(1)
    for fs in (7.5, 30.0, 122.0):
        sd = white_noise_sd_for_nu(2.0, fs)
        nu = noise_level_nu(rng.normal(0, sd, (4, 200_000)), fs)
        np.testing.assert_allclose(nu, 2.0, rtol=0.01)
    # by hand: median |diff| of [0, 0.01, 0, 0.01] is 0.01 -> 100 * 0.01 / sqrt(4) = 0.5
    assert noise_level_nu(np.array([0.0, 0.01, 0.0, 0.01]), 4.0) == pytest.approx(0.5)


def test_resampling_a_ramp_keeps_its_clock():
    fs, start = 120.0, 3.25
    t = start + np.arange(1200) / fs
    for new in (30.0, 40.0):  # integer ratios: the exposure mean of a ramp is its value at the centre
        y, new_start = resample_traces(2.0 * t, fs, new, start)
        assert new_start == pytest.approx(start - 0.5 / fs + 0.5 / new)
        np.testing.assert_allclose(y, 2.0 * (new_start + np.arange(y.size) / new), rtol=0, atol=1e-9)
    y, new_start = resample_traces(2.0 * t, fs, 7.5, start)  # ratio 16
    assert y.size == 75
    y, new_start = resample_traces(2.0 * t, fs, 50.0, start)  # ratio 2.4: within half an input frame
    np.testing.assert_allclose(y, 2.0 * (new_start + np.arange(y.size) / 50.0), atol=2.0 / fs)
    up, up_start = resample_traces(2.0 * t, fs, 240.0, start)  # faster: linear interpolation
    assert up_start == start
    np.testing.assert_allclose(up, 2.0 * (start + np.arange(up.size) / 240.0), atol=1e-9)


def test_slower_rate_integrates_the_signal_like_a_slower_camera():
    # Calcium transients built exactly at 960 Hz, averaged down to 30 Hz, equal the same
    # transients built exactly at 30 Hz: frame timing and exposure are right.
    spikes = np.array([0.123, 0.61, 0.613, 1.9871])
    start = 0.05
    fine = exposure_means(spikes, 0.3, 960.0, start, 960 * 3)
    coarse, new_start = resample_traces(fine, 960.0, 30.0, start)
    expected = exposure_means(spikes, 0.3, 30.0, new_start, coarse.size)
    np.testing.assert_allclose(coarse, expected, rtol=1e-9, atol=1e-12)
    # ... and point sampling (no averaging) would not be.
    assert np.max(np.abs(fine[16::32][: coarse.size] - expected)) > 0.05


def test_averaging_down_reduces_white_noise_by_the_square_root_of_the_ratio():
    rng = np.random.default_rng(2)
    y, _ = resample_traces(rng.normal(0, 1.0, (3, 160_000)), 160.0, 10.0)
    np.testing.assert_allclose(y.std(axis=1), 0.25, rtol=0.02)
    # ν is per second of recording: unchanged by averaging white noise down
    np.testing.assert_allclose(
        noise_level_nu(y, 10.0), noise_level_nu(rng.normal(0, 1.0, (3, 160_000)), 160.0), rtol=0.03
    )


def test_noise_is_added_until_nu_matches_and_never_removed():
    rng = np.random.default_rng(3)
    fs = 30.0
    t = np.arange(6000) / fs
    clean = 0.5 * (np.sin(t) > 0.9) + rng.normal(0, white_noise_sd_for_nu(0.5, fs), (3, t.size))
    noisy, matched = match_noise_level(clean, fs, np.array([1.0, 3.0, 0.2]), np.random.default_rng(7))
    assert matched.tolist() == [True, True, False]
    np.testing.assert_allclose(noise_level_nu(noisy[:2], fs), [1.0, 3.0], rtol=2e-3)
    np.testing.assert_array_equal(noisy[2], clean[2])  # already noisier than asked: untouched
    again, _ = match_noise_level(clean, fs, np.array([1.0, 3.0, 0.2]), np.random.default_rng(7))
    np.testing.assert_array_equal(again, noisy)


def test_added_noise_grows_with_brightness_like_shot_noise():
    fs = 30.0
    y = np.concatenate([np.zeros(50_000), np.full(50_000, 3.0)])[None, :]  # ΔF/F 0, then 3
    noisy, _ = match_noise_level(y, fs, 2.0, np.random.default_rng(4))
    added = noisy[0] - y[0]
    ratio = added[50_000:].std() / added[:50_000].std()
    assert ratio == pytest.approx(2.0, rel=0.03)  # sqrt(1 + 3) / sqrt(1 + 0)
    flat, _ = match_noise_level(y, fs, 2.0, np.random.default_rng(4), shot_noise=False)
    added = flat[0] - y[0]
    assert added[50_000:].std() / added[:50_000].std() == pytest.approx(1.0, rel=0.03)


def test_noise_bands_split_neurons_by_equal_counts():
    nu = np.array([0.5, 4.0, 1.0, np.nan, 2.0, 3.0, 6.0])
    band, edges = noise_bands(nu, 3)
    assert band.tolist() == [0, 2, 0, -1, 1, 1, 2]
    assert edges[0] == 0.5 and edges[-1] == 6.0
    band, edges = noise_bands(np.array([1.0]), 3)
    assert band.tolist() == [0] and edges.size == 2
    band, edges = noise_bands(np.array([0.0, 1.0, 2.0]), 2)  # a flat trace (ν 0) is in no band
    assert band.tolist() == [-1, 0, 1] and edges[0] == 1.0


def test_excerpt_and_choice_of_recordings():
    fs = 10.0
    rec = Recording(
        "a", "GCaMP6s", fs, 100.0, np.arange(1000.0), np.array([100.0, 140.0, 150.5, 199.0]), "n1"
    )
    part = excerpt(rec, 20.0)
    assert part.dff.size == 200 and part.start_time_s == pytest.approx(140.0)
    assert part.dff[0] == 400.0  # frame 400 is at 100 + 400 / 10 = 140 s
    np.testing.assert_allclose(part.spike_times_s, [140.0, 150.5])
    recs = [Recording(f"r{i}", "x", fs, 0.0, np.zeros(3), np.zeros(0), f"n{i % 2}") for i in range(5)]
    assert [r.name for r in choose_recordings(recs, 3)] == ["r0", "r1", "r2"]
    assert {r.neuron for r in choose_recordings(recs, 2)} == {"n0", "n1"}


def _synthetic_recordings(n=4, fs=100.0, duration_s=120.0, tau_s=0.5, noise_nu=0.3):
    recs = []
    for i in range(n):
        rng = np.random.default_rng(i)
        spikes = np.sort(rng.uniform(1.0, duration_s - 1, int(duration_s * 0.8)))
        n_frames = int(duration_s * fs)
        dff = 0.4 * exposure_means(spikes, tau_s, fs, 0.0, n_frames)
        dff += rng.normal(0, white_noise_sd_for_nu(noise_nu, fs), n_frames)
        recs.append(Recording(f"r{i}", "GCaMP8s", fs, 0.0, dff, spikes, f"n{i}"))
    return recs


def test_expected_accuracy_falls_with_the_session_noise_and_counts_noisier_references():
    from calcium.evaluation.accuracy import expected_accuracy
    from calcium.evaluation.session_accuracy import workflow_pipeline
    from calcium.signal.deconvolution_settings import default_settings

    fs = 30.0
    pipeline = workflow_pipeline(default_settings("GCaMP8s", fs), {"method": "noise"})
    session_nu = np.r_[np.full(10, 0.1), np.full(10, 4.0), np.full(10, 12.0)]
    bands, neurons, scores = expected_accuracy(session_nu, fs, _synthetic_recordings(), pipeline, seed=1)
    assert bands.n_neurons.tolist() == [10, 10, 10]
    np.testing.assert_allclose(bands.nu_median, [0.1, 4.0, 12.0])
    assert (bands.n_reference_recordings == 4).all()
    r = bands.expected_correlation.to_numpy()
    assert r[0] > r[1] > r[2] and r[0] > 0.6
    assert (bands.correlation_p10 <= bands.expected_correlation).all()
    assert (bands.expected_correlation <= bands.correlation_p90).all()
    # matched to the band's noise, measured on the resampled reference
    ok = scores[scores.status == "ok"]
    np.testing.assert_allclose(ok.nu, np.repeat([4.0, 12.0], 4), rtol=2e-3)
    assert neurons.band.tolist() == [0] * 10 + [1] * 10 + [2] * 10
    # the references are noisier than the quietest band: scored as they are, and counted
    assert bands.n_noisier_references.tolist() == [4, 0, 0]
    again, _, _ = expected_accuracy(session_nu, fs, _synthetic_recordings(), pipeline, seed=1)
    pd.testing.assert_frame_equal(again, bands)


def test_the_slope_of_r_against_noise_needs_several_recordings_not_one_draw():
    from calcium.evaluation.accuracy import DEFAULT_NU_SLOPE, MIN_NU_SLOPE_PAIRS, nu_slope

    def table(nu, r):
        n = len(nu)
        return pd.DataFrame(
            {"recording": [f"set/rec{i}" for i in range(n)], "nu": nu, "correlation_40ms": r, "status": "ok"}
        )

    own = table([0.3, 0.3, 0.3, 0.3], [0.6, 0.6, 0.6, 0.6])
    # two recordings whose ν was raised by ~20 % and whose r fell by 0.25 (one draw of noise):
    # not enough to carry anything by a slope of -1.4 per ln ν
    few = table([0.36, 0.36], [0.35, 0.35])
    assert MIN_NU_SLOPE_PAIRS > 2
    assert nu_slope(own.iloc[:2], few) == DEFAULT_NU_SLOPE
    # enough recordings: their median slope, never positive
    many = table([0.6, 0.6, 0.6, 0.6], [0.58, 0.55, 0.5, 0.7])
    expected = np.median((np.array([0.58, 0.55, 0.5, 0.7]) - 0.6) / np.log(2.0))
    assert nu_slope(own, many) == pytest.approx(expected)
    better = table([0.6, 0.6, 0.6], [0.7, 0.8, 0.9])
    assert nu_slope(own.iloc[:3], better) == 0.0
    # noise added by less than 10 % of ν gives no pair
    assert nu_slope(own, table([0.31] * 4, [0.1] * 4)) == DEFAULT_NU_SLOPE


def test_references_are_the_indicator_and_its_family_else_none():
    from calcium.evaluation.references import select_references

    available = [("a", "GCaMP6s"), ("b", "jGCaMP8m"), ("c", "GCaMP8s"), ("d", "OGB-1"), ("e", "Cal-520")]
    assert select_references(available, "GCaMP8s") == (["c", "b"], "indicator")
    assert select_references(available, "OGB1") == (["d", "e"], "indicator")
    assert select_references(available, "gcamp6s") == (["a"], "indicator")
    assert select_references(available, "GCaMP8f") == (["b", "c"], "family")
    assert select_references(available, "GCaMP7s") == (["a"], "family")
    assert select_references(available, "GCaMP6f") == ([], "none")
    assert select_references([], "GCaMP6s") == ([], "none")


def _write_groundtruth(folder, indicator, recordings):
    """A CASCADE-layout ground-truth folder (calcium.evaluation.groundtruth) holding `recordings`."""
    folder.mkdir(parents=True)
    (folder / "meta.json").write_text(f'{{"indicator": "{indicator}"}}')
    index = pd.DataFrame({"recording": [r.name for r in recordings], "frame_rate_hz": 100.0})
    index.to_csv(folder / "recordings.csv", index=False)
    for rec in recordings:
        time_s = rec.start_time_s + np.arange(rec.dff.size) / rec.frame_rate_hz
        trace = pd.DataFrame({"time_s": time_s, "dff": rec.dff})
        trace.to_csv(folder / f"{rec.name}.trace.csv", index=False)
        spikes = pd.DataFrame({"spike_time_s": rec.spike_times_s})
        spikes.to_csv(folder / f"{rec.name}.spikes.csv", index=False)


def test_references_are_loaded_chosen_and_cut_and_the_note_says_what_was_used(tmp_path):
    from calcium.evaluation.accuracy import SCORE_COLUMNS, expected_accuracy
    from calcium.evaluation.references import load_references
    from calcium.evaluation.session_accuracy import accuracy_note, workflow_pipeline
    from calcium.signal.deconvolution_settings import default_settings

    _write_groundtruth(tmp_path / "gt" / "8s", "GCaMP8s", _synthetic_recordings(n=3, duration_s=30.0))
    _write_groundtruth(tmp_path / "gt" / "6s", "GCaMP6s", _synthetic_recordings(n=2, duration_s=30.0))
    nu = np.full(6, 2.0)
    pipeline = workflow_pipeline(default_settings("GCaMP8m", 30.0), {"method": "noise"})

    # jGCaMP8m has no set of its own: GCaMP8s stands in as its family, two recordings cut to
    # their middle 10 s
    refs = load_references(tmp_path / "gt", "jGCaMP8m", per_set=2, excerpt_s=10.0)
    assert refs.match == "family" and refs.indicators == ["GCaMP8s"] and refs.folder_found
    assert len(refs.recordings) == 2
    assert all(r.indicator == "GCaMP8s" and r.dff.size == 1000 for r in refs.recordings)
    assert all(r.start_time_s == 10.0 for r in refs.recordings)
    assert all(10.0 <= r.spike_times_s.min() and r.spike_times_s.max() < 20.0 for r in refs.recordings)
    bands, _, scores = expected_accuracy(nu, 30.0, refs.recordings, pipeline, n_bands=1)
    status, note = accuracy_note(refs, bands, "jGCaMP8m", tmp_path / "gt", 30.0, 10.0)
    assert status == "ok" and "2 recordings of 1 sets of GCaMP8s (same indicator family)" in note
    assert list(scores.columns) == ["band", *SCORE_COLUMNS] and len(scores) == 2

    # no set of the indicator or its family; no folder at all: NaN estimates, and a note that says so
    for folder, indicator, expected in [
        (tmp_path / "gt", "OGB-1", "no_matching_indicator"),
        (tmp_path / "missing", "GCaMP8s", "no_reference_data"),
    ]:
        refs = load_references(folder, indicator, per_set=2, excerpt_s=10.0)
        assert refs.recordings == []
        bands, _, scores = expected_accuracy(nu, 30.0, refs.recordings, pipeline, n_bands=1)
        assert bands.n_reference_recordings.tolist() == [0] and bands.expected_correlation.isna().all()
        assert len(scores) == 0 and list(scores.columns) == ["band", *SCORE_COLUMNS]
        status, note = accuracy_note(refs, bands, indicator, folder, 30.0, 10.0)
        assert status == expected and "no expected accuracy" in note


def test_a_ground_truth_folder_with_a_fifo_is_refused_not_read(tmp_path):
    """A user's ground_truth_dir is read as carefully as every other user table: a FIFO in place
    of a trace would block the job forever; it is refused with the file named."""
    import os

    from calcium.errors import InputError
    from calcium.evaluation.references import load_references

    _write_groundtruth(tmp_path / "gt" / "8s", "GCaMP8s", _synthetic_recordings(n=1, duration_s=30.0))
    trace = tmp_path / "gt" / "8s" / "r0.trace.csv"
    trace.unlink()
    os.mkfifo(trace)
    with pytest.raises(InputError, match="r0.trace.csv.*not a regular file"):
        load_references(tmp_path / "gt", "GCaMP8s", per_set=1, excerpt_s=10.0)


def _identity_pipeline(traces, frame_rate_hz, start_time_s):
    """The trace itself as the inferred activity: scoring without deconvolving (fast)."""
    return traces, [np.zeros(0) for _ in traces]


def _spiky_recording(name, rate_hz, duration_s=60.0, seed=0):
    rng = np.random.default_rng(seed)
    spikes = np.sort(rng.uniform(1.0, duration_s - 1.0, 40))
    t = np.arange(int(duration_s * rate_hz)) / rate_hz
    dff = sum((t >= s) * np.exp(-np.clip(t - s, 0.0, None) / 0.3) for s in spikes)
    return Recording(name, "GCaMP6f", rate_hz, 0.0, dff + rng.normal(0, 0.05, t.size), spikes, name)


def test_a_faster_reference_is_averaged_down_and_a_slower_one_scored_at_its_own_rate_then_carried():
    from calcium.evaluation.accuracy import score_recordings
    from calcium.evaluation.carry import carry_to_rate, rate_plan, rate_slope

    recordings = [_spiky_recording("fast/a", 100.0), _spiky_recording("slow/b", 10.0, seed=1)]
    rng = np.random.default_rng(0)
    as_is = score_recordings(recordings, 30.0, np.inf, _identity_pipeline, rng)
    # the 100 Hz reference at the session's 30 Hz, the 10 Hz one never upsampled
    assert as_is.rate_hz.tolist() == [30.0, 10.0] and as_is.native_rate_hz.tolist() == [100.0, 10.0]
    top, low, fast = rate_plan([100.0, 10.0], 30.0)
    assert (top, low, fast.tolist()) == (30.0, 10.0, [True, False])
    assert rate_plan([100.0, 10.0], 200.0)[0] == 100.0  # never beyond the fastest reference
    down = score_recordings(recordings[:1], low, np.inf, _identity_pipeline, rng)
    slope = rate_slope(as_is, down)
    r = as_is.set_index("recording").correlation_40ms
    expected = (r["fast/a"] - down.correlation_40ms[0]) / np.log(3.0)
    assert slope == pytest.approx(max(0.0, expected))
    carried = carry_to_rate(as_is, 0.1, top).set_index("recording")
    assert carried.correlation_40ms["fast/a"] == r["fast/a"] and carried.rate_gain["fast/a"] == 0.0
    gain = min(r["slow/b"] + 0.1 * np.log(3.0), 1.0) - r["slow/b"]
    assert carried.rate_gain["slow/b"] == pytest.approx(gain) and gain > 0
    pd.testing.assert_frame_equal(carry_to_rate(as_is, np.nan, top), as_is)


def test_the_interval_widens_with_the_spread_between_sets_and_with_fewer_sets():
    from calcium.evaluation.accuracy import BETWEEN_SET_SD_FLOOR, prediction_factor, summarise

    def table(per_set):
        names = [f"set{i}/rec{j}" for i in range(len(per_set)) for j in range(2)]
        r = np.repeat(per_set, 2)
        return pd.DataFrame({"recording": names, "correlation_40ms": r, "f1": r, "status": "ok"})

    def width(per_set):
        out = summarise(table(np.asarray(per_set)))
        return out["correlation_p90"] - out["correlation_p10"]

    narrow, wide = width([0.50, 0.52, 0.54, 0.56, 0.58]), width([0.3, 0.4, 0.5, 0.6, 0.7])
    assert wide > 2 * narrow
    # spread sets: the prediction interval of one more set, t with n - 1 dof and sqrt(1 + 1/n)
    sd = np.std([0.3, 0.4, 0.5, 0.6, 0.7], ddof=1)
    assert wide == pytest.approx(2 * sd * prediction_factor(5))
    # sets that agree: the floor
    assert narrow == pytest.approx(2 * 1.2815515655446004 * BETWEEN_SET_SD_FLOOR)
    # the same spread from fewer sets says less about the next one
    assert prediction_factor(3) > prediction_factor(8) > prediction_factor(100) > 1.2815


def test_skewness_sees_transients_and_carries_scores_towards_the_sessions():
    from calcium.evaluation.carry import carry_to_skewness, transient_skewness

    rng = np.random.default_rng(3)
    noise = rng.normal(0, 1, (1, 18_000))
    spiky = _spiky_recording("x/y", 30.0, duration_s=600.0).dff[None, :]
    skew = transient_skewness(np.vstack([noise, spiky, spiky + np.linspace(0, 5, spiky.shape[1])]), 30.0)
    assert abs(skew[0]) < 0.1 and skew[1] > 1.0
    assert skew[2] == pytest.approx(skew[1], rel=0.05)  # a slow drift is not a transient
    scores = pd.DataFrame({"correlation_40ms": [0.5, 0.5, np.nan], "skewness": [1.0, 4.0, 2.0]})
    carried = carry_to_skewness(scores, 0.2, 2.0)
    up, down = 0.5 + 0.2 * np.log(3 / 2), 0.5 - 0.2 * np.log(5 / 3)  # ln(1 + s): from s = 1 and 4 to 2
    np.testing.assert_allclose(carried.correlation_40ms[:2], [up, down])
    assert np.isnan(carried.correlation_40ms[2])
    negative = carry_to_skewness(scores, 0.2, -0.5).correlation_40ms[0]  # negative skewness counts as 0
    assert negative == pytest.approx(0.5 - 0.2 * np.log(2))
    pd.testing.assert_frame_equal(carry_to_skewness(scores, 0.2, np.nan), scores)


def test_a_neuron_whose_transients_stand_out_less_than_its_bands_is_expected_worse_and_flagged():
    from calcium.evaluation.accuracy import neuron_quality

    bands = pd.DataFrame({"expected_correlation": [0.3], "skewness_median": [2.0], "skewness_slope": [0.2]})
    nu, band = np.full(4, 1.0), np.zeros(4, dtype=np.int64)
    neurons = neuron_quality(nu, band, bands, 0.2, skewness=np.array([2.0, 4.0, 0.8, np.nan]))
    expected = neurons.expected_correlation.to_numpy()
    np.testing.assert_allclose(expected, [0.3, 0.3 + 0.2 * np.log(5 / 3), 0.3 + 0.2 * np.log(1.8 / 3), 0.3])
    assert neurons.quality_flag.tolist() == [False, False, True, False]
    assert "skewness 0.80" in neurons.quality_reason[2] and neurons.quality_reason[0] == ""
    # without skewness: the band's value for every neuron, as before
    plain = neuron_quality(nu, band, bands, 0.2)
    assert (plain.expected_correlation == 0.3).all() and not plain.quality_flag.any()
    # a flat trace (ν 0, in no band): flagged, no expected r; before it took the cleanest band's
    flat = neuron_quality(np.array([0.0, 1.0]), np.array([-1, 0]), bands, 0.2, np.array([np.nan, 2.0]))
    assert flat.quality_flag.tolist() == [True, False] and np.isnan(flat.expected_correlation[0])
    assert "flat" in flat.quality_reason[0]


def test_the_deconvolution_table_carries_each_neurons_flag_from_a_round_trip_through_files(tmp_path):
    from calcium.evaluation.accuracy import neuron_quality
    from calcium.evaluation.quality_flag import with_quality_flag
    from calcium.io import read_table, save_table

    bands = pd.DataFrame({"expected_correlation": [0.3], "skewness_median": [2.0], "skewness_slope": [0.2]})
    skewness = np.array([2.0, 0.8, 4.0])
    neurons = neuron_quality(np.full(3, 1.0), np.zeros(3, dtype=np.int64), bands, 0.2, skewness)
    save_table(tmp_path / "quality.csv", neurons)  # "" reasons come back from the file as NaN
    settings = pd.DataFrame({"neuron": [2, 0, 1], "lag_s": [0.1, 0.2, 0.3]})
    table = with_quality_flag(settings, read_table(tmp_path / "quality.csv"))
    assert table.neuron.tolist() == [2, 0, 1] and table.lag_s.tolist() == [0.1, 0.2, 0.3]
    assert table.quality_flag.tolist() == [False, False, True]  # neuron 1 (skewness 0.8) flagged
    assert table.quality_reason.tolist()[:2] == ["", ""] and "skewness 0.80" in table.quality_reason[2]
    np.testing.assert_allclose(table.expected_correlation, neurons.expected_correlation[[2, 0, 1]])
    with pytest.raises(ValueError, match="differ in neurons \\[3\\]"):
        with_quality_flag(pd.DataFrame({"neuron": [0, 1, 2, 3]}), neurons)


def test_a_session_whose_transients_stand_out_more_is_expected_to_score_higher():
    from calcium.evaluation.accuracy import expected_accuracy

    recordings = [_spiky_recording(f"set{i}/r", 30.0, seed=i) for i in range(3)]
    nu = np.full(4, 0.01)  # cleaner than the references: scored as they are

    def estimate(skewness):
        bands, neurons, scores = expected_accuracy(
            nu, 30.0, recordings, _identity_pipeline, n_bands=1, session_skewness=skewness, skew_slope=0.3
        )
        return bands.iloc[0], neurons, scores

    low, _, _ = estimate(np.array([0.5, 0.5, 0.6, 0.7]))
    high, neurons, scores = estimate(np.array([3.0, 4.0, 5.0, 6.0]))
    assert high.skewness_median == 4.5 and low.skewness_median == 0.55
    assert high.expected_correlation > low.expected_correlation
    # each reference moved by the slope times its distance in ln(1 + skewness) from the session's
    shift = 0.3 * (np.log1p(4.5) - np.log1p(scores.skewness))
    np.testing.assert_allclose(scores.skewness_gain, shift)
    assert neurons.expected_correlation.is_monotonic_increasing


def test_a_session_with_zero_gaps_has_the_noise_and_skewness_of_its_trials_back_to_back(tmp_path):
    """ΔF/F of 6 neurons in three trials (noise and decaying transients) with long gaps of 0
    between and after them: measured on the trials' frames, ν and the skewness are those of the
    trials concatenated; the gaps' zeros would lower ν and change the skewness."""
    from calcium.evaluation.session_accuracy import session_noise
    from calcium.signal.scan_rate import trial_frame_index

    def session_nu(*args):
        return session_noise(*args).nu

    def session_skewness(*args):
        return session_noise(*args).skewness

    fs, rng = 10.0, np.random.default_rng(4)
    bounds = np.array([[0, 400], [700, 1000], [1500, 2100]])
    n_trials_frames = int(np.diff(bounds).sum())
    kernel = np.exp(-np.arange(40) / 10.0)
    spikes = (rng.random((6, n_trials_frames)) < 0.01) * rng.uniform(0.5, 2.0, (6, n_trials_frames))
    trials = np.stack([np.convolve(row, kernel)[:n_trials_frames] for row in spikes])
    trials += rng.normal(0, np.linspace(0.02, 0.2, 6)[:, None], trials.shape)
    gapped = np.zeros((6, 2400), dtype=np.float32)
    frames = trial_frame_index(bounds)
    gapped[:, frames] = trials
    np.save(tmp_path / "gapped.npy", gapped)
    np.save(tmp_path / "joined.npy", gapped[:, frames])
    assert frames.size == n_trials_frames and frames[400] == 700
    for measure in (session_nu, session_skewness):
        within = measure(tmp_path / "gapped.npy", 6, 2400, fs, bounds)
        np.testing.assert_array_equal(within, measure(tmp_path / "joined.npy", 6, n_trials_frames, fs))
        whole = measure(tmp_path / "gapped.npy", 6, 2400, fs)
        assert np.all(np.abs(whole - within) > 0.1 * np.abs(within))  # the test can tell
    assert np.all(
        session_nu(tmp_path / "gapped.npy", 6, 2400, fs)
        < 0.8 * session_nu(tmp_path / "joined.npy", 6, 2100, fs)
    )


def test_an_interpolated_session_is_measured_and_scored_at_its_scan_rate(tmp_path):
    """Traces scanned at 7.5 Hz and linearly interpolated to 30 Hz (aligned to a video): read at
    30 Hz their ν is about half the scan's (the interpolation averages the noise of neighbouring
    scan frames), and the references would be scored at a resolution their spikes are never
    inferred at. Each neuron's ν and skewness are measured at its scan's rate, as the
    deconvolution works (and deconvolution.tsv reports ν there too); the references are scored
    at 7.5 Hz. A natively sampled session is measured as before, at its frame rate."""
    from calcium.evaluation.carry import transient_skewness
    from calcium.evaluation.session_accuracy import session_noise, session_scoring_rate
    from calcium.signal.deconvolve import deconvolve_block

    rng = np.random.default_rng(11)
    scan_hz, frame_hz, n = 7.5, 30.0, 6
    frames = 4500  # 10 min
    kernel = np.exp(-np.arange(30) / (0.7 * scan_hz))
    spikes = (rng.random((n, frames)) < 0.3 / scan_hz) * 1.0
    scan = np.stack([np.convolve(row, 0.3 * kernel)[:frames] for row in spikes])
    scan += rng.normal(0, np.linspace(0.05, 0.15, n)[:, None], scan.shape)
    t = np.arange(frames) / scan_hz
    clock = np.arange(0.0, t[-1], 1.0 / frame_hz)
    interpolated = np.stack([np.interp(clock, t, row) for row in scan]).astype(np.float32)
    np.save(tmp_path / "interpolated.npy", interpolated)
    np.save(tmp_path / "scan.npy", scan.astype(np.float32))

    noise = session_noise(tmp_path / "interpolated.npy", n, clock.size, frame_hz)
    assert noise.interpolated.all()
    np.testing.assert_allclose(noise.rate_hz, scan_hz, rtol=0.04)
    scan_nu = noise_level_nu(scan, scan_hz)
    np.testing.assert_allclose(noise.nu, scan_nu, rtol=0.12)
    assert np.all(noise_level_nu(interpolated, frame_hz) < 0.7 * scan_nu)  # what was measured before
    np.testing.assert_allclose(noise.skewness, transient_skewness(scan, scan_hz), atol=0.25)
    assert session_scoring_rate(noise, frame_hz) == pytest.approx(scan_hz, rel=0.04)
    block = deconvolve_block(slice(0, n), interpolated.astype(float), frame_hz, 0.0, 0.0, tau_decay_s=0.7)
    table = block.tables[0]
    np.testing.assert_allclose(table.nu_percent_per_sqrt_hz, scan_nu, rtol=0.12)

    native = session_noise(tmp_path / "scan.npy", n, frames, scan_hz)
    assert not native.interpolated.any() and np.all(native.rate_hz == scan_hz)
    np.testing.assert_array_equal(native.nu, noise_level_nu(scan.astype(np.float32), scan_hz))
    assert session_scoring_rate(native, scan_hz) == scan_hz


def test_a_reference_scored_at_a_slower_rate_gets_that_rates_timing():
    """A session at 30 Hz whose traces come from a 7.5 Hz scan has its rows deconvolved, smoothed
    and lag-corrected as at 7.5 Hz; a reference scored at 7.5 Hz for it (or a slower reference
    scored at its own rate) gets the same: the pipeline built with the 30 Hz session's settings
    gives what a 7.5 Hz session's gives (before, the 30 Hz smoothing of 11 ms instead of 38 ms)."""
    from calcium.evaluation.session_accuracy import workflow_pipeline
    from calcium.signal.deconvolution_settings import default_settings

    rng = np.random.default_rng(5)
    fs = 7.5
    spikes = (rng.random((2, 3000)) < 0.05) * 1.0
    kernel = np.exp(-np.arange(40) / (0.4 * fs))
    y = np.stack([np.convolve(row, kernel)[:3000] for row in spikes]) + rng.normal(0, 0.1, (2, 3000))
    at_30 = workflow_pipeline(default_settings("GCaMP6f", 30.0), {"method": "noise"})(y, fs, 0.0)
    at_own = workflow_pipeline(default_settings("GCaMP6f", fs), {"method": "noise"})(y, fs, 0.0)
    np.testing.assert_allclose(at_30[0], at_own[0], rtol=1e-6, atol=1e-9)
    for a, b in zip(at_30[1], at_own[1], strict=True):
        np.testing.assert_allclose(a, b)

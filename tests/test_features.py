"""Unit tests for calcium.population.features: per-neuron event statistics, population coupling,
session summary."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from calcium.population.coactivity import ActiveBins
from calcium.population.events import EVENT_COLUMNS, empty_events
from calcium.population.features import FEATURE_COLUMNS, event_features, population_coupling, session_summary

FS = 10.0
N_FRAMES = 1200  # 2 minutes


def _events(rows) -> pd.DataFrame:
    """Events table from (neuron, onset_frame, end_frame, amplitude, fwhm_s, area) tuples."""
    table = pd.DataFrame(
        rows, columns=["neuron", "onset_frame", "end_frame", "amplitude_dff", "fwhm_s", "area_dff_s"]
    )
    table["onset_s"] = table.onset_frame / FS
    table["peak_frame"] = table.onset_frame + 1
    table["peak_s"] = table.peak_frame / FS
    table["end_s"] = table.end_frame / FS
    table["prominence_dff"] = table.amplitude_dff
    table["exceeds_max_fwhm"] = False
    table["below_min_fwhm"] = False
    return table[EVENT_COLUMNS]


# Neuron 0: 4 events (onsets 1, 1.5, 5, 12 s), neuron 1: one, neuron 2: none, neuron 3: two.
HAND_EVENTS = _events(
    [
        (0, 50, 60, 3.0, 1.0, 3.0),
        (3, 400, 409, 1.0, 0.4, 0.6),
        (0, 10, 12, 1.0, 0.5, 1.0),
        (1, 300, 319, 0.5, 2.0, 0.8),
        (0, 120, 129, 6.0, 1.0, 4.0),
        (3, 100, 104, 0.5, 0.2, 0.2),
        (0, 15, 20, 2.0, 0.5, 2.0),
    ]
)


def test_event_features_match_a_hand_computation():
    table = event_features(HAND_EVENTS, n_neurons=4, n_frames=N_FRAMES, frame_rate_hz=FS, burst_iei_s=1.0)
    assert table.neuron.tolist() == [0, 1, 2, 3]
    assert table.event_count.tolist() == [4, 1, 0, 2]
    np.testing.assert_allclose(table.event_rate_per_min, [2.0, 0.5, 0.0, 1.0])  # count / 2 min
    row = table.iloc[0]
    assert row.mean_amplitude_dff == pytest.approx(3.0)
    assert row.median_amplitude_dff == pytest.approx(2.5)
    assert row.mean_fwhm_s == pytest.approx(0.75)
    assert row.mean_area_dff_s == pytest.approx(2.5)
    # Neuron 0's onsets, sorted: 1.0, 1.5, 5.0, 12.0 s -> intervals 0.5, 3.5, 7.0 s.
    iei = np.array([0.5, 3.5, 7.0])
    assert row.iei_mean_s == pytest.approx(11.0 / 3.0)
    assert row.iei_cv == pytest.approx(np.std(iei, ddof=1) / iei.mean())
    assert row.iei_cv == pytest.approx(0.887237, rel=1e-5)
    assert row.burst_index == pytest.approx(1.0 / 3.0)  # only 0.5 s < 1 s
    # Frames inside events (onset..end inclusive): 3 + 6 + 11 + 10 = 30 of 1200.
    assert row.fraction_time_active == pytest.approx(30 / N_FRAMES)
    # Neuron 3: one interval of 30 s: a mean, but no CV; not a burst.
    row = table.iloc[3]
    assert row.iei_mean_s == pytest.approx(30.0)
    assert np.isnan(row.iei_cv)
    assert row.burst_index == 0.0
    assert row.fraction_time_active == pytest.approx(15 / N_FRAMES)
    assert row.mean_amplitude_dff == pytest.approx(0.75)


def test_event_features_are_nan_where_undefined_and_zero_without_events():
    table = event_features(HAND_EVENTS, n_neurons=5, n_frames=N_FRAMES, frame_rate_hz=FS)
    one, none, trailing = table.iloc[1], table.iloc[2], table.iloc[4]
    for row in (one, none, trailing):
        assert np.isnan(row.iei_mean_s)
        assert np.isnan(row.iei_cv)
        assert np.isnan(row.burst_index)
    assert one.mean_amplitude_dff == pytest.approx(0.5)
    assert one.fraction_time_active == pytest.approx(20 / N_FRAMES)
    for row in (none, trailing):
        assert row.event_count == 0
        assert row.event_rate_per_min == 0.0
        assert row.fraction_time_active == 0.0
        assert np.isnan(row.mean_amplitude_dff)
        assert np.isnan(row.mean_fwhm_s)


def test_burst_index_follows_the_burst_interval():
    table = event_features(HAND_EVENTS, 4, N_FRAMES, FS, burst_iei_s=4.0)
    assert table.burst_index.iat[0] == pytest.approx(2.0 / 3.0)  # 0.5 and 3.5 s < 4 s
    assert table.burst_index.iat[3] == 0.0
    table = event_features(HAND_EVENTS, 4, N_FRAMES, FS, burst_iei_s=31.0)
    np.testing.assert_allclose(table.burst_index.iloc[[0, 3]], [1.0, 1.0])


def test_event_features_of_an_empty_table():
    table = event_features(empty_events(), n_neurons=3, n_frames=N_FRAMES, frame_rate_hz=FS)
    assert table.neuron.tolist() == [0, 1, 2]
    assert table.event_count.tolist() == [0, 0, 0]
    assert table.fraction_time_active.tolist() == [0.0, 0.0, 0.0]
    assert (
        table.drop(columns=["neuron", "event_count", "event_rate_per_min", "fraction_time_active"])
        .isna()
        .all()
        .all()
    )


# --- population coupling ---------------------------------------------------------------------------


def _raster(dense: np.ndarray) -> ActiveBins:
    neurons, bins = np.nonzero(dense)
    return ActiveBins(neurons, bins, dense.shape[0], dense.shape[1])


def test_population_coupling_matches_a_hand_computation():
    dense = np.zeros((4, 4), dtype=bool)
    dense[0, [0, 1]] = True
    dense[1, [0]] = True
    dense[2, [2]] = True  # neuron 3 has no events; coactivity per bin: 2, 1, 1, 0
    table = population_coupling(_raster(dense))
    # PC_i = mean over the neuron's bins of (n_b - 1) / ((sum n_b - own_i) / n_bins)
    expected = [
        ((1 + 0) / 2) / ((4 - 2) / 4),  # 1.0
        (1 / 1) / ((4 - 1) / 4),  # 4/3
        (0 / 1) / ((4 - 1) / 4),  # 0: fires only when the others are quiet
        np.nan,
    ]
    np.testing.assert_allclose(table.population_coupling, expected)
    assert table.neuron.tolist() == [0, 1, 2, 3]


def test_coupled_neuron_has_high_coupling_and_independent_ones_about_one():
    rng = np.random.default_rng(0)
    n_neurons, n_bins = 50, 4000
    dense = rng.random((n_neurons, n_bins)) < 0.05
    together = rng.choice(n_bins, 150, replace=False)
    dense[0] = False
    dense[0, together] = True
    dense[1:6][:, together] = True  # neurons 1-5 are active whenever neuron 0 is
    coupling = population_coupling(_raster(dense)).population_coupling.to_numpy()
    assert coupling[0] > 2.0
    independent = coupling[6:]
    assert np.all(np.abs(independent - 1.0) < 0.25)
    assert independent.mean() == pytest.approx(1.0, abs=0.05)
    # Neurons 1-5 are partly coupled (150 of ~350 active bins with 5 partners): in between.
    assert np.all((coupling[1:6] > 1.2) & (coupling[1:6] < coupling[0]))


def test_ensemble_event_fraction_by_hand():
    dense = np.zeros((3, 6), dtype=bool)
    dense[0, [0, 1, 2, 3]] = True
    dense[1, [1]] = True  # neuron 2 has no events
    raster = _raster(dense)
    table = population_coupling(raster, ensemble_bins=np.array([1, 3]))
    np.testing.assert_allclose(table.ensemble_event_fraction, [0.5, 1.0, np.nan])
    without = population_coupling(raster)
    np.testing.assert_allclose(without.ensemble_event_fraction, [0.0, 0.0, np.nan])
    empty = population_coupling(raster, ensemble_bins=np.array([], dtype=int))
    np.testing.assert_allclose(empty.ensemble_event_fraction, [0.0, 0.0, np.nan])


def test_features_merge_into_the_documented_columns():
    dense = np.zeros((4, 240), dtype=bool)
    dense[0, [0, 1]] = True
    features = event_features(HAND_EVENTS, 4, N_FRAMES, FS).merge(
        population_coupling(_raster(dense)), on="neuron"
    )
    # Same columns (the merged order differs: burst_index comes before fraction_time_active).
    assert sorted(features.columns) == sorted(FEATURE_COLUMNS)
    assert len(features) == 4


# --- session summary -------------------------------------------------------------------------------


def test_session_summary_skips_nans_and_includes_counts():
    features = pd.DataFrame(
        {
            "neuron": [0, 1, 2, 3],
            "event_count": [4, 1, 0, 2],
            "iei_mean_s": [2.0, np.nan, np.nan, 4.0],
            "population_coupling": [1.5, 0.5, np.nan, 1.0],
        }
    )
    summary = session_summary(features, session="s1", n_events=7, n_ensemble_events=3)
    assert len(summary) == 1
    row = summary.iloc[0]
    assert row.n_neurons == 4
    assert row.n_neurons_with_events == 3
    assert row.session == "s1"
    assert row.n_events == 7
    assert row.n_ensemble_events == 3
    assert row.mean_event_count == pytest.approx(7 / 4)
    assert row.mean_iei_mean_s == pytest.approx(3.0)
    assert row.mean_population_coupling == pytest.approx(1.0)
    assert "mean_neuron" not in summary.columns


def test_population_coupling_compares_each_bin_with_bins_of_its_own_length():
    """Bins holding 0, 1 or 2 frames: the expected partners come from bins of the same kind."""
    dense = np.zeros((3, 6), dtype=bool)
    dense[0, [1, 4]] = True
    dense[1, [1, 2]] = True
    dense[2, [4, 5]] = True
    frames = np.array([0, 2, 1, 0, 2, 1])  # bins 0 and 3 hold no frame
    neurons, bins = np.nonzero(dense)
    raster = ActiveBins(neurons, bins, 3, 6, frames)
    # Coactivity per bin: 0, 2, 1, 0, 2, 1. Neuron 0 is active in bins 1 and 4 (both 2-frame
    # bins, 2 neurons each): 1 partner each; expected per 2-frame bin: (2 + 2 - 2) / 2 = 1.
    # Neuron 1: bins 1 (2-frame, 1 partner) and 2 (1-frame, 0 partners); expected
    # (4 - 1) / 2 + (2 - 1) / 2 = 2.
    table = population_coupling(raster)
    np.testing.assert_allclose(table.population_coupling, [2 / 2, 1 / 2, 1 / 2])
    # Without the frames per bin every bin is alike (the former formula).
    same = population_coupling(ActiveBins(neurons, bins, 3, 6))
    np.testing.assert_allclose(same.population_coupling[0], (2 / 2) / ((6 - 2) / 6))


def test_independent_neurons_have_coupling_one_when_half_the_bins_hold_no_frame():
    """1.045 Hz with 0.5 s bins (issue 10): the former formula gave about 2."""
    from calcium.population.coactivity import active_bins

    rng = np.random.default_rng(3)
    fs, n_frames, n_neurons = 1.045, 2000, 60
    neurons = rng.integers(0, n_neurons, 60 * 40)
    frames = rng.integers(0, n_frames, neurons.size)
    raster = active_bins(neurons, frames, n_neurons, n_frames, fs, bin_s=0.5)
    coupling = population_coupling(raster).population_coupling
    assert np.median(coupling) == pytest.approx(1.0, abs=0.05)
    former = population_coupling(raster._replace(frames_per_bin=None)).population_coupling
    assert np.median(former) > 1.8

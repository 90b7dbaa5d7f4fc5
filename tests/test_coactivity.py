"""Unit tests for calcium.coactivity: binning, sparse rasters, the circular-shift null."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from calcium.coactivity import (
    ActiveBins,
    active_bins,
    bin_count,
    circular_shift_null,
    coactivity,
    contributions,
    frame_bins,
    null_threshold,
    raster_from_events,
)

FS = 10.0
N_FRAMES = 3000  # 300 s: 600 bins of 0.5 s
N_NEURONS = 60


def _independent_events(rng: np.random.Generator, events_per_neuron: float = 15.0):
    """Each neuron: a Poisson number of events at uniformly random frames, independent of the others."""
    counts = rng.poisson(events_per_neuron, N_NEURONS)
    neurons = np.repeat(np.arange(N_NEURONS), counts)
    frames = rng.integers(0, N_FRAMES, neurons.size)
    return neurons, frames


def _pairs(raster: ActiveBins) -> list[tuple[int, int]]:
    return sorted(zip(raster.neurons.tolist(), raster.bins.tolist(), strict=True))


# --- binning ---------------------------------------------------------------------------------------


def test_bins_are_exactly_bin_s_wide_at_a_non_integer_frames_per_bin_rate():
    fs, bin_s = 4.8, 0.5  # 2.4 frames per bin
    n_frames = 48  # exactly 10 s
    assert bin_count(n_frames, fs, bin_s) == 20
    assert bin_count(n_frames + 1, fs, bin_s) == 21  # a last, partial bin
    assert bin_count(1, fs, bin_s) == 1
    frames = np.arange(n_frames)
    bins = frame_bins(frames, fs, bin_s)
    times = frames / fs
    # Every frame falls in the bin whose [b·bin_s, (b+1)·bin_s) interval holds its time, including
    # frames exactly on a boundary (frame 12 is at 2.5 s: bin 5, not 4).
    assert np.all(bins * bin_s <= times + 1e-12)
    assert np.all(times < (bins + 1) * bin_s)
    assert bins[12] == 5
    assert bins[24] == 10
    per_bin = np.bincount(bins)
    assert per_bin.size == 20
    assert set(per_bin.tolist()) == {2, 3}
    # 2.4 frames per bin on average: every 5 bins hold 12 frames.
    assert per_bin.reshape(4, 5).sum(axis=1).tolist() == [12, 12, 12, 12]


def test_active_bins_deduplicates_events_of_one_neuron_in_one_bin():
    # Neuron 1 has two events in bin 0 (frames 1 and 3) and one in bin 2; neuron 0 one in bin 0.
    raster = active_bins(np.array([1, 1, 1, 0]), np.array([1, 3, 12, 4]), 3, 20, FS, bin_s=0.5)
    assert isinstance(raster, ActiveBins)
    assert (raster.n_neurons, raster.n_bins) == (3, 4)
    assert _pairs(raster) == [(0, 0), (1, 0), (1, 2)]


def test_coactivity_counts_neurons_per_bin():
    neurons = np.array([0, 1, 2, 0, 0, 3, 3, 1])
    frames = np.array([0, 2, 4, 7, 8, 15, 16, 19])  # bins of 5 frames: 0,0,0,1,1,3,3,3
    raster = active_bins(neurons, frames, 4, 20, FS, bin_s=0.5)
    np.testing.assert_array_equal(coactivity(raster), [3, 1, 0, 2])
    assert coactivity(raster).dtype == np.int64


def test_empty_raster_has_zero_coactivity_and_a_zero_null():
    raster = active_bins(np.array([], dtype=int), np.array([], dtype=int), 5, 100, FS)
    assert raster.n_bins == 20
    np.testing.assert_array_equal(coactivity(raster), np.zeros(20))
    null = circular_shift_null(raster, n_shuffles=10)
    assert null.shape == (10, 20)
    assert not null.any()


def test_out_of_range_frames_and_neurons_raise():
    with pytest.raises(ValueError, match="frames"):
        active_bins(np.array([0]), np.array([20]), 2, 20, FS)
    with pytest.raises(ValueError, match="frames"):
        active_bins(np.array([0]), np.array([-1]), 2, 20, FS)
    with pytest.raises(ValueError, match="neurons"):
        active_bins(np.array([2]), np.array([0]), 2, 20, FS)
    with pytest.raises(ValueError, match="neurons"):
        active_bins(np.array([-1]), np.array([0]), 2, 20, FS)
    # The last frame is inside the recording, in the last (partial) bin.
    assert active_bins(np.array([1]), np.array([22]), 2, 23, FS).bins.tolist() == [4]


# --- circular-shift null ---------------------------------------------------------------------------


def test_null_preserves_each_surrogates_number_of_active_pairs():
    rng = np.random.default_rng(0)
    raster = active_bins(*_independent_events(rng), N_NEURONS, N_FRAMES, FS)
    null = circular_shift_null(raster, n_shuffles=50, seed=3)
    assert null.shape == (50, raster.n_bins)
    assert null.dtype == np.int32
    np.testing.assert_array_equal(null.sum(axis=1), np.full(50, raster.bins.size))
    # No bin can hold more neurons than there are.
    assert null.max() <= N_NEURONS
    assert null.min() >= 0


def test_null_of_a_single_neuron_is_a_rotation_of_its_train():
    frames = np.array([0, 7, 8, 30, 55, 56, 57, 90])
    raster = active_bins(np.zeros(frames.size, dtype=int), frames, 1, 100, FS)
    original = coactivity(raster)
    null = circular_shift_null(raster, n_shuffles=30, seed=1)
    rotations = np.stack([np.roll(original, s) for s in range(raster.n_bins)])
    shifts = set()
    for surrogate in null:
        matches = np.flatnonzero((rotations == surrogate).all(axis=1))
        assert matches.size >= 1
        shifts.add(int(matches[0]))
    assert len(shifts) > 5  # the offsets vary across surrogates


def test_null_is_deterministic_for_a_seed_and_independent_of_block_size():
    rng = np.random.default_rng(1)
    raster = active_bins(*_independent_events(rng), N_NEURONS, N_FRAMES, FS)
    a = circular_shift_null(raster, n_shuffles=100, seed=7)
    b = circular_shift_null(raster, n_shuffles=100, seed=7, shuffles_per_block=7)
    np.testing.assert_array_equal(a, b)
    c = circular_shift_null(raster, n_shuffles=100, seed=8)
    assert not np.array_equal(a, c)


def _planted_synchrony(seed: int):
    """60 independent neurons; 10 of them also fire together (within one bin) 20 times."""
    rng = np.random.default_rng(seed)
    neurons, frames = _independent_events(rng)
    n_bins = bin_count(N_FRAMES, FS, 0.5)
    sync_bins = np.sort(rng.choice(n_bins, 20, replace=False))
    members = rng.choice(N_NEURONS, 10, replace=False)
    sync_frames = sync_bins[:, None] * 5 + rng.integers(0, 5, (20, 10))  # 5 frames per 0.5 s bin
    neurons = np.concatenate([neurons, np.tile(members, 20)])
    frames = np.concatenate([frames, sync_frames.ravel()])
    return active_bins(neurons, frames, N_NEURONS, N_FRAMES, FS), sync_bins


def test_planted_synchronous_bins_exceed_the_null_threshold():
    raster, sync_bins = _planted_synchrony(2)
    null = circular_shift_null(raster, n_shuffles=1000, seed=0)
    threshold = null_threshold(null, 99.0)
    counts = coactivity(raster)
    assert np.all(counts[sync_bins] > threshold)
    # Few other bins pass: the null is calibrated on the independent background.
    others = np.setdiff1d(np.arange(raster.n_bins), sync_bins)
    assert np.mean(counts[others] > threshold) <= 0.02


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_independent_population_rarely_exceeds_the_null_threshold(seed):
    rng = np.random.default_rng(seed)
    raster = active_bins(*_independent_events(rng), N_NEURONS, N_FRAMES, FS)
    null = circular_shift_null(raster, n_shuffles=1000, seed=seed)
    pooled = null_threshold(null, 99.0)
    assert np.mean(coactivity(raster) > pooled) <= 0.02
    maximum = null_threshold(null, 99.0, statistic="max")
    assert maximum >= pooled
    assert maximum == pytest.approx(np.percentile(null.max(axis=1), 99.0))
    assert pooled == pytest.approx(np.percentile(null, 99.0))


def test_null_threshold_rejects_an_unknown_statistic():
    with pytest.raises(ValueError, match="statistic"):
        null_threshold(np.zeros((3, 4)), 99.0, statistic="mean")


# --- contributions and rasters from event tables ---------------------------------------------------


def test_contributions_returns_the_active_neurons_of_each_requested_bin():
    raster = ActiveBins(
        neurons=np.array([0, 0, 1, 2, 2, 3]), bins=np.array([0, 2, 2, 1, 2, 4]), n_neurons=4, n_bins=5
    )
    matrix = contributions(raster, np.array([2, 4, 3, 0]))
    expected = np.array(
        [
            [True, True, True, False],  # bin 2: neurons 0, 1, 2
            [False, False, False, True],  # bin 4: neuron 3
            [False, False, False, False],  # bin 3: nobody
            [True, False, False, False],  # bin 0: neuron 0
        ]
    )
    np.testing.assert_array_equal(matrix, expected)
    assert matrix.dtype == bool
    assert contributions(raster, np.array([], dtype=int)).shape == (0, 4)


def test_raster_from_events_places_events_by_onset_or_peak():
    events = pd.DataFrame(
        {
            "neuron": [0, 1, 1],
            "onset_frame": [3, 8, 24],
            "peak_frame": [6, 12, 26],
        }
    )
    by_onset = raster_from_events(events, 2, 30, FS, bin_s=0.5, event_time="onset")
    by_peak = raster_from_events(events, 2, 30, FS, bin_s=0.5, event_time="peak")
    assert _pairs(by_onset) == [(0, 0), (1, 1), (1, 4)]
    assert _pairs(by_peak) == [(0, 1), (1, 2), (1, 5)]
    assert by_onset.n_bins == by_peak.n_bins == 6
    with pytest.raises(KeyError):
        raster_from_events(events, 2, 30, FS, event_time="end")

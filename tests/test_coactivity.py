"""Unit tests for calcium.population.coactivity: binning, sparse rasters, the circular-shift null."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from calcium.population.coactivity import (
    ActiveBins,
    active_bins,
    bin_count,
    coactivity,
    coactivity_statistic,
    contributions,
    event_frames,
    frame_bins,
    frames_per_bin,
    group_ensemble_events,
    raster_from_events,
    significant_bins,
    significant_without_each,
    sorted_unique,
    window_activity,
    window_coactivity,
)
from calcium.population.features import population_coupling
from calcium.population.null import (
    circular_shift_null,
    degenerate_groups,
    null_threshold,
    null_thresholds,
    threshold_table,
    thresholds_from_table,
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


def test_empty_raster_has_zero_coactivity():
    raster = active_bins(np.array([], dtype=int), np.array([], dtype=int), 5, 100, FS)
    assert raster.n_bins == 20
    np.testing.assert_array_equal(coactivity(raster), np.zeros(20))
    np.testing.assert_array_equal(window_coactivity(raster, 1), np.zeros(20))


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


def _null(neurons, frames, n_neurons=N_NEURONS, n_frames=N_FRAMES, fs=FS, bin_s=0.5, **options):
    return circular_shift_null(neurons, frames, n_neurons, n_frames, fs, bin_s, **options)


def _dense_window_coactivity(neurons, frames, n_neurons, n_frames, fs, bin_s, jitter_bins):
    """Reference: a dense neurons x bins matrix, widened by ± jitter_bins, summed over neurons."""
    n_bins = bin_count(n_frames, fs, bin_s)
    dense = np.zeros((n_neurons, n_bins), dtype=bool)
    dense[neurons, frame_bins(frames, fs, bin_s)] = True
    widened = dense.copy()
    for shift in range(1, jitter_bins + 1):
        widened[:, shift:] |= dense[:, :-shift]
        widened[:, :-shift] |= dense[:, shift:]
    return widened.sum(axis=0)


@pytest.mark.parametrize("jitter_bins", [0, 1, 2])
@pytest.mark.parametrize(
    ("fs", "bin_s", "n_frames"), [(4.8, 0.5, 97), (1.045, 0.5, 50), (10.0, 0.5, 40), (3.0, 20.0, 30)]
)
def test_null_is_the_coactivity_of_circularly_shifted_event_frames(fs, bin_s, n_frames, jitter_bins):
    """Each surrogate equals a dense reference: frames shifted by each neuron's offset, then binned."""
    rng = np.random.default_rng(1)
    n_neurons = 7
    neurons, frames = rng.integers(0, n_neurons, 40), rng.integers(0, n_frames, 40)
    null = circular_shift_null(
        neurons,
        frames,
        n_neurons,
        n_frames,
        fs,
        bin_s,
        n_shuffles=30,
        seed=4,
        shuffles_per_block=4,
        jitter_bins=jitter_bins,
    )
    offsets = np.random.default_rng(4).integers(0, n_frames, size=(30, n_neurons))
    scale = n_neurons + 1 if jitter_bins else 1
    for surrogate, offset in zip(null, offsets, strict=True):
        shifted = (frames + offset[neurons]) % n_frames
        window = _dense_window_coactivity(neurons, shifted, n_neurons, n_frames, fs, bin_s, jitter_bins)
        in_bin = _dense_window_coactivity(neurons, shifted, n_neurons, n_frames, fs, bin_s, 0)
        # With a window the statistic breaks ties by the neurons in the bin itself.
        np.testing.assert_array_equal(surrogate, window * scale + in_bin if jitter_bins else window)
    raster = active_bins(neurons, frames, n_neurons, n_frames, fs, bin_s)
    window = _dense_window_coactivity(neurons, frames, n_neurons, n_frames, fs, bin_s, jitter_bins)
    np.testing.assert_array_equal(window_coactivity(raster, jitter_bins), window)
    np.testing.assert_array_equal(
        coactivity_statistic(raster, jitter_bins),
        window * scale + coactivity(raster) if jitter_bins else window,
    )


def test_bins_holding_no_frame_are_never_active_in_the_null():
    # 1.045 Hz with 0.5 s bins: about half the bins hold no frame.
    fs, n_frames = 1.045, 600
    per_bin = frames_per_bin(n_frames, fs, 0.5)
    assert set(per_bin.tolist()) == {0, 1}
    rng = np.random.default_rng(2)
    neurons, frames = rng.integers(0, 30, 400), rng.integers(0, n_frames, 400)
    null = _null(neurons, frames, 30, n_frames, fs, n_shuffles=50)
    assert not null[:, per_bin == 0].any()
    assert null[:, per_bin == 1].mean() > 0.5


def test_null_keeps_each_neurons_events():
    """One event per neuron: every surrogate has exactly one active bin per neuron."""
    rng = np.random.default_rng(0)
    frames = rng.integers(0, N_FRAMES, N_NEURONS)
    null = _null(np.arange(N_NEURONS), frames, n_shuffles=50, seed=3)
    assert null.shape == (50, bin_count(N_FRAMES, FS, 0.5))
    assert null.dtype == np.int32
    np.testing.assert_array_equal(null.sum(axis=1), np.full(50, N_NEURONS))


def test_empty_events_give_a_zero_null():
    null = _null(np.array([], dtype=int), np.array([], dtype=int), 5, 100, n_shuffles=10)
    assert null.shape == (10, 20)
    assert not null.any()


def test_null_is_deterministic_for_a_seed_and_independent_of_block_size():
    rng = np.random.default_rng(1)
    neurons, frames = _independent_events(rng)
    a = _null(neurons, frames, n_shuffles=100, seed=7)
    b = _null(neurons, frames, n_shuffles=100, seed=7, shuffles_per_block=7)
    np.testing.assert_array_equal(a, b)
    c = _null(neurons, frames, n_shuffles=100, seed=8)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("jitter_bins", [0, 1])
def test_null_is_the_same_on_several_processes(jitter_bins):
    rng = np.random.default_rng(2)
    neurons, frames = _independent_events(rng)
    one = _null(neurons, frames, n_shuffles=50, seed=3, jitter_bins=jitter_bins)
    several = _null(neurons, frames, n_shuffles=50, seed=3, jitter_bins=jitter_bins, processes=2)
    np.testing.assert_array_equal(one, several)
    assert one.dtype == several.dtype


def test_sorted_unique_is_numpys_unique():
    rng = np.random.default_rng(3)
    runs = [np.sort(rng.integers(0, 500, size)) for size in (0, 1, 40, 300)]
    for keys in [np.concatenate(runs), rng.integers(-50, 50, 1000), np.zeros(0, np.int64), np.array([4])]:
        np.testing.assert_array_equal(sorted_unique(keys), np.unique(keys))


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
    return neurons, frames, sync_bins


def test_planted_synchronous_bins_exceed_the_null_threshold():
    neurons, frames, sync_bins = _planted_synchrony(2)
    raster = active_bins(neurons, frames, N_NEURONS, N_FRAMES, FS)
    null = _null(neurons, frames, n_shuffles=1000, seed=0)
    threshold = null_threshold(null, 99.0)
    counts = coactivity(raster)
    assert np.all(counts[sync_bins] > threshold)
    # Few other bins pass: the null is calibrated on the independent background.
    others = np.setdiff1d(np.arange(raster.n_bins), sync_bins)
    assert np.mean(counts[others] > threshold) <= 0.02


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_independent_population_rarely_exceeds_the_null_threshold(seed):
    rng = np.random.default_rng(seed)
    neurons, frames = _independent_events(rng)
    raster = active_bins(neurons, frames, N_NEURONS, N_FRAMES, FS)
    null = _null(neurons, frames, n_shuffles=1000, seed=seed)
    pooled = null_threshold(null, 99.0)
    assert np.mean(coactivity(raster) > pooled) <= 0.02
    assert pooled == pytest.approx(np.percentile(null, 99.0))
    # "max" is family-wise: at most 1% of the surrogates hold any bin above it.
    maximum = null_threshold(null, 99.0, statistic="max")
    assert maximum >= pooled
    assert np.mean((null > maximum).any(axis=1)) <= 0.01
    assert np.mean((null > maximum - 1).any(axis=1)) > 0.01  # and it is the smallest such count


def test_thresholds_are_per_kind_of_bin():
    """At 4.8 Hz a 0.5 s bin holds 2 or 3 frames: each kind is tested against its own null."""
    fs, n_frames = 4.8, 9600
    rng = np.random.default_rng(6)
    neurons = rng.integers(0, 200, 200 * 60)
    frames = rng.integers(0, n_frames, neurons.size)
    raster = active_bins(neurons, frames, 200, n_frames, fs)
    null = _null(neurons, frames, 200, n_frames, fs, n_shuffles=400, seed=1)
    thresholds = null_thresholds(null, raster.frames_per_bin, 99.0)
    assert thresholds[raster.frames_per_bin == 3].min() > thresholds[raster.frames_per_bin == 2].max()
    significant = coactivity(raster) > thresholds
    for kind in (2, 3):  # about 1% of each kind, not all in the 3-frame bins
        assert 0.002 <= significant[raster.frames_per_bin == kind].mean() <= 0.02
    table = threshold_table(thresholds, raster.frames_per_bin)
    assert [row["frames"] for row in table] == [2, 3]
    assert sum(row["n_bins"] for row in table) == raster.n_bins
    np.testing.assert_array_equal(thresholds_from_table(table, raster.frames_per_bin), thresholds)


def test_tie_break_brings_the_size_of_the_test_near_its_level():
    """Counts tie at the threshold: "more than the 99th percentile" rejects well under 1% of the
    time; breaking ties by the neurons in the bin itself brings it close to 1% (over surrogates)."""
    rng = np.random.default_rng(8)
    n_neurons, n_frames, fs = 100, 4000, 2.0
    neurons = rng.integers(0, n_neurons, n_neurons * 300)
    frames = rng.integers(0, n_frames, neurons.size)
    tied = circular_shift_null(neurons, frames, n_neurons, n_frames, fs, 1.0, 300, seed=2, jitter_bins=1)
    window = tied // (n_neurons + 1)
    size_counts = np.mean(window > np.percentile(window, 99))
    size_tie_break = np.mean(tied > np.percentile(tied, 99))
    assert size_counts < 0.008
    assert 0.009 <= size_tie_break <= 0.0101


def test_null_threshold_rejects_an_unknown_statistic():
    with pytest.raises(ValueError, match="statistic"):
        null_threshold(np.zeros((3, 4)), 99.0, statistic="mean")


# --- a lone neuron is not coactivity (issue 12, item 1) -------------------------------------------


def test_a_lone_neurons_events_are_never_ensemble_events():
    """80 neurons x 3000 frames, one neuron firing 4 times: the null's threshold is 0 (degenerate)."""
    n_neurons, n_frames, fs = 80, 3000, 5.0
    events = pd.DataFrame({"neuron": [7, 7, 7, 7], "onset_frame": [100, 900, 1700, 2500]})
    events["peak_frame"] = events.onset_frame + 2
    raster = raster_from_events(events, n_neurons, n_frames, fs)
    neurons, frames = event_frames(events)
    null = circular_shift_null(neurons, frames, n_neurons, n_frames, fs, 0.5, n_shuffles=200, seed=0)
    thresholds = null_thresholds(null, raster.frames_per_bin, 99.0)
    assert thresholds.max() == 0.0  # the null alone would call every active bin coactive
    table = threshold_table(thresholds, raster.frames_per_bin)
    assert degenerate_groups(table, min_active=2) == table
    n_active = coactivity(raster)
    assert significant_bins(n_active, thresholds, min_active=1).sum() == 4  # the reported bug
    significant = significant_bins(n_active, thresholds, min_active=2)
    assert not significant.any()
    features = population_coupling(raster, np.flatnonzero(significant))
    assert features.ensemble_event_fraction[7] == 0.0
    assert features.ensemble_event_fraction.drop(index=7).isna().all()
    assert degenerate_groups(table, min_active=1) == []


# --- merging and jitter -----------------------------------------------------------------------------


def test_significant_bins_of_one_activation_merge_into_one_event():
    significant = np.zeros(20, dtype=bool)
    significant[[2, 3, 4, 8, 10, 15]] = True
    n_active = np.arange(20) % 7
    peak, first, last = group_ensemble_events(significant, n_active, jitter_bins=0)
    np.testing.assert_array_equal(peak, [2, 3, 4, 8, 10, 15])
    peak, first, last = group_ensemble_events(significant, n_active, jitter_bins=1)
    # Bins at most 2 apart share a window: {2,3,4}, {8,10}, {15}; the peak has the most neurons.
    np.testing.assert_array_equal(first, [2, 8, 15])
    np.testing.assert_array_equal(last, [4, 10, 15])
    np.testing.assert_array_equal(peak, [4, 10, 15])
    ties = group_ensemble_events(np.ones(3, bool), np.array([5, 5, 1]), jitter_bins=1)[0]
    np.testing.assert_array_equal(ties, [0])  # the earliest of equal counts
    assert group_ensemble_events(np.zeros(5, bool), np.zeros(5), 1)[0].size == 0


def test_contributions_with_jitter_include_neighbouring_bins():
    raster = ActiveBins(neurons=np.array([0, 1, 2, 3]), bins=np.array([2, 3, 4, 6]), n_neurons=4, n_bins=8)
    np.testing.assert_array_equal(contributions(raster, np.array([3]), jitter_bins=0), [[0, 1, 0, 0]])
    np.testing.assert_array_equal(contributions(raster, np.array([3]), jitter_bins=1), [[1, 1, 1, 0]])
    np.testing.assert_array_equal(
        contributions(raster, np.array([3, 5]), jitter_bins=1), [[1, 1, 1, 0], [0, 0, 1, 1]]
    )
    # The chance of taking part: fraction of bins whose ± 1 window holds the neuron's event.
    chance = window_activity(raster, jitter_bins=1)
    np.testing.assert_allclose(chance, [3 / 8, 3 / 8, 3 / 8, 3 / 8])
    exclude = np.zeros(8, bool)
    exclude[[2, 3, 4]] = True
    np.testing.assert_allclose(window_activity(raster, 1, exclude), [1 / 5, 0, 1 / 5, 3 / 5])


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


def test_an_event_without_a_neuron_may_no_longer_be_an_ensemble_event():
    # Two events; 5 neurons (statistic scale 6). Event 0: 4 in the window, 2 of them in the bin
    # (statistic 4*6+2 = 26) against a threshold of 24.5: without a neuron that is in the bin
    # it drops to 23 (not significant); without one only in the window, to 20.
    in_window = np.array([[1, 1, 1, 1, 0], [1, 1, 0, 0, 0]], dtype=bool)
    in_bin = np.array([[1, 1, 0, 0, 0], [1, 0, 0, 0, 0]], dtype=bool)
    statistic = np.array([26, 13])
    without = significant_without_each(
        statistic, np.array([24.5, 3.0]), np.array([4, 2]), in_window, in_bin, 5, 1, min_active=2
    )
    np.testing.assert_array_equal(
        without,
        [
            [False, False, False, False, True],  # every participant was needed
            [False, False, True, True, True],  # one neuron left: fewer than min_active
        ],
    )
    # Without a jitter window the statistic is the count itself.
    plain = significant_without_each(
        np.array([4]), np.array([2.5]), np.array([4]), in_window[:1], in_window[:1], 5, 0
    )
    np.testing.assert_array_equal(plain, [[True, True, True, True, True]])


def test_null_exceedance_is_the_fraction_of_null_bins_of_the_same_kind_at_or_above():
    from calcium.population.null import null_exceedance

    # kind 5 (frames): null counts 0 active x 6 bins, 1 x 3, 3 x 1; kind 4: 2 active x 4 bins
    frames = np.array([5, 5, 5, 4])
    n_active = np.array([0, 1, 3, 2])
    n_bins = np.array([6, 3, 1, 4])
    observed = np.array([0, 1, 2, 3, 4, 2, 1, 3])
    kinds = np.array([5, 5, 5, 5, 5, 4, 4, 6])
    p = null_exceedance(observed, kinds, frames, n_active, n_bins)
    np.testing.assert_allclose(p[:5], [1.0, 0.4, 0.1, 0.1, 0.0])
    np.testing.assert_allclose(p[5:7], [1.0, 1.0])
    assert np.isnan(p[7])  # a kind of bin the null does not hold

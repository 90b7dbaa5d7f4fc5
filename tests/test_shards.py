"""Unit tests for calcium.shards: splitting neurons into contiguous shards."""

from __future__ import annotations

import numpy as np
import pytest

from calcium.shards import shard_count, shard_name, shard_rows


@pytest.mark.parametrize(
    ("n_neurons", "size"),
    [(1, 1), (1, 50), (7, 50), (50, 50), (51, 50), (99, 50), (100, 50), (101, 50), (1000, 3), (17, 1)],
)
def test_shards_cover_every_neuron_exactly_once(n_neurons, size):
    count = shard_count(n_neurons, size)
    assert count == int(np.ceil(n_neurons / size))
    covered = np.zeros(n_neurons, dtype=int)
    previous_stop = 0
    for shard in range(count):
        rows = shard_rows(shard, n_neurons, size)
        assert rows.start == previous_stop  # contiguous, in order
        assert 0 < rows.stop - rows.start <= size  # never empty, never too big
        covered[rows] += 1
        previous_stop = rows.stop
    assert previous_stop == n_neurons
    np.testing.assert_array_equal(covered, 1)


def test_fewer_neurons_than_shard_size_gives_one_shard():
    assert shard_count(3, 100) == 1
    assert shard_rows(0, 3, 100) == slice(0, 3)


def test_zero_neurons_still_gives_one_empty_shard():
    assert shard_count(0, 10) == 1
    rows = shard_rows(0, 0, 10)
    assert rows.stop - rows.start == 0


@pytest.mark.parametrize("shard", [-1, 3, 10])
def test_out_of_range_shard_raises(shard):
    assert shard_count(25, 10) == 3
    with pytest.raises(ValueError, match="out of range"):
        shard_rows(shard, 25, 10)


def test_shard_size_must_be_positive():
    with pytest.raises(ValueError, match="neurons_per_shard"):
        shard_count(10, 0)
    with pytest.raises(ValueError, match="neurons_per_shard"):
        shard_rows(0, 10, 0)


def test_shard_names_are_zero_padded_and_sort_in_order():
    names = [shard_name(i) for i in (0, 7, 42, 999, 1000)]
    assert names == ["0000", "0007", "0042", "0999", "1000"]
    assert sorted(names) == names

"""Splitting a session's neurons into contiguous shards processed as separate jobs."""

from __future__ import annotations


def shard_count(n_neurons: int, neurons_per_shard: int) -> int:
    """Number of shards of at most `neurons_per_shard` neurons (at least 1)."""
    if neurons_per_shard < 1:
        raise ValueError("neurons_per_shard must be >= 1")
    return max(1, -(-n_neurons // neurons_per_shard))


def shard_rows(shard: int, n_neurons: int, neurons_per_shard: int) -> slice:
    """Neuron rows [start, stop) of shard number `shard` (0-based)."""
    if not 0 <= shard < shard_count(n_neurons, neurons_per_shard):
        raise ValueError(f"shard {shard} out of range for {n_neurons} neurons")
    start = shard * neurons_per_shard
    return slice(start, min(start + neurons_per_shard, n_neurons))


def shard_name(shard: int) -> str:
    """File-name form of a shard number: zero-padded to four digits."""
    return f"{shard:04d}"

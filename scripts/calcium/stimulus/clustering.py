"""Orders and scales of traces for heat maps: hierarchical clustering with correlation distance
of z-scored traces, z-scoring, and frame downsampling."""

from __future__ import annotations

import numpy as np


def cluster_order(traces: np.ndarray, method: str = "average") -> np.ndarray:
    """Leaf order of hierarchical clustering of z-scored traces with correlation distance.

    Constant traces are placed last. Returns row indices.
    """
    from scipy.cluster.hierarchy import leaves_list, linkage

    traces = np.asarray(traces, dtype=np.float64)
    sd = traces.std(axis=1)
    varying = np.flatnonzero(sd > 0)
    constant = np.flatnonzero(sd == 0)
    if varying.size < 2:
        return np.concatenate([varying, constant])
    z = (traces[varying] - traces[varying].mean(axis=1, keepdims=True)) / sd[varying, None]
    tree = linkage(z, method=method, metric="correlation")
    return np.concatenate([varying[leaves_list(tree)], constant])


def zscored(traces: np.ndarray) -> np.ndarray:
    """Each row minus its mean, divided by its SD (constant rows become 0)."""
    traces = np.asarray(traces, dtype=np.float64)
    sd = traces.std(axis=1, keepdims=True)
    return (traces - traces.mean(axis=1, keepdims=True)) / np.where(sd > 0, sd, 1)


def downsample(traces: np.ndarray, factor: int) -> np.ndarray:
    """Mean over consecutive blocks of `factor` frames (the last partial block dropped)."""
    if factor <= 1:
        return np.asarray(traces)
    n = traces.shape[1] // factor
    if n == 0:
        return np.asarray(traces)
    return np.asarray(traces)[:, : n * factor].reshape(traces.shape[0], n, factor).mean(axis=2)

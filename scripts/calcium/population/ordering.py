"""Row orders of a raster: by index, by ensemble, by a 1-D correlation embedding, by response type.

Each order is the neuron drawn in each row (`order[row] = neuron`) and its groups (labelled
consecutive runs of rows, with separators between them in the browser).

The 1-D embedding is the leaf order of average-linkage hierarchical clustering of the
neurons' event trains with correlation distance (`calcium.stimulus.clustering.cluster_order`): the
event counts per neuron in bins of the coactivity bin width (at most EMBEDDING_BINS bins: wider
bins for longer recordings), so that neurons firing together sit next to each other, as in
Rastermap's sorting of neurons along a 1-D manifold. Sessions with more than
MAX_CLUSTERED_NEURONS neurons (clustering needs n² distances) are ordered by the first
principal component of the z-scored counts instead. Neurons without events are placed last.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

EMBEDDING_BINS = 2000
MAX_CLUSTERED_NEURONS = 4000


def event_counts(
    neurons: np.ndarray, times_s: np.ndarray, n_neurons: int, start_s: float, duration_s: float, bin_s: float
):
    """(n_neurons, bins) event counts in bins of at least `bin_s` (at most EMBEDDING_BINS bins)."""
    bin_s = max(float(bin_s), float(duration_s) / EMBEDDING_BINS, 1e-9)
    n_bins = max(1, int(np.ceil(duration_s / bin_s)))
    column = np.clip(((np.asarray(times_s, dtype=float) - start_s) / bin_s).astype(np.int64), 0, n_bins - 1)
    flat = np.asarray(neurons, dtype=np.int64) * n_bins + column
    return np.bincount(flat, minlength=n_neurons * n_bins).reshape(n_neurons, n_bins).astype(np.float64)


def embedding_order(counts: np.ndarray) -> np.ndarray:
    """Neurons in the order of a 1-D embedding of their event trains (see the module's text)."""
    from calcium.stimulus.clustering import cluster_order

    counts = np.asarray(counts, dtype=np.float64)
    active = np.flatnonzero(counts.std(axis=1) > 0)
    silent = np.setdiff1d(np.arange(counts.shape[0]), active)
    if active.size <= 2:
        return np.concatenate([active, silent])
    if active.size <= MAX_CLUSTERED_NEURONS:
        return np.concatenate([active[cluster_order(counts[active])], silent])
    z = counts[active]
    z = (z - z.mean(axis=1, keepdims=True)) / z.std(axis=1, keepdims=True)
    rng = np.random.default_rng(0)
    vector = rng.normal(size=z.shape[0])
    for _ in range(50):  # power iteration on z z^T: the first principal component's scores
        vector = z @ (z.T @ vector)
        vector /= np.linalg.norm(vector)
    return np.concatenate([active[np.argsort(vector, kind="stable")], silent])


def _grouped(n_neurons: int, keys: list[tuple[str, list[int]]]) -> dict:
    order, groups = [], []
    for label, neurons in keys:
        if neurons:
            groups.append({"label": label, "first": len(order), "count": len(neurons)})
            order += neurons
    return {"order": np.asarray(order, dtype=np.int64), "groups": groups}


def ensemble_order(n_neurons: int, members: pd.DataFrame | None) -> dict:
    """Members of each ensemble (ensemble id order; a neuron in several ensembles in its
    lowest), by participation (highest first), then the neurons in no ensemble by index."""
    placed: set[int] = set()
    keys = []
    if members is not None and len(members) and "member" in members:
        table = members[members.member.astype(bool)]
        for ensemble, group in table.groupby("ensemble", sort=True):
            ranked = group.sort_values(["participation", "neuron"], ascending=[False, True]).neuron
            mine = [int(n) for n in ranked if int(n) not in placed and 0 <= int(n) < n_neurons]
            placed.update(mine)
            keys.append((f"ensemble {ensemble}", mine))
    keys.append(("no ensemble", [n for n in range(n_neurons) if n not in placed]))
    return _grouped(n_neurons, keys)


def response_order(n_neurons: int, regression: pd.DataFrame) -> dict:
    """Neurons grouped by response type (names in order, "not stimulus-locked" last), by R²
    (highest first) within a group; neurons missing from the table last."""
    kinds = sorted(set(regression.response_type.astype(str)) - {"not stimulus-locked"})
    keys = []
    placed: set[int] = set()
    for kind in [*kinds, "not stimulus-locked"]:
        group = regression[regression.response_type.astype(str) == kind]
        ranked = group.sort_values(["r2", "neuron"], ascending=[False, True]).neuron
        mine = [int(n) for n in ranked if 0 <= int(n) < n_neurons and int(n) not in placed]
        placed.update(mine)
        keys.append((kind, mine))
    keys.append(("not fitted", [n for n in range(n_neurons) if n not in placed]))
    return _grouped(n_neurons, keys)


def raster_orders(
    n_neurons: int,
    event_neurons: np.ndarray,
    event_times_s: np.ndarray,
    start_s: float,
    duration_s: float,
    bin_s: float,
    members: pd.DataFrame | None = None,
    regression: pd.DataFrame | None = None,
) -> dict[str, dict]:
    """{name: {"order": (n_neurons,) neuron per row, "groups": [{label, first, count}]}} for
    "neuron", "ensemble", "embedding" and (with a regression table) "response"."""
    orders = {
        "neuron": {"order": np.arange(n_neurons, dtype=np.int64), "groups": []},
        "ensemble": ensemble_order(n_neurons, members),
    }
    counts = event_counts(event_neurons, event_times_s, n_neurons, start_s, duration_s, bin_s)
    orders["embedding"] = {"order": embedding_order(counts).astype(np.int64), "groups": []}
    if regression is not None and len(regression):
        orders["response"] = response_order(n_neurons, regression)
    return orders

"""Raster row orders: by ensemble, by a 1-D correlation embedding, by response type."""

from __future__ import annotations

import numpy as np
import pandas as pd

from calcium.population import ordering
from calcium.population.ordering import (
    embedding_order,
    ensemble_order,
    event_counts,
    raster_orders,
    response_order,
)


def two_assemblies(rng, n_neurons=24, duration_s=600.0):
    """Even neurons fire together at one set of times, odd neurons at another; neuron 23 is silent."""
    neurons, times = [], []
    shared = [np.sort(rng.uniform(0, duration_s, 40)), np.sort(rng.uniform(0, duration_s, 40))]
    for n in range(n_neurons - 1):
        mine = shared[n % 2][rng.random(40) < 0.8] + rng.normal(0, 0.1, 1)
        noise = rng.uniform(0, duration_s, 5)
        times.append(np.clip(np.concatenate([mine, noise]), 0, duration_s - 1e-6))
        neurons.append(np.full(times[-1].size, n))
    return np.concatenate(neurons), np.concatenate(times)


def test_embedding_puts_neurons_that_fire_together_next_to_each_other():
    neurons, times = two_assemblies(np.random.default_rng(1))
    counts = event_counts(neurons, times, 24, 0.0, 600.0, 1.0)
    assert counts.sum() == neurons.size
    order = embedding_order(counts)
    assert sorted(order) == list(range(24)) and order[-1] == 23  # every neuron once, silent last
    parity = order[:-1] % 2
    assert np.count_nonzero(np.diff(parity)) == 1  # the two assemblies are contiguous blocks


def test_embedding_of_large_sessions_uses_the_first_principal_component(monkeypatch):
    monkeypatch.setattr(ordering, "MAX_CLUSTERED_NEURONS", 5)
    neurons, times = two_assemblies(np.random.default_rng(2))
    order = embedding_order(event_counts(neurons, times, 24, 0.0, 600.0, 1.0))
    assert sorted(order) == list(range(24)) and order[-1] == 23
    assert np.count_nonzero(np.diff(order[:-1] % 2)) == 1


def test_ensemble_order_groups_members_by_participation_and_labels_groups():
    members = pd.DataFrame(
        {
            "ensemble": [0, 0, 0, 1, 1],
            "neuron": [5, 2, 4, 2, 3],
            "participation": [0.5, 0.9, 0.1, 0.8, 0.6],
            "member": [True, True, False, True, True],
        }
    )
    result = ensemble_order(7, members)
    assert result["order"].tolist() == [2, 5, 3, 0, 1, 4, 6]  # neuron 2 in its lowest ensemble only
    assert result["groups"] == [
        {"label": "ensemble 0", "first": 0, "count": 2},
        {"label": "ensemble 1", "first": 2, "count": 1},
        {"label": "no ensemble", "first": 3, "count": 4},
    ]


def test_response_order_groups_by_type_then_r2_with_unlocked_last():
    regression = pd.DataFrame(
        {
            "neuron": [0, 1, 2, 3, 4],
            "r2": [0.2, 0.9, 0.5, 0.01, 0.3],
            "response_type": ["tone", "puff", "tone", "not stimulus-locked", "suppressed:tone"],
        }
    )
    result = response_order(6, regression)
    assert result["order"].tolist() == [1, 4, 2, 0, 3, 5]
    assert [g["label"] for g in result["groups"]] == [
        "puff",
        "suppressed:tone",
        "tone",
        "not stimulus-locked",
        "not fitted",
    ]
    orders = raster_orders(6, np.array([0, 1]), np.array([1.0, 2.0]), 0.0, 10.0, 0.5, None, regression)
    assert set(orders) == {"neuron", "ensemble", "embedding", "response"}
    assert all(sorted(o["order"]) == list(range(6)) for o in orders.values())
    assert "response" not in raster_orders(6, np.array([0]), np.array([1.0]), 0.0, 10.0, 0.5)

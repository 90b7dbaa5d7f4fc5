"""Ensemble membership: which neurons belong to each ensemble found by clustering, tested against
chance with Holm's correction, and the clean-up of the clusters (memberless, nested)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from calcium.population.ensembles import (
    Ensembles,
)


def ensemble_membership(contributions: np.ndarray, labels: np.ndarray, n_ensembles: int) -> np.ndarray:
    """Participation (ensembles, neurons): fraction of each ensemble's events a neuron is in.

    Events labelled -1 (in no ensemble) are ignored.
    """
    m = np.asarray(contributions, dtype=np.float64)
    participation = np.zeros((n_ensembles, m.shape[1]))
    for e in range(n_ensembles):
        chosen = labels == e
        if chosen.any():
            participation[e] = m[chosen].mean(axis=0)
    return participation


class Membership(NamedTuple):
    """Which neurons belong to which ensemble, (ensembles, neurons) arrays.

    participation: fraction of the ensemble's events the neuron takes part in.
    p_value: one-sided binomial P(X >= observed events) with X ~ Binomial(events of
        the ensemble, the neuron's chance of taking part in any one event).
    member: Holm-corrected p_value below alpha (and participation >= the floor).
    """

    participation: np.ndarray
    p_value: np.ndarray
    member: np.ndarray


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values along the last axis (family-wise error over neurons)."""
    p = np.atleast_2d(p_values)
    order = np.argsort(p, axis=1, kind="stable")
    m = p.shape[1]
    ranked = np.take_along_axis(p, order, axis=1) * (m - np.arange(m))[None, :]
    ranked = np.minimum(np.maximum.accumulate(ranked, axis=1), 1.0)
    adjusted = np.empty_like(ranked)
    np.put_along_axis(adjusted, order, ranked, axis=1)
    return adjusted.reshape(np.shape(p_values))


def ensemble_members(
    contributions: np.ndarray,
    labels: np.ndarray,
    n_ensembles: int,
    chance: np.ndarray,
    alpha: float = 0.05,
    min_participation: float = 0.0,
    without: np.ndarray | None = None,
) -> Membership:
    """Ensemble members: neurons that take part in an ensemble's events more often than chance.

    Model: if neuron i ignored ensemble e, the number of e's n_e events it takes
    part in would be Binomial(n_e, chance_i), chance_i the probability that it is
    active in the window of an event placed without regard to it (e.g.
    `calcium.population.coactivity.window_activity`, computed with the same jitter tolerance
    as the contributions). A neuron is a member when the one-sided binomial
    p-value, Holm-corrected over all neurons, is below `alpha` (family-wise error
    per ensemble), and it takes part in at least `min_participation` of the events
    (an optional extra floor; 0 = none).

    contributions: (events, neurons) bool; labels: (events,) ensemble or -1;
    chance: (neurons,) or (ensembles, neurons) probabilities in [0, 1] (see
        `calcium.population.coactivity.participation_chance`); alpha in (0, 1] (1: no test,
        only the floor).
    without: (events, neurons) bool, whether each event would still be an ensemble
        event without the neuron (`calcium.population.coactivity.significant_without_each`);
        a neuron's test then counts only those events (its own activity cannot have
        chosen them). None: every event counts.
    """
    from scipy.special import bdtrc  # binom.sf(k, n, p) is bdtrc(k, n, p), without scipy.stats' import

    m = np.asarray(contributions, dtype=bool)
    n_neurons = m.shape[1]
    participation = ensemble_membership(m, labels, n_ensembles)
    p_value = np.ones((n_ensembles, n_neurons))
    chance = np.broadcast_to(
        np.clip(np.asarray(chance, dtype=np.float64), 0.0, 1.0), (n_ensembles, n_neurons)
    )
    counted = np.ones(m.shape, dtype=bool) if without is None else np.asarray(without, dtype=bool)
    for e in range(n_ensembles):
        chosen = labels == e
        taken = (m[chosen] & counted[chosen]).sum(axis=0)
        trials = counted[chosen].sum(axis=0)
        p_value[e] = np.where(taken > 0, bdtrc(np.maximum(taken - 1, 0), trials, chance[e]), 1.0)
    member = (holm(p_value) < alpha) & (participation >= min_participation) & (participation > 0)
    if alpha >= 1.0:
        member = (participation >= min_participation) & (participation > 0)
    return Membership(participation, p_value, member)


def _renumber(labels: np.ndarray, keep_order: list[int]) -> tuple[np.ndarray, int]:
    relabel = np.full(max(labels.max(initial=-1), max(keep_order, default=-1)) + 2, -1, dtype=np.int64)
    relabel[keep_order] = np.arange(len(keep_order))
    return np.where(labels >= 0, relabel[np.maximum(labels, 0)], -1), len(keep_order)


def drop_memberless(result: Ensembles, membership: Membership, min_members: int = 2):
    """Keep the ensembles with at least `min_members` members; returns (Ensembles, Membership).

    A cluster of events in which fewer than two neurons take part more often than
    chance is not a group of neurons that fire together (a chance cluster of
    unrelated events): its events are relabelled -1 and the other ensembles keep
    their order, renumbered from 0.
    """
    keep = np.flatnonzero(membership.member.sum(axis=1) >= min_members)
    labels, n = _renumber(result.labels, keep.tolist())
    return result._replace(labels=labels, n_ensembles=n), Membership(*(part[keep] for part in membership))


def resolve_nested(result: Ensembles, membership: Membership, covered: float = 0.8) -> Ensembles:
    """Relabel clusters whose members belong to larger ensembles; returns Ensembles.

    Going from the ensemble with the fewest events up: if at least `covered` of its
    members are members of ensembles with more events, it is not an ensemble of its
    own - when that many are members of one larger ensemble it is a part of it (its
    events join it; jitter and missing spikes can split one ensemble's events), and
    when they come from several it is their coincidence (ensembles firing at the
    same time by chance; its events are relabelled -1). Ensembles are renumbered by their
    number of events, as `cluster_ensemble_events` does. Recompute the membership
    afterwards.
    """
    labels = result.labels.copy()
    sizes = np.bincount(labels[labels >= 0], minlength=result.n_ensembles)
    order = sorted(range(result.n_ensembles), key=lambda e: (sizes[e], -e))
    alive = set(range(result.n_ensembles))
    for e in order:
        members = set(np.flatnonzero(membership.member[e]).tolist())
        larger = [f for f in alive if f != e and (sizes[f], -f) > (sizes[e], -e)]
        if not members or not larger:
            continue
        shared = {f: len(members & set(np.flatnonzero(membership.member[f]).tolist())) for f in larger}
        owner = max(larger, key=lambda f: (shared[f], sizes[f], -f))
        inside = members & set(np.flatnonzero(membership.member[larger].any(axis=0)).tolist())
        if shared[owner] >= covered * len(members):  # a part of one larger ensemble
            labels[labels == e] = owner
            sizes[owner] += sizes[e]
        elif len(inside) >= covered * len(members):  # a coincidence of several
            labels[labels == e] = -1
        else:
            continue
        alive.discard(e)
    first = {e: int(np.flatnonzero(labels == e)[0]) for e in alive}
    ranked = sorted(alive, key=lambda e: (-sizes[e], first[e]))
    labels, n = _renumber(labels, ranked)
    return result._replace(labels=labels, n_ensembles=n)


def explained_elsewhere(contributions: np.ndarray, labels: np.ndarray, member: np.ndarray) -> np.ndarray:
    """(events, neurons) bool: the neuron's own ensemble is active in an event of another ensemble.

    An ensemble is active in an event when at least half of its members take part.
    Two ensembles that fire together by chance put each other's members into their
    events; a member of ensemble f found in an event of ensemble e while f is active
    there is explained by f, and that event says nothing about its membership of e.
    """
    m = np.asarray(contributions, dtype=bool)
    member = np.asarray(member, dtype=bool)
    out = np.zeros(m.shape, dtype=bool)
    sizes = member.sum(axis=1)
    for f in range(member.shape[0]):
        if sizes[f] == 0:
            continue
        active = (m[:, member[f]].sum(axis=1) >= 0.5 * sizes[f]) & (labels != f)
        out[np.ix_(active, member[f])] = True
    return out


def find_members(
    contributions: np.ndarray,
    result: Ensembles,
    chance_of,
    alpha: float = 0.05,
    min_participation: float = 0.0,
    without: np.ndarray | None = None,
    min_members: int = 2,
):
    """Members of the clustered ensembles and the ensembles that remain: (Ensembles, Membership, chance).

    Tests membership (`ensemble_members`), drops clusters with fewer than
    `min_members` members (`drop_memberless`) and resolves clusters nested in
    larger ensembles (`resolve_nested`); events in which a neuron's own ensemble is
    active do not count for its membership of another (`explained_elsewhere`).
    Repeats until the ensembles and their members settle (or, if membership
    alternates, for a bounded number of passes).
    chance_of(labels, n_ensembles) -> (n_ensembles, neurons) chance of taking part
    (e.g. `calcium.population.coactivity.participation_chance` with the session's raster).
    without: see `ensemble_members`.
    """
    m = np.asarray(contributions, dtype=bool)
    base = np.ones(m.shape, dtype=bool) if without is None else np.asarray(without, dtype=bool)
    counted = base
    previous = None
    for _ in range(2 * max(result.n_ensembles, 1) + 4):
        chance = np.asarray(chance_of(result.labels, result.n_ensembles)).reshape(
            result.n_ensembles, m.shape[1]
        )
        membership = ensemble_members(
            m, result.labels, result.n_ensembles, chance, alpha, min_participation, counted
        )
        kept = np.flatnonzero(membership.member.sum(axis=1) >= min_members)
        pruned, pruned_membership = drop_memberless(result, membership, min_members)
        resolved = resolve_nested(pruned, pruned_membership)
        settled = resolved.n_ensembles == result.n_ensembles and np.array_equal(
            resolved.labels, result.labels
        )
        if settled and previous is not None and np.array_equal(previous, membership.member):
            return result, membership, chance[kept]
        if settled:
            previous = membership.member
            counted = base & ~explained_elsewhere(m, result.labels, membership.member)
            continue
        result, previous, counted = resolved, None, base
    # No fixed point within the passes (membership alternating): keep the last ensembles.
    chance = np.asarray(chance_of(result.labels, result.n_ensembles)).reshape(result.n_ensembles, m.shape[1])
    membership = ensemble_members(
        m, result.labels, result.n_ensembles, chance, alpha, min_participation, counted
    )
    return result, membership, chance


def match_ensembles(found: list[set[int]], planted: list[set[int]]) -> np.ndarray:
    """Best Jaccard similarity of each planted member set to any found one, (len(planted),)."""
    best = np.zeros(len(planted))
    for i, truth in enumerate(planted):
        for members in found:
            union = len(truth | members)
            if union:
                best[i] = max(best[i], len(truth & members) / union)
    return best

"""Seeds of small assemblies from repeated triple coincidences (the `refined` method's second source
of seeds, beside the ICA patterns of `calcium.population.components`).

A 5-neuron assembly adds one eigenvalue barely above chance among 200 neurons (at 1 Hz its
binned and windowed eigenvalues sit at the surrogate bound), yet its members fire together far
more often than chance: the activations of two members hold a third one in most of them. So:

1. pairs: each neuron's binned activity against every neuron's window activity
   (± jitter_bins): coincidences C_ij = number of bins in which i is active and j within the
   window, against C_ij's expectation under independence (i's active bins times j's window
   activity); each neuron's partner is its largest Poisson z-score (sparse x dense product,
   blocks of neurons; no neurons x neurons matrix is kept).
2. triples: the activations of each candidate pair (bins where both are active within the
   window, merged as `group_ensemble_events` does) and every other neuron's presence at them,
   tested against Binomial(activations, its window activity): under the circular-shift null a
   third neuron is independent of any pair, however the pair was chosen. A pair becomes a seed
   (the pair and every neuron significant at them) when its best third neuron passes a
   Bonferroni correction over all (pair, neuron) tests made, and the triple seen from its other
   two sides passes too (each neuron of the pair at the activations of the other and the third,
   Bonferroni over the neurons).

The seeds are then refined like the ICA ones (`calcium.population.assemblies.refine_members`) and
tested against the circular-shift null with the other candidates.
"""

from __future__ import annotations

import numpy as np

from calcium.population.coactivity import ActiveBins, group_ensemble_events


def pair_partners(
    raster: ActiveBins, windows: np.ndarray, chance: np.ndarray, n_partners: int = 3, block: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """Each neuron's n_partners partners (largest coincidence z-scores) and those z-scores,
    (neurons, n_partners) each, best first.

    windows: (bins, neurons) bool (`calcium.population.components.window_matrix`; bins holding no
    frame all False); chance: (neurons,) window activity. No partner: -1 (z-score -inf).
    """
    from scipy.sparse import csr_matrix

    n = raster.n_neurons
    m = max(1, min(n_partners, n - 1))
    held = np.ones(raster.n_bins, bool) if raster.frames_per_bin is None else raster.frames_per_bin > 0
    keep = held[raster.bins]
    neurons, bins = raster.neurons[keep], raster.bins[keep]
    binned = csr_matrix((np.ones(neurons.size, np.float32), (neurons, bins)), shape=(n, raster.n_bins))
    binned.sum_duplicates()
    binned.data[:] = 1.0
    n_active = np.asarray(binned.sum(axis=1)).ravel()
    dense = windows.astype(np.float32)
    rate = np.asarray(chance, dtype=np.float64)
    partner = np.full((n, m), -1, dtype=np.int64)
    score = np.full((n, m), -np.inf)
    for start in range(0, n, block):
        rows = np.arange(start, min(start + block, n))
        counts = np.asarray(binned[rows] @ dense, dtype=np.float64)  # (rows, neurons)
        expected = n_active[rows, None] * rate[None, :]
        z = np.full_like(counts, -np.inf)
        np.divide(counts - expected, np.sqrt(expected), out=z, where=expected > 0)
        z[np.arange(rows.size), rows] = -np.inf
        best = np.argpartition(-z, m - 1, axis=1)[:, :m]
        best_z = np.take_along_axis(z, best, axis=1)
        order = np.argsort(-best_z, axis=1)
        best, best_z = np.take_along_axis(best, order, axis=1), np.take_along_axis(best_z, order, axis=1)
        partner[rows] = np.where(np.isfinite(best_z), best, -1)
        score[rows] = best_z
    return partner, score


def triple_seeds(
    raster: ActiveBins,
    windows: np.ndarray,
    chance: np.ndarray,
    jitter_bins: int,
    alpha: float = 0.05,
    min_z: float = 2.0,
    n_partners: int = 3,
    max_pairs: int = 1000,
    covered: list[np.ndarray] | None = None,
) -> list[np.ndarray]:
    """Seeds (neurons,) bool of pairs whose activations hold a third neuron beyond chance (module doc).

    Pairs: each neuron with its partner (`pair_partners`), z-score at least min_z, the strongest
    max_pairs, each once; a pair both of whose neurons are members of one set in `covered`
    (assemblies found already) is skipped. alpha: level of the third neuron's test, Bonferroni over
    every (pair, neuron) tested. Seeds are returned strongest pair first; a pair whose two neurons
    both lie in an earlier seed is skipped, and so is a seed with fewer than two neurons outside
    some set of `covered`: a stranger paired with a member of a found assembly sees the member's
    partners at their coincidences (they are not independent of the pair), not a new assembly.
    """
    from scipy.special import bdtrc

    partner, score = pair_partners(raster, windows, chance, n_partners)
    n = raster.n_neurons
    i, slot = np.nonzero((partner >= 0) & (score >= min_z))
    pairs = np.sort(np.column_stack([i, partner[i, slot]]), axis=1)
    pairs, first = np.unique(pairs, axis=0, return_index=True)
    strength = score[i, slot][first]
    order = np.argsort(-strength, kind="stable")[:max_pairs]
    pairs = pairs[order]
    taken_sets = [np.asarray(c, dtype=bool) for c in (covered or [])]
    n_tests = max(pairs.shape[0], 1) * n
    p = np.clip(np.asarray(chance, dtype=np.float64), 0.0, 1.0)

    def presence(*group: int) -> tuple[int, np.ndarray]:
        """The activations of the group (every one of its neurons active within the window) and
        every other neuron's p-value of its presence at them."""
        both = windows[:, list(group)].all(axis=1)
        peak, _, _ = group_ensemble_events(both, both.astype(np.int64), jitter_bins)
        present = windows[peak].sum(axis=0)
        present[list(group)] = 0
        return peak.size, np.where(present > 0, bdtrc(np.maximum(present - 1, 0), peak.size, p), 1.0)

    def coherent(a: int, b: int, c: int) -> np.ndarray | None:
        """The neurons present at the activations of the triple beyond chance (Bonferroni over the
        neurons: these were not searched for), or None when the triple does not hold together
        from another side than the pair's: each of the pair present at the activations of the
        other and the third, or a fourth neuron present at the activations of all three. Under the
        null a neuron is independent of the triple however it was chosen; a chance triple of
        independent neurons passed from one side only (8 of 10 activations; its other sides 6 of
        11, p 0.001, and 6 of 13)."""
        n_triple, p_fourth = presence(a, b, c)
        fourth = p_fourth * n < alpha if n_triple >= 3 else np.zeros(n, dtype=bool)
        if fourth.any() or all(presence(x, c)[1][y] * n < alpha for x, y in ((a, b), (b, a))):
            return fourth
        return None

    seeds: list[np.ndarray] = []
    for a, b in pairs:
        if any(s[a] and s[b] for s in taken_sets):
            continue
        n_activations, p_value = presence(a, b)
        if n_activations < 3:
            continue
        significant = p_value * n_tests < alpha
        if not significant.any():
            continue
        # Every significant third in turn (strongest first): one triple must hold together. Its
        # fourth neurons join the seed: a core of three cannot test its own members (without one
        # of them, two neurons coactive by chance 4 % of the time at 1 Hz never reach the 1 %
        # level), so a seed of three dies in the refinement however strong its activations.
        thirds = np.flatnonzero(significant)
        thirds = thirds[np.argsort(p_value[thirds], kind="stable")]
        fourth = next((f for f in (coherent(a, b, int(c)) for c in thirds) if f is not None), None)
        if fourth is None:
            continue
        seed = significant | fourth
        seed[[a, b]] = True
        if any((seed & ~s).sum() < 2 for s in taken_sets[: len(covered or [])]):
            continue  # two members of a found assembly and a neuron correlated with one of them
        seeds.append(seed)
        taken_sets.append(seed)
    return seeds

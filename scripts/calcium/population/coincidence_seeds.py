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
2. triples: the activations of each candidate pair (bins where both are active within the window,
   merged as `group_ensemble_events` does) and every other neuron's presence at them, tested
   against Binomial(activations, its window activity): under the circular-shift null a third
   neuron is independent of any pair, however the pair was chosen. A pair becomes a seed when one
   of two statistics passes, each at level alpha: its best third neuron, over all (pair, neuron)
   tests made (the seed: the pair and every neuron significant at them); or its `joint` (3)
   neurons most present together, their rank-truncated product of p-values (`truncated_product_p`:
   the chance that the 3 smallest of the other neurons' p-values are as small, the choice of the 3
   accounted for), over the pairs (the seed: the pair and those 3). A 5-member assembly at 60 %
   participation holds its third members at p ~ 1e-5 each, short of the first level, and jointly
   beyond the second (a liberal seed stage, at most twice alpha over both, whose candidates the
   circular-shift test of each ensemble then judges). The triple of the pair and its best third
   seen from its other two sides must pass too (each neuron of the pair at the activations of the
   other and the third, Bonferroni over the neurons). A seed sharing two neurons with an earlier
   one joins it (their union): the pairs of one weak, large assembly (50 members at 1 Hz) each
   seeded a few of its members, refined into pieces.
3. weak seeds (optional): a pair whose statistic passes but whose triple does not hold together
   from its other sides (a 5-member assembly at 60 % participation with one member's events
   partly missed: that member present at 4 of the other two's 12 activations) seeds a *weak*
   candidate instead of none: the pair, its significant neurons and its `joint` neurons most
   present. The caller keeps such a candidate only where its refined core holds four neurons
   and it five members (the rule of the eigenvector seeds, which a chance triple does not meet).

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
    held = raster.held_bins
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


def truncated_product_p(log_product: float, k: int, n: int, n_grid: int = 4000) -> float:
    """P(the product of the k smallest of n independent Uniform(0, 1) p-values <= exp(log_product)):
    the rank-truncated product (Dudbridge & Koeleman 2003, Genet Epidemiol 25:360), which accounts
    for the k having been chosen as the smallest. Given the k-th smallest t ~ Beta(k, n - k + 1),
    the k - 1 smaller ones are uniform below t, so the product is t^k times a product of k - 1
    uniforms (minus its log ~ Gamma(k - 1)); integrated over log t on a grid. Discrete p-values
    (P(p <= u) <= u) make it conservative."""
    from scipy.special import betaln, gammaincc

    if k <= 1:
        return float(-np.expm1(n * np.log1p(-min(np.exp(log_product), 1.0))))
    u = np.linspace(-69.0, 0.0, n_grid)  # log t
    t = np.exp(u)
    log_density = (k - 1) * u + (n - k) * np.log1p(-np.minimum(t, 1 - 1e-16)) - betaln(k, n - k + 1)
    beyond = k * u - log_product  # -log(the product of the k - 1 uniforms' bound)
    tail = np.where(beyond <= 0, 1.0, gammaincc(k - 1, np.maximum(beyond, 0.0)))
    return float(np.clip(np.trapezoid(tail * np.exp(log_density + u), u), 0.0, 1.0))


def state_presence(raster: ActiveBins, state: np.ndarray, step: float = 0.05):
    """A function of peak bins giving (neurons,) each neuron's expected activity at them relative to
    its mean over the bins holding frames: the mean of state ** beta over the peaks over its mean
    over those bins, beta the neuron's coupling to the state (`calcium.population.state.
    state_coupling` on its active bins, rounded to `step`): 1 for a neuron that ignores the state,
    the state's own rise for one that follows the population, more for one that swings further
    (neurons modulated 20x beside unmodulated ones). state: (bins,) > 0."""
    from calcium.population.state import state_coupling

    held = raster.held_bins
    log_state = np.log(np.asarray(state, dtype=np.float64))
    coupling = state_coupling(state, raster.neurons, raster.bins, raster.n_neurons, held)
    levels, of_neuron = np.unique(np.round(coupling / step), return_inverse=True)
    levels = levels * step
    mean_over_held = np.exp(levels[:, None] * log_state[None, held]).mean(axis=1)

    def at(peak: np.ndarray) -> np.ndarray:
        mean_at = np.exp(levels[:, None] * log_state[None, np.asarray(peak, dtype=np.int64)]).mean(axis=1)
        return (mean_at / mean_over_held)[of_neuron]

    return at


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
    joint: int = 3,
    weak: list[np.ndarray] | None = None,
    state: np.ndarray | None = None,
) -> list[np.ndarray]:
    """Seeds (neurons,) bool of pairs whose activations hold a third neuron beyond chance (module doc).

    Pairs: each neuron with its partner (`pair_partners`), z-score at least min_z, the strongest
    max_pairs, each once; a pair both of whose neurons are members of one set in `covered`
    (assemblies found already) is skipped. alpha: level of each of the pair's two tests (module
    doc): the best third neuron (Bonferroni over every (pair, neuron) tested) and the `joint`
    neurons most present (rank-truncated product, Bonferroni over the pairs). Seeds are returned
    strongest pair first; a pair whose two neurons both lie in an earlier seed is skipped, and so
    is a seed with fewer than two neurons outside some set of `covered`: a stranger paired with a
    member of a found assembly sees the member's partners at their coincidences (they are not
    independent of the pair), not a new assembly.
    weak: a list to which the weak seeds (module doc, 3.) are appended, (neurons,) bool each,
    strongest pair first (`_add_weak`); None: pairs whose triple does not hold together are dropped.
    state: (bins,) the population's state (`calcium.population.state.session_state`) or None: each
    neuron's presence at a group's activations is tested against its window activity in the state
    there, as closely as the neuron follows the state (`state_presence`). A pair active together
    mostly in the up states finds every neuron there more often than its session-wide activity
    says: chance triples of neurons sharing a 5x state seeded 4-member sets that passed every
    later test.
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
    n_found = len(taken_sets)
    n_pairs = max(pairs.shape[0], 1)
    n_tests = n_pairs * n
    p = np.clip(np.asarray(chance, dtype=np.float64), 0.0, 1.0)
    in_state = None if state is None else state_presence(raster, state)

    def presence(*group: int) -> tuple[int, np.ndarray]:
        """The activations of the group (every one of its neurons active within the window) and
        every other neuron's p-value of its presence at them."""
        both = windows[:, list(group)].all(axis=1)
        peak, _, _ = group_ensemble_events(both, both.astype(np.int64), jitter_bins)
        present = windows[peak].sum(axis=0)
        present[list(group)] = 0
        at = p if in_state is None or not peak.size else np.clip(p * in_state(peak), 0.0, 1.0)
        return peak.size, np.where(present > 0, bdtrc(np.maximum(present - 1, 0), peak.size, at), 1.0)

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
        # Two statistics per pair, each at level alpha: the best third neuron alone, and the
        # `joint` neurons most present at the activations together (`truncated_product_p`).
        significant = p_value * n_tests < alpha
        if not significant.any():
            top = np.argpartition(p_value, joint - 1)[:joint]
            log_product = float(np.log(np.maximum(p_value[top], 1e-300)).sum())
            if truncated_product_p(log_product, joint, n - 2) * n_pairs >= alpha:
                continue
            significant = np.zeros(n, dtype=bool)
            significant[top] = True
        # Every significant third in turn (strongest first): one triple must hold together. Its
        # fourth neurons join the seed: a core of three cannot test its own members (without one
        # of them, two neurons coactive by chance 4 % of the time at 1 Hz never reach the 1 %
        # level), so a seed of three dies in the refinement however strong its activations.
        thirds = np.flatnonzero(significant)
        thirds = thirds[np.argsort(p_value[thirds], kind="stable")]
        fourth = next((f for f in (coherent(a, b, int(c)) for c in thirds) if f is not None), None)
        if fourth is None:
            if weak is not None:
                _add_weak(weak, seeds, taken_sets[:n_found], significant, p_value, joint, (a, b))
            continue
        seed = significant | fourth
        seed[[a, b]] = True
        if any((seed & ~s).sum() < 2 for s in taken_sets[:n_found]):
            continue  # two members of a found assembly and a neuron correlated with one of them
        joined = next((x for x in seeds if (x & seed).sum() >= 2), None)
        if joined is not None:  # one assembly seen from two pairs: one seed
            joined |= seed
            continue
        seeds.append(seed)
        taken_sets.append(seed)
    if weak is not None:  # a weak seed of an assembly that a later (stronger-ending) pair seeded
        weak[:] = [x for x in weak if not any((x & seed).sum() >= 2 for seed in seeds)]
    return seeds


def _add_weak(
    weak: list[np.ndarray],
    seeds: list[np.ndarray],
    found: list[np.ndarray],
    significant: np.ndarray,
    p_value: np.ndarray,
    joint: int,
    pair: tuple[int, int],
) -> None:
    """Append the weak seed of a pair (`triple_seeds`' weak): the pair, its significant neurons and
    its `joint` neurons most present at its activations (smallest p_value), (neurons,) bool: none
    when it has fewer than two neurons outside an assembly in `found` or shares two neurons with a
    seed; else joined to an earlier weak seed sharing two neurons with it (the union checked
    against `found` again), or added. `triple_seeds` drops, at its end, the weak seeds that share
    two neurons with a seed found after them."""
    seed = np.asarray(significant, dtype=bool).copy()
    seed[np.argpartition(p_value, joint - 1)[:joint]] = True
    seed[list(pair)] = True
    if any((seed & ~s).sum() < 2 for s in found) or any((x & seed).sum() >= 2 for x in seeds):
        return
    joined = next((k for k, x in enumerate(weak) if (x & seed).sum() >= 2), None)
    if joined is None:
        weak.append(seed)
        return
    union = weak[joined] | seed
    if any((union & ~s).sum() < 2 for s in found):
        del weak[joined]
    else:
        weak[joined] = union

"""Seeds of assemblies that no other seed finds: dense sets of the pair-coincidence graph, the
search calibrated against circular-shift surrogates of itself (the `refined` method's last seeds).

A 10-member assembly at 60 % participation and 1 Hz stands below the eigenvalue bounds, and each
of its pairs coincides only a little more often than chance (Poisson z ~1-3), too weakly for the
triple seeds. Its 45 pairs together are far beyond chance. So:

1. pair z-scores: for every pair, the coincidences of each neuron's binned activity with the
   other's window activity (± jitter_bins) against their expectation for neurons independent
   given the population's state: each active bin of the one weighted by the population's
   activity around it (`calcium.population.state`: active neurons per bin over the session's
   own reach of bins either side, those within ± 2·jitter_bins left out, relative to the session's mean) times
   the other's window activity; flat, this is `coincidence_seeds.pair_partners`' expectation.
   Poisson z, averaged over the two directions; only z >= `MIN_PAIR_Z` (1) is kept (a sparse
   graph, computed in blocks of neurons: 10-16 % of the pairs of independent neurons reach it).
   Neurons independent but for a state they share (rates up fivefold together, an up/down or
   arousal state) coincide more often than their rates predict; against rates alone, as the
   surrogates below keep them, every session of such neurons gave 8-15 seeds.
2. greedy dense sets: from every neuron, the neuron and its strongest partner, then each time the
   neuron with the largest summed z to the set, up to max(`SIZES`) (12) neurons. At each size m
   of `SIZES` (5, 8, 12) a set scores the sum of its pairs' z over sqrt(pairs): its pairs'
   evidence together.
3. calibration of the whole search: the same search on `N_SURROGATES` (99) surrogates in which
   every neuron's binned and windowed activity over the bins holding frames is circularly
   shifted by its own offset (each keeps its activity and autocorrelation; the neurons are
   independent). Each size's scores are standardised by the mean and SD of the surrogates'
   largest score at that size; each surrogate's largest standardised score over the sizes is
   its maximum, and a set is a seed when its standardised score exceeds the (1 - `ALPHA`)
   quantile of a Gumbel distribution fitted to those maxima (`gumbel_quantile`; ALPHA 0.001:
   one session of independent neurons in 1000 yields a seed, whatever the number of sets the
   search tried; with the largest of the 99 surrogates as the bound, 1 in 100 did, and one such
   chance set in 560 negative-control sessions refined into an ensemble that passed the test),
   and at least every surrogate's maximum. The surrogates keep each neuron's rate, not the
   population's state; the state-weighted expectation (1.) stands in for it, within each
   surrogate as in the session. States changing within less than the reach are not followed
   (and the coactivity null, the other seeds and the test of each ensemble keep rates only).

The search costs about neurons² x bins per surrogate (2000 neurons x 7200 bins: ~1 s, ~80-100 s
with the surrogates; 2500 x 36 000 bins ~450 s, 550 MB); above `MAX_NEURONS` (2500) neurons it
is skipped and the job's log says so.

Seeds are returned most significant first; a set sharing two neurons with an earlier seed is
skipped, and so is one with fewer than two neurons outside an assembly found already or half its
neurons inside one (a found assembly grown by a few neurons, which would block the seeds of an
assembly overlapping it). The caller
refines them like the others and keeps one on the eigenvector seeds' terms (a core of four, five
members), or, after every other seed, with four members all in its core (this search, unlike
theirs, is calibrated as a whole).
"""

from __future__ import annotations

import logging

import numpy as np

from calcium.population.coactivity import ActiveBins
from calcium.population.state import held_jitter, population_state
from calcium.progress import Progress, track

SIZES = (5, 8, 12)
N_SURROGATES = 99
MIN_PAIR_Z = 1.0
MAX_NEURONS = 2500
ALPHA = 0.001


def gumbel_quantile(maxima: np.ndarray, alpha: float) -> float:
    """The (1 - alpha) quantile of a Gumbel distribution fitted to `maxima` by its moments (mean
    mu + 0.5772 beta, SD beta pi / sqrt(6)): the tail of a maximum beyond what a few surrogates
    sample (Gumbel 1958)."""
    beta = float(np.std(maxima)) * np.sqrt(6.0) / np.pi
    location = float(np.mean(maxima)) - np.euler_gamma * beta
    return location - beta * np.log(-np.log1p(-alpha))


def _poisson_z(observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """(observed - expected) / sqrt(expected), 0 where nothing is expected."""
    z = np.zeros(observed.shape)
    np.divide(observed - expected, np.sqrt(expected), out=z, where=expected > 0)
    return z


def _pair_z(binned, windowed, n_active: np.ndarray, chance: np.ndarray, block: int = 512):
    """Symmetric (neurons, neurons) float32 of the pair z-scores >= MIN_PAIR_Z, 0 elsewhere (module
    doc, 1.): csr, or a dense array when the neurons fit one block; binned, windowed: (neurons,
    held bins) csr of 0/1."""
    from scipy.sparse import csr_matrix, vstack

    n = binned.shape[0]
    windowed_t = windowed.T.tocsc()
    binned_t = binned.T.tocsc()
    parts = []
    for start in range(0, n, block):
        rows = slice(start, min(start + block, n))
        forward = (binned[rows] @ windowed_t).toarray()  # i's bins with j in its window
        if rows.stop - rows.start == n:  # one block: j's bins with i in its window, transposed
            backward = forward.T
        else:
            backward = (windowed[rows] @ binned_t).toarray()
        z = (
            _poisson_z(forward, n_active[rows, None] * chance[None, :])
            + _poisson_z(backward, chance[rows, None] * n_active[None, :])
        ) / 2
        z[np.arange(z.shape[0]), np.arange(rows.start, rows.stop)] = 0.0
        z[z < MIN_PAIR_Z] = 0.0
        if rows.stop - rows.start == n:  # one block: kept dense (the same values)
            return z.astype(np.float32)
        parts.append(csr_matrix(z.astype(np.float32)))
    return vstack(parts).tocsr()


def _rows(z, index: np.ndarray) -> np.ndarray:
    """Rows of z (sparse, or dense for a session of one block) as a dense float64 array."""
    rows = z[index]
    return np.asarray(rows.toarray() if hasattr(rows, "toarray") else rows, dtype=np.float64)


def _dense_sets(z, block: int = 256) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Greedy dense sets from every neuron (module doc, 2.): {size: (sets (neurons, size), score
    (neurons,))}. A set stops growing when no neuron has a positive summed z to it (it would be
    filled with unrelated neurons); it scores -inf at the sizes it does not reach."""
    n = z.shape[0]
    top = max(SIZES)
    out = {m: (np.zeros((n, m), np.int64), np.full(n, -np.inf)) for m in SIZES}
    if n < top:
        return out
    for start in range(0, n, block):
        starts = np.arange(start, min(start + block, n))
        b = starts.size
        total = _rows(z, starts)
        members = np.zeros((b, top), np.int64)
        members[:, 0] = starts
        taken = np.zeros((b, n), dtype=bool)
        taken[np.arange(b), starts] = True
        pairs = np.zeros(b)
        growing = np.ones(b, dtype=bool)
        for k in range(1, top):
            candidate = np.where(taken, -np.inf, total)
            j = np.argmax(candidate, axis=1)
            growing &= candidate[np.arange(b), j] > 0
            pairs += total[np.arange(b), j]
            members[:, k] = j
            taken[np.arange(b), j] = True
            total += _rows(z, j)
            size = k + 1
            if size in out:
                out[size][0][starts] = members[:, :size]
                out[size][1][starts] = np.where(growing, pairs / np.sqrt(size * (size - 1) / 2), -np.inf)
    return out


def dense_set_seeds(
    raster: ActiveBins,
    windows: np.ndarray,
    chance: np.ndarray,
    covered: list[np.ndarray] | None = None,
    seed: int = 0,
    n_surrogates: int = N_SURROGATES,
    jitter_bins: int = 1,
) -> list[np.ndarray]:
    """Seeds (neurons,) bool, most significant first (module doc).

    windows: (bins, neurons) bool (`calcium.population.components.window_matrix`); chance:
    (neurons,) window activity over the bins holding frames; covered: member sets of assemblies
    found already (a seed needs two neurons outside each)."""
    from scipy.sparse import csr_matrix

    n = raster.n_neurons
    held = raster.held_bins
    index = np.flatnonzero(held)
    if n < max(SIZES) + 2 or index.size == 0 or raster.bins.size == 0:
        return []
    if n > MAX_NEURONS:
        logging.getLogger("calcium").info(
            "dense-set seeds skipped: %d neurons (more than %d; the search's surrogates cost grows "
            "with neurons squared)",
            n,
            MAX_NEURONS,
        )
        return []
    position = np.full(raster.n_bins, -1, dtype=np.int64)
    position[index] = np.arange(index.size)
    inside = position[raster.bins] >= 0
    binned = csr_matrix(
        (np.ones(int(inside.sum()), np.float32), (raster.neurons[inside], position[raster.bins[inside]])),
        shape=(n, index.size),
    )
    binned.sum_duplicates()
    # (neuron, place) of each active bin and window, by neuron: a shift keeps each row's entries
    # distinct, so each surrogate's rows are built directly (no sorting or summing of duplicates).
    layouts = [
        (np.repeat(np.arange(n), np.diff(m.indptr)), m.indices.astype(np.int64), m.indptr)
        for m in (binned, csr_matrix(np.asarray(windows)[index].T))
    ]

    def search(offsets: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        rows = [
            csr_matrix(
                (np.ones(places.size, np.float32), (places + offsets[neurons]) % index.size, indptr),
                shape=(n, index.size),
            )
            for neurons, places, indptr in layouts
        ]
        state = population_state(np.asarray(rows[0].sum(axis=0)).ravel(), held_jitter(jitter_bins, held))
        n_active = rows[0] @ state  # each active bin weighted by the population's state there
        return _dense_sets(_pair_z(rows[0], rows[1], n_active, np.asarray(chance, dtype=np.float64)))

    found = search(np.zeros(n, dtype=np.int64))
    rng = np.random.default_rng([seed, 31])
    maxima = {m: np.zeros(n_surrogates) for m in SIZES}
    with Progress(n_surrogates, "dense-set search on circular-shift surrogates", "surrogates") as progress:
        for s in track(range(n_surrogates), progress):
            surrogate = search(rng.integers(0, index.size, n))
            for m in SIZES:
                maxima[m][s] = surrogate[m][1].max()
    # Sizes that some surrogate's sets never reach, or whose surrogates all score alike, give no
    # distribution to standardise by (near-empty sessions: one chance coincidence would stand out
    # of all-zero surrogates): no seeds from them.
    usable = [m for m in SIZES if np.isfinite(maxima[m]).all() and maxima[m].std() > 0]
    if not usable:
        return []
    centre = {m: maxima[m].mean() for m in usable}
    spread = {m: maxima[m].std() for m in usable}
    standardised_maxima = np.max([(maxima[m] - centre[m]) / spread[m] for m in usable], axis=0)
    bound = max(gumbel_quantile(standardised_maxima, ALPHA), float(standardised_maxima.max()))
    candidates = []
    for m in usable:
        sets, score = found[m]
        standardised = (score - centre[m]) / spread[m]
        candidates += [(standardised[i] - bound, m, sets[i]) for i in np.flatnonzero(standardised > bound)]
    candidates.sort(key=lambda c: (-c[0], -c[1]))
    taken = [np.asarray(c, dtype=bool) for c in (covered or [])]
    seeds: list[np.ndarray] = []
    for _, _, members in candidates:
        candidate = np.zeros(n, dtype=bool)
        candidate[members] = True
        inside = any(
            (candidate & ~c).sum() < 2 or 2 * (candidate & c).sum() >= candidate.sum() for c in taken
        )
        if inside or any((candidate & s).sum() >= 2 for s in seeds):
            continue
        seeds.append(candidate)
    return seeds

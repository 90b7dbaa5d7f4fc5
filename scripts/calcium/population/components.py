"""The correlation structure of a session's activity: binned and windowed activity, chance
levels of its eigenvalues (Marchenko–Pastur, circular-shift surrogates), its leading
components and the ICA assembly patterns of Lopes-dos-Santos, Ribeiro & Tort (2013) (see
`calcium.population.assemblies`, which refines them into ensembles).

Everything here takes the sparse raster of `calcium.population.coactivity.ActiveBins`; the dense
(neurons × bins) matrices it builds are float32 or bool (10,000 neurons × 7,200 bins: 290 MB).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from calcium.population.coactivity import ActiveBins, contributions

# --- the ICA assemblies of Lopes-dos-Santos et al. (2013) --------------------------------------------


def binned_activity(raster: ActiveBins) -> tuple[np.ndarray, np.ndarray]:
    """Dense binary activity (neurons, bins holding frames) float32, and those bins' indices."""
    holds = raster.held_bins
    kept = np.flatnonzero(holds)
    column = np.full(raster.n_bins, -1, dtype=np.int64)
    column[kept] = np.arange(kept.size)
    activity = np.zeros((raster.n_neurons, kept.size), dtype=np.float32)
    inside = column[raster.bins] >= 0
    activity[raster.neurons[inside], column[raster.bins[inside]]] = 1.0
    return activity, kept


def zscore_rows(activity: np.ndarray) -> np.ndarray:
    """Each row minus its mean, over its SD; rows without variance are all 0."""
    a = np.asarray(activity, dtype=np.float64)
    sd = a.std(axis=1, keepdims=True)
    return np.divide(a - a.mean(axis=1, keepdims=True), sd, out=np.zeros_like(a), where=sd > 0)


def marchenko_pastur_bound(n_neurons: int, n_bins: int) -> float:
    """Upper edge (1 + sqrt(n_neurons / n_bins))^2 of the eigenvalues of the correlation of
    independent z-scored rows (Marchenko & Pastur 1967)."""
    return (1.0 + np.sqrt(n_neurons / max(n_bins, 1))) ** 2


def fastica(data: np.ndarray, n_iter: int = 500, tol: float = 1e-6, seed: int = 0) -> np.ndarray:
    """Unmixing matrix (k, k) of whitened data (k, samples): symmetric FastICA, logcosh contrast
    (Hyvärinen 1999), rows orthonormal; a seeded random orthogonal start."""
    k, n = data.shape
    rng = np.random.default_rng(seed)
    w = _symmetric_decorrelation(rng.normal(size=(k, k)))
    for _ in range(n_iter):
        projected = np.tanh(w @ data)
        updated = (projected @ data.T) / n - (1.0 - projected**2).mean(axis=1)[:, None] * w
        updated = _symmetric_decorrelation(updated)
        converged = np.max(np.abs(np.abs(np.einsum("ij,ij->i", updated, w)) - 1.0)) < tol
        w = updated
        if converged:
            break
    return w


def _symmetric_decorrelation(w: np.ndarray) -> np.ndarray:
    """(W Wᵀ)^(-1/2) W."""
    values, vectors = np.linalg.eigh(w @ w.T)
    return (vectors / np.sqrt(np.maximum(values, 1e-12))) @ vectors.T @ w


class Patterns(NamedTuple):
    """Assembly patterns: weights (assemblies, neurons), unit length, largest |weight| positive;
    eigenvalues of the correlation matrix (descending) and the Marchenko–Pastur bound."""

    weights: np.ndarray
    eigenvalues: np.ndarray
    bound: float


def leading_eigenpairs(z: np.ndarray, bound: float) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (descending) and eigenvectors of z zᵀ / bins down to the first below `bound`,
    by Lanczos on z (2·neurons·bins per product instead of neurons³); all of them (dense) for up
    to 1000 rows or when more than a tenth lie above it."""
    n, n_bins = z.shape
    if n > 1000:
        from scipy.sparse.linalg import LinearOperator, eigsh

        def product(v):
            return z @ (z.T @ np.asarray(v, dtype=z.dtype).ravel()) / n_bins

        operator = LinearOperator((n, n), matvec=product, dtype=z.dtype)
        k = 8
        while k < n // 10:
            values, vectors = eigsh(operator, k=k, which="LA", tol=1e-6, v0=np.ones(n, dtype=z.dtype))
            order = np.argsort(values)[::-1]
            values, vectors = values[order], vectors[:, order]
            if values[-1] <= bound:
                return values, vectors
            k *= 2
    values, vectors = np.linalg.eigh(z @ z.T / n_bins)
    return values[::-1], vectors[:, ::-1]


def correlation_eigenpairs(zscored: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (descending) and eigenvectors of the correlation matrix of the rows of
    `zscored` that are not all 0 (what `ica_patterns` decomposes), (k,) and (k, k)."""
    z = zscored[zscored.any(axis=1)]
    values, vectors = np.linalg.eigh(z @ z.T / zscored.shape[1])
    return values[::-1], vectors[:, ::-1]


def ica_patterns(
    zscored: np.ndarray,
    seed: int = 0,
    bound: float | None = None,
    leading: bool = False,
    eigenpairs: tuple[np.ndarray, np.ndarray] | None = None,
) -> Patterns:
    """Lopes-dos-Santos et al. (2013): components above the Marchenko–Pastur bound, FastICA in
    their span. zscored: (neurons, bins) with each row z-scored (constant rows all 0).
    bound: another chance level of the eigenvalues (e.g. `surrogate_bounds`); None: the
    Marchenko–Pastur bound. leading: only the eigenvalues down to the first below the bound
    (`leading_eigenpairs`) instead of all of them. eigenpairs: `correlation_eigenpairs` of
    `zscored` when already computed (a second bound on one matrix costs no second eigh)."""
    n_neurons, n_bins = zscored.shape
    active = np.flatnonzero(zscored.any(axis=1))
    if bound is None:
        bound = marchenko_pastur_bound(active.size, n_bins)
    if active.size < 2 or n_bins < 2:
        return Patterns(np.zeros((0, n_neurons)), np.zeros(0), bound)
    z = zscored[active]
    if eigenpairs is not None:
        values, vectors = eigenpairs
    elif leading:
        values, vectors = leading_eigenpairs(z, bound)
    else:
        values, vectors = correlation_eigenpairs(zscored)
    k = int((values > bound).sum())
    if k == 0:
        return Patterns(np.zeros((0, n_neurons)), values, bound)
    basis = vectors[:, :k]
    whitened = (basis.T @ z) / np.sqrt(values[:k])[:, None]
    unmixing = fastica(whitened, seed=seed) / np.sqrt(values[:k])[None, :]
    patterns = unmixing @ basis.T  # (k, active neurons)
    patterns /= np.linalg.norm(patterns, axis=1, keepdims=True)
    largest = np.take_along_axis(patterns, np.abs(patterns).argmax(axis=1)[:, None], axis=1)
    patterns *= np.sign(largest)
    weights = np.zeros((k, n_neurons))
    weights[:, active] = patterns
    return Patterns(weights, values, bound)


def windowed_zscored(windows: np.ndarray, held: np.ndarray) -> np.ndarray:
    """Each neuron's activity within ± jitter_bins of each bin holding frames (`window_matrix`),
    z-scored per neuron, (neurons, bins holding frames) float32: the correlation of these rows
    counts members of an activation as coactive wherever in its window they fire (at 1 Hz a
    member one frame late is two 0.5 s bins away, and binned activity misses the coincidence)."""
    a = np.asarray(windows[np.asarray(held, dtype=bool)], dtype=np.float32).T
    mean = a.mean(axis=1, keepdims=True)
    sd = a.std(axis=1, keepdims=True)
    a -= mean
    np.divide(a, sd, out=a, where=sd > 0)
    a[(sd == 0).ravel()] = 0.0
    return a


def _top_correlation_eigenvalue(rows, n_bins: int) -> float:
    """Largest eigenvalue of the correlation matrix of binary rows ((n, bins) scipy sparse, 0/1),
    by Lanczos on the rows without forming the matrix or the z-scored rows: C v = D⁻¹ (R Rᵀ/T −
    m mᵀ) D⁻¹ v, with m and D the rows' means and SDs."""
    from scipy.sparse.linalg import LinearOperator, eigsh

    mean = np.asarray(rows.sum(axis=1), dtype=np.float64).ravel() / n_bins
    sd = np.sqrt(mean * (1.0 - mean))
    keep = sd > 0
    rows, mean, sd = rows[np.flatnonzero(keep)], mean[keep], sd[keep]
    n = mean.size
    if n < 2:
        return 1.0 if n else 0.0
    transposed = rows.T.tocsr()

    def product(v):
        u = np.asarray(v, dtype=np.float64).ravel() / sd
        return (rows @ (transposed @ u) / n_bins - mean * (mean @ u)) / sd

    if n <= 64:
        dense = np.column_stack([product(e) for e in np.eye(n)])
        return float(np.linalg.eigvalsh((dense + dense.T) / 2)[-1])
    operator = LinearOperator((n, n), matvec=product, dtype=np.float64)
    return float(eigsh(operator, k=1, which="LA", tol=1e-4, v0=np.ones(n))[0][0])


def surrogate_bounds(
    raster: ActiveBins, jitter_bins: int, n_surrogates: int = 20, seed: int = 0
) -> tuple[float, float]:
    """Chance levels of the largest eigenvalue of the correlation of the binned and of the
    windowed activity (`windowed_zscored`): the largest over `n_surrogates` circular-shift
    surrogates (`surrogate_top_eigenvalues`; about the 95th percentile)."""
    binned, windowed = surrogate_top_eigenvalues(raster, jitter_bins, n_surrogates, seed)
    return float(binned.max()), float(windowed.max())


def surrogate_top_eigenvalues(
    raster: ActiveBins, jitter_bins: int, n_surrogates: int = 20, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The largest eigenvalue of the correlation of the binned and of the windowed activity
    (`windowed_zscored`) in each of `n_surrogates` circular-shift surrogates (each neuron's
    binned, and windowed, activity over the bins holding frames shifted by its own offset: each
    row keeps its activity and autocorrelation), (n_surrogates,) each; inf when no bin holds an
    event. Sparse: O(active bins) per product, no dense matrix.

    Windowed rows are autocorrelated, so the Marchenko–Pastur edge does not apply to them; even
    at the rows' effective number of bins (Bartlett: bins / 2.1 for a 3-bin window) it lies
    below this level. For sparse binary rows the binned edge is exceeded by chance too (a
    triple of background neurons coinciding four times gave a component just above it whose
    refined set passed the test, on the grid's negative controls)."""
    from scipy.sparse import csr_matrix

    held = raster.held_bins
    index = np.flatnonzero(held)
    if index.size == 0 or raster.bins.size == 0:
        return np.full(n_surrogates, np.inf), np.full(n_surrogates, np.inf)
    position = np.full(raster.n_bins, -1, dtype=np.int64)
    position[index] = np.arange(index.size)
    inside = position[raster.bins] >= 0
    binned = (raster.neurons[inside], position[raster.bins[inside]])
    windowed = np.nonzero(window_matrix(raster, jitter_bins)[index].T)
    rng = np.random.default_rng([seed, 21])
    tops: tuple[list[float], list[float]] = ([], [])
    shape = (raster.n_neurons, index.size)
    for _ in range(n_surrogates):
        offsets = rng.integers(0, index.size, raster.n_neurons)
        for (neurons, places), out in zip((binned, windowed), tops, strict=True):
            shifted = (places + offsets[neurons]) % index.size
            rows = csr_matrix((np.ones(neurons.size), (neurons, shifted)), shape=shape)
            out.append(_top_correlation_eigenvalue(rows, index.size))
    return np.asarray(tops[0]), np.asarray(tops[1])


def pattern_members(weights: np.ndarray, n_sd: float = 2.0) -> np.ndarray:
    """Members of each pattern: weight above the pattern's mean + n_sd SD, (assemblies, neurons) bool."""
    w = np.asarray(weights)
    return w > (w.mean(axis=1, keepdims=True) + n_sd * w.std(axis=1, keepdims=True))


def activation_strength(zscored: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """R(t) = z(t)ᵀ (w wᵀ with a zero diagonal) z(t) per pattern, (assemblies, bins)."""
    w = np.asarray(weights, dtype=np.float64)
    z = np.asarray(zscored, dtype=np.float64)
    return (w @ z) ** 2 - (w**2) @ (z**2)


def window_matrix(raster: ActiveBins, jitter_bins: int) -> np.ndarray:
    """(bins, neurons) bool: neuron active within bin ± jitter_bins; all False in bins holding
    no frame (nothing can happen there; `window_activity` leaves them out too)."""
    windows = contributions(raster, np.arange(raster.n_bins), jitter_bins)
    if raster.frames_per_bin is not None:
        windows[np.asarray(raster.frames_per_bin) == 0] = False
    return windows


def stimulus_bins(
    onsets_s: np.ndarray,
    offsets_s: np.ndarray,
    n_bins: int,
    bin_s: float,
    margin_s: float = 1.0,
    bin_start_s: np.ndarray | None = None,
    bin_end_s: np.ndarray | None = None,
) -> np.ndarray:
    """(n_bins,) bool: bins overlapping a presentation [onset, offset + margin_s) (seconds from
    frame 0). Coactivity there can be the stimulus driving each neuron on its own.
    bin_start_s, bin_end_s: each bin's start and end (s from frame 0) when bins do not follow
    one grid (a session cut into trials, `calcium.population.trial_coactivity.TrialBins`); None: b·bin_s."""
    start = np.arange(n_bins) * bin_s if bin_start_s is None else np.asarray(bin_start_s, float)
    end = start + bin_s if bin_end_s is None else np.asarray(bin_end_s, float)
    out = np.zeros(n_bins, dtype=bool)
    for onset, offset in zip(np.asarray(onsets_s, float), np.asarray(offsets_s, float), strict=True):
        out |= (start < offset + margin_s) & (end > onset)
    return out


def without_bins(raster: ActiveBins, excluded: np.ndarray) -> ActiveBins:
    """The raster with the excluded bins emptied and marked as holding no frame, so that every
    statistic here (correlations, chance levels, activations) ignores them."""
    excluded = np.asarray(excluded, dtype=bool)
    keep = ~excluded[raster.bins]
    frames = np.ones(raster.n_bins, np.int64) if raster.frames_per_bin is None else raster.frames_per_bin
    return raster._replace(
        neurons=raster.neurons[keep],
        bins=raster.bins[keep],
        frames_per_bin=np.where(excluded, 0, frames),
        sizes=None if raster.sizes is None else raster.sizes[keep],
    )

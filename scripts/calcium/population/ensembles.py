"""Ensembles: groups of neurons that recur together across ensemble events.

Ensemble events (significantly coactive bins) are compared by the Jaccard
similarity of their contributing neurons and clustered hierarchically on the
distance 1 − Jaccard. The tree is cut (see `cluster_ensemble_events`):

- "similarity_null" (default): at the distance 1 − J*, where J* is a high
  percentile (95th) of the Jaccard similarity between surrogate events (each
  keeps its number of neurons, drawn in proportion to how often each neuron
  takes part). Each resulting cluster is then tested against the clusters that
  the same procedure finds in surrogate data: it is kept only if fewer than 5%
  of surrogate data sets hold a cluster at least as large and as coherent.
- "parallel_analysis": into k clusters, k the number of principal components of
  the contribution matrix above the same-rank eigenvalues of such surrogates
  (Horn 1965). Conservative when there are few ensemble events.
- "variance": into k clusters, k the fewest principal components explaining a
  set fraction of the variance.
- "fixed": at a given distance (the seed analysis: 0.7, i.e. Jaccard 0.3, scipy's
  `fcluster(..., criterion="distance")`, clusters whose cophenetic distance is <= it).

Clusters with fewer than `min_events` (default 3) events do not recur and are
not ensembles (label -1).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

LINKAGE_METHODS = ("average", "complete", "single", "weighted")
CUTOFF_METHODS = ("similarity_null", "parallel_analysis", "variance", "fixed")


def jaccard_similarity(contributions: np.ndarray) -> np.ndarray:
    """Pairwise Jaccard similarity |A∩B| / |A∪B| between rows of a binary matrix.

    contributions: (events, neurons) bool. Two empty rows have similarity 0.
    Returns (events, events) float64, 1 on the diagonal for non-empty rows.
    """
    m = np.asarray(contributions, dtype=np.float64)
    inter = m @ m.T
    sizes = m.sum(axis=1)
    union = sizes[:, None] + sizes[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _eigenvalues(matrix: np.ndarray) -> np.ndarray:
    """Eigenvalues of the covariance of the contributions (principal component variances).

    Note: k disjoint groups of neurons that together cover every event span only
    k - 1 components once centred, so the PCA cut-offs can find one ensemble
    too few when every ensemble event belongs to an ensemble.
    """
    centred = matrix - matrix.mean(axis=0)
    singular = np.linalg.svd(centred, compute_uv=False)
    return singular**2 / max(matrix.shape[0] - 1, 1)


def significant_components(
    contributions: np.ndarray,
    method: str = "parallel_analysis",
    variance_explained: float = 0.5,
    n_null: int = 200,
    percentile: float = 95.0,
    seed: int = 0,
) -> int:
    """Number of ensembles k suggested by the principal components of `contributions`.

    method:
        "parallel_analysis": components whose eigenvalue exceeds the `percentile`
            of the same-rank eigenvalue over `n_null` surrogates in which each
            neuron's column is permuted across events (each neuron keeps how
            often it takes part; which neurons co-occur becomes chance).
            Counted from the first component until one fails.
        "variance": the fewest components explaining `variance_explained` of the
            total variance.
    Returns k >= 1 (k = 1 when there are fewer than 2 events).
    """
    m = np.asarray(contributions, dtype=np.float64)
    if m.shape[0] < 2 or not m.any():
        return 1
    real = _eigenvalues(m)
    if method == "variance":
        total = real.sum()
        if total <= 0:
            return 1
        k = int(np.searchsorted(np.cumsum(real) / total, variance_explained - 1e-12) + 1)
        return max(1, min(k, real.size))
    if method != "parallel_analysis":
        raise ValueError(f"method must be one of {CUTOFF_METHODS}")
    rng = np.random.default_rng(seed)
    null = np.empty((n_null, real.size))
    for i in range(n_null):
        shuffled = rng.permuted(m, axis=0)
        null[i] = _eigenvalues(shuffled)[: real.size]
    above = real > np.percentile(null, percentile, axis=0)
    k = int(np.argmin(above)) if not above.all() else int(above.size)
    return max(1, min(k, m.shape[0]))


def surrogate_events(contributions: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Surrogate ensemble events: each keeps its number of neurons, drawn at random
    with probabilities proportional to how often each neuron takes part overall.

    Which neurons take part together becomes chance; event sizes are kept exactly
    and each neuron's participation on average.
    """
    m = np.asarray(contributions, dtype=bool)
    sizes = m.sum(axis=1)
    weights = m.sum(axis=0).astype(float)
    if weights.sum() == 0:
        return m.copy()
    # Gumbel top-k: the k largest of log(w) + Gumbel noise are a weighted draw without replacement.
    with np.errstate(divide="ignore"):
        keys = np.log(weights)[None, :] + rng.gumbel(size=m.shape)
    # Only which neurons are among each row's `size` largest keys matters, not their order:
    # one partial sort at every distinct size puts each row's top `size` first (a full
    # argsort of a 10,000-neuron row costs ~10x more).
    kth = np.unique(sizes[sizes > 0]) - 1
    ranks = np.argpartition(-keys, kth, axis=1) if kth.size else np.zeros(m.shape, dtype=np.intp)
    out = np.zeros_like(m)
    rows = np.repeat(np.arange(m.shape[0]), sizes)
    columns = ranks[np.arange(m.shape[1])[None, :] < sizes[:, None]]
    out[rows, columns] = True
    return out


def null_similarity(
    contributions: np.ndarray, percentile: float = 95.0, n_null: int = 100, seed: int = 0
) -> float:
    """`percentile` of the Jaccard similarity between pairs of surrogate events (`surrogate_events`)."""
    m = np.asarray(contributions, dtype=bool)
    n_events = m.shape[0]
    if n_events < 2:
        return 1.0
    rng = np.random.default_rng(seed)
    upper = np.triu_indices(n_events, 1)
    pooled = np.concatenate([jaccard_similarity(surrogate_events(m, rng))[upper] for _ in range(n_null)])
    return float(np.percentile(pooled, percentile))


def _cut_tree(
    similarity: np.ndarray, linkage_method: str, cut_distance: float
) -> tuple[np.ndarray, np.ndarray]:
    # scipy's clustering is imported where used: jobs that import this module for its
    # other functions (coactivity, figures) skip a ~0.4 s import.
    from scipy.cluster.hierarchy import fcluster, leaves_list, linkage
    from scipy.spatial.distance import squareform

    distance = 1.0 - similarity
    np.fill_diagonal(distance, 0.0)
    tree = linkage(squareform(distance, checks=False), method=linkage_method)
    # Strictly below the cut: Jaccard takes few values and ties at the cut are chance-level.
    return fcluster(tree, t=cut_distance - 1e-9, criterion="distance") - 1, leaves_list(tree)


def _cluster_stats(
    similarity: np.ndarray, labels: np.ndarray, min_events: int
) -> list[tuple[int, float, int]]:
    """(size, mean within-cluster Jaccard, label) of every cluster with >= min_events events."""
    stats = []
    for label in range(labels.max() + 1 if labels.size else 0):
        members = np.flatnonzero(labels == label)
        n = members.size
        if n >= max(min_events, 2):
            block = similarity[np.ix_(members, members)]
            stats.append((n, float((block.sum() - np.trace(block)) / (n * (n - 1))), label))
    return stats


def _drop_chance_clusters(
    m: np.ndarray,
    similarity: np.ndarray,
    labels: np.ndarray,
    linkage_method: str,
    cut: float,
    null_percentile: float,
    n_null: int,
    min_events: int,
    seed: int,
) -> np.ndarray:
    """Relabel as -1 the clusters that surrogates match.

    A real cluster of n events with mean within-cluster Jaccard j is kept if fewer
    than (100 - null_percentile)% of surrogate data sets (clustered the same way)
    hold a cluster with at least n events and mean Jaccard at least j: a test of
    the largest, most coherent chance cluster, so it accounts for every cluster
    the tree could have produced.
    """
    real = _cluster_stats(similarity, labels, min_events)
    if not real:
        return labels
    rng = np.random.default_rng([seed, 1])
    surrogate_stats = []
    for _ in range(n_null):
        surrogate = surrogate_events(m, rng)
        s_similarity = jaccard_similarity(surrogate)
        s_labels, _ = _cut_tree(s_similarity, linkage_method, cut)
        surrogate_stats.append(_cluster_stats(s_similarity, s_labels, 2))
    alpha = 1.0 - null_percentile / 100.0
    out = labels.copy()
    for n, j, label in real:
        matched = np.mean([any(sn >= n and sj >= j for sn, sj, _ in stats) for stats in surrogate_stats])
        if matched >= alpha:
            out[labels == label] = -1
    return out


class Ensembles(NamedTuple):
    """Clustering of ensemble events.

    labels: (events,) ensemble 0..n_ensembles-1 of each event (0 has the most
        events), or -1 for events in clusters with fewer than min_events events.
    order: (events,) leaf order of the dendrogram (for heat maps).
    similarity: (events, events) Jaccard similarity.
    n_ensembles: number of ensembles.
    cut_distance: the 1 − Jaccard distance at which the tree was cut (NaN when
        cut into a number of clusters).
    """

    labels: np.ndarray
    order: np.ndarray
    similarity: np.ndarray
    n_ensembles: int
    cut_distance: float


def cluster_ensemble_events(
    contributions: np.ndarray,
    linkage_method: str = "average",
    cutoff: str = "similarity_null",
    null_percentile: float = 95.0,
    variance_explained: float = 0.5,
    n_null: int = 100,
    min_events: int = 3,
    seed: int = 0,
    cut_distance: float = 0.7,
) -> Ensembles:
    """Hierarchically cluster ensemble events (distance 1 − Jaccard) into ensembles.

    contributions: (events, neurons) bool, which neurons take part in each event.
    linkage_method: scipy linkage ("average", "complete", "single", "weighted").
    cutoff: "similarity_null", "parallel_analysis", "variance" or "fixed" (module doc).
    cut_distance: the 1 − Jaccard distance of cutoff "fixed".
    null_percentile: percentile of the surrogate statistic used as the cut-off.
    variance_explained: fraction of variance (cutoff "variance").
    n_null: number of surrogates; seed: their numpy Generator seed.
    min_events: smallest number of events that makes a cluster an ensemble.
    """
    m = np.asarray(contributions, dtype=bool)
    n_events = m.shape[0]
    similarity = jaccard_similarity(m)
    if linkage_method not in LINKAGE_METHODS:
        raise ValueError(f"linkage must be one of {LINKAGE_METHODS}")
    if cutoff not in CUTOFF_METHODS:
        raise ValueError(f"cutoff must be one of {CUTOFF_METHODS}")
    if n_events < 2:
        raw = np.zeros(n_events, dtype=np.int64)
        order = np.arange(n_events)
        cut = float("nan")
    else:
        from scipy.cluster.hierarchy import fcluster, leaves_list, linkage
        from scipy.spatial.distance import squareform

        distance = 1.0 - similarity
        np.fill_diagonal(distance, 0.0)
        tree = linkage(squareform(distance, checks=False), method=linkage_method)
        order = leaves_list(tree)
        if cutoff == "similarity_null":
            cut = 1.0 - null_similarity(m, null_percentile, n_null, seed)
            raw, _ = _cut_tree(similarity, linkage_method, cut)
            raw = _drop_chance_clusters(
                m, similarity, raw, linkage_method, cut, null_percentile, n_null, min_events, seed
            )
        elif cutoff == "fixed":  # the seed's own steps, to the last floating-point tie
            from scipy.spatial.distance import pdist

            cut = float(cut_distance)
            tree = linkage(pdist(m, "jaccard"), method=linkage_method)
            order = leaves_list(tree)
            raw = fcluster(tree, t=cut, criterion="distance") - 1
        else:
            cut = float("nan")
            k = significant_components(m, cutoff, variance_explained, n_null, null_percentile, seed)
            raw = fcluster(tree, t=k, criterion="maxclust") - 1
    sizes = np.bincount(raw[raw >= 0], minlength=1) if n_events else np.zeros(0, np.int64)
    kept = [c for c in range(sizes.size) if sizes[c] >= min_events]
    # Number ensembles by size (most events first), ties by first occurrence.
    kept.sort(key=lambda c: (-sizes[c], int(np.flatnonzero(raw == c)[0])))
    relabel = np.full(sizes.size, -1, dtype=np.int64)
    relabel[kept] = np.arange(len(kept))
    labels = np.where(raw >= 0, relabel[np.maximum(raw, 0)], -1) if n_events else np.zeros(0, np.int64)
    return Ensembles(labels, np.asarray(order, dtype=np.int64), similarity, len(kept), cut)

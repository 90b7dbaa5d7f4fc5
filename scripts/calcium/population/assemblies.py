"""Cell assemblies from the correlation structure of binned activity, and their activations.

Two detectors share the pieces here (`calcium.population.steps.ensemble_analysis` runs them):

- **ICA assemblies** (Lopes-dos-Santos, Ribeiro & Tort 2013, J Neurosci Methods 220:149):
  each neuron's binned activity is z-scored; the number of assemblies is the number of
  eigenvalues of the neurons' correlation matrix above the Marchenko–Pastur upper bound
  (1 + sqrt(neurons / bins))^2; FastICA in the space of those principal components gives
  one weight vector ("pattern", unit length, largest weight positive) per assembly; its
  members are the neurons whose weight exceeds the pattern's mean + 2 SD; its activation
  strength in bin t is R(t) = z(t)ᵀ (w wᵀ − diag(w²)) z(t).
- **Refined assemblies** (the workflow's default): the ICA patterns only seed the member
  sets. Each set is then refined against the circular-shift null: an activation is a bin
  whose members' coactivity (members active within ± jitter_bins) is improbable when each
  member fires independently at its own rate (Poisson-binomial tail below
  `activation_alpha`); a member is a neuron that takes part in the activations more often
  than its own activity away from them predicts (binomial test, Holm-corrected, counting
  only activations that stay activations without it); the seed's neurons define the
  activations (its *core*, without the neurons of other candidates' seeds), core neurons
  failing the test leave it, until it settles. Sets that converge onto the same assembly
  are kept once; overlapping assemblies share neurons and stay separate.

Every method's ensembles (the Jaccard clustering of `calcium.population.ensembles` too) then get the
same activations (`member_activations`) and p-value (`ensemble_p_values`): the number of
bins in which the members are coactive, against `n_shuffles` surrogates in which every
member's event frames are circularly shifted by its own offset (each keeps its events and
rate, coincidences become chance), Bonferroni-corrected over the candidates examined.

Everything here takes the sparse raster of `calcium.population.coactivity.ActiveBins`; the dense
(neurons × bins) matrix it builds is float32 (10,000 neurons × 7,200 bins: 290 MB).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from calcium.population.coactivity import (
    ActiveBins,
    circular_shift_null,
    contributions,
    group_ensemble_events,
    statistic_scale,
    window_activity,
)
from calcium.population.ensembles import _holm
from calcium.population.trial_coactivity import trial_shift_null
from calcium.progress import Progress, track

METHODS = ("refined", "ica", "jaccard")


# --- the ICA assemblies of Lopes-dos-Santos et al. (2013) --------------------------------------------


def binned_activity(raster: ActiveBins) -> tuple[np.ndarray, np.ndarray]:
    """Dense binary activity (neurons, bins holding frames) float32, and those bins' indices."""
    holds = np.ones(raster.n_bins, bool) if raster.frames_per_bin is None else raster.frames_per_bin > 0
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


def ica_patterns(zscored: np.ndarray, seed: int = 0) -> Patterns:
    """Lopes-dos-Santos et al. (2013): components above the Marchenko–Pastur bound, FastICA in
    their span. zscored: (neurons, bins) with each row z-scored (constant rows all 0)."""
    n_neurons, n_bins = zscored.shape
    active = np.flatnonzero(zscored.any(axis=1))
    bound = marchenko_pastur_bound(active.size, n_bins)
    if active.size < 2 or n_bins < 2:
        return Patterns(np.zeros((0, n_neurons)), np.zeros(0), bound)
    z = zscored[active]
    values, vectors = np.linalg.eigh(z @ z.T / n_bins)
    values, vectors = values[::-1], vectors[:, ::-1]
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


def pattern_members(weights: np.ndarray, n_sd: float = 2.0) -> np.ndarray:
    """Members of each pattern: weight above the pattern's mean + n_sd SD, (assemblies, neurons) bool."""
    w = np.asarray(weights)
    return w > (w.mean(axis=1, keepdims=True) + n_sd * w.std(axis=1, keepdims=True))


def activation_strength(zscored: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """R(t) = z(t)ᵀ (w wᵀ with a zero diagonal) z(t) per pattern, (assemblies, bins)."""
    w = np.asarray(weights, dtype=np.float64)
    z = np.asarray(zscored, dtype=np.float64)
    return (w @ z) ** 2 - (w**2) @ (z**2)


# --- activations of a member set and its circular-shift test ----------------------------------------


def poisson_binomial_survival(p: np.ndarray) -> np.ndarray:
    """P(X >= k) for k = 0..len(p), X the number of successes of independent Bernoulli(p_i)."""
    pmf = np.zeros(len(p) + 1)
    pmf[0] = 1.0
    for i, q in enumerate(np.asarray(p, dtype=np.float64)):
        pmf[1 : i + 2] = pmf[1 : i + 2] * (1 - q) + pmf[: i + 1] * q
        pmf[0] *= 1 - q
    return np.cumsum(pmf[::-1])[::-1]


def coactivity_threshold(p: np.ndarray, alpha: float, min_active: int = 2) -> int:
    """Fewest coactive members k (>= min_active) with P(X >= k) <= alpha, X as in
    `poisson_binomial_survival`: under the circular-shift null each member's activity in a
    window is Bernoulli(its window activity), independently of the others. len(p) + 1 if none."""
    survival = poisson_binomial_survival(p)
    passing = np.flatnonzero(survival <= alpha)
    k = int(passing[0]) if passing.size else len(p) + 1
    return max(k, min_active)


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
        neurons=raster.neurons[keep], bins=raster.bins[keep], frames_per_bin=np.where(excluded, 0, frames)
    )


class Activations(NamedTuple):
    """Activations of one member set: peak, first and last bin of each (merged runs of bins
    whose windows overlap), the members active at each peak (count), and the threshold k."""

    peak: np.ndarray
    first: np.ndarray
    last: np.ndarray
    n_active: np.ndarray
    threshold: int


def member_activations(
    windows: np.ndarray, members: np.ndarray, chance: np.ndarray, alpha: float, jitter_bins: int
) -> Activations:
    """Bins where at least k members are active within ± jitter_bins, k from `coactivity_threshold`.

    windows: (bins, neurons) from `window_matrix`; members: (neurons,) bool; chance: (neurons,)
    each neuron's window activity (`calcium.population.coactivity.window_activity`). Bins whose windows
    overlap (at most 2·jitter_bins apart) form one activation, placed at its bin with the
    most members active (the earliest of ties).
    """
    index = np.flatnonzero(members)
    k = coactivity_threshold(chance[index], alpha)
    count = windows[:, index].sum(axis=1)
    peak, first, last = group_ensemble_events(count >= k, count, jitter_bins)
    return Activations(peak, first, last, count[peak], k)


def membership_test(
    windows: np.ndarray,
    members: np.ndarray,
    activations: Activations,
    chance: np.ndarray,
    alpha: float,
    chance_alpha: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Who takes part in the activations more often than chance: (member, participation, p_value).

    Neuron i takes part in an activation when it is active within its peak ± jitter_bins.
    Its count is tested against Binomial(activations, chance_i), one-sided, Holm-corrected
    over neurons (p < alpha). A current member counts only the activations that are
    activations without it (the others reach the threshold for the set without it).
    """
    from scipy.special import bdtrc

    n_neurons = windows.shape[1]
    present = windows[activations.peak]  # (activations, neurons)
    counted = np.ones(present.shape, dtype=bool)
    index = np.flatnonzero(members)
    others = present[:, index].sum(axis=1)
    for position, i in enumerate(index):
        rest = np.delete(index, position)
        k = coactivity_threshold(chance[rest], chance_alpha)
        counted[:, i] = (others - present[:, i]) >= k
    taken = (present & counted).sum(axis=0)
    trials = counted.sum(axis=0)
    participation = np.divide(taken, trials, out=np.zeros(n_neurons), where=trials > 0)
    p_value = np.where(taken > 0, bdtrc(np.maximum(taken - 1, 0), trials, np.clip(chance, 0, 1)), 1.0)
    member = (_holm(p_value) < alpha) & (taken > 0)
    return member, participation, p_value


class Assembly(NamedTuple):
    """One assembly: member (neurons,) bool, participation and p_value (neurons,), chance
    (neurons,) window activity away from its activations, weight (neurons,) pattern weight,
    its activations, and core (neurons,) bool: the members whose coactivity defines them."""

    member: np.ndarray
    participation: np.ndarray
    p_value: np.ndarray
    chance: np.ndarray
    weight: np.ndarray
    activations: Activations
    core: np.ndarray


def chance_outside(raster: ActiveBins, peaks: np.ndarray, jitter_bins: int) -> np.ndarray:
    """Each neuron's window activity away from the given activations (bins within
    ± 2·jitter_bins of their peaks left out), (neurons,)."""
    reach = np.arange(-2 * jitter_bins, 2 * jitter_bins + 1)
    near = (np.asarray(peaks, dtype=np.int64)[:, None] + reach[None, :]).ravel()
    exclude = np.zeros(raster.n_bins, dtype=bool)
    exclude[near[(near >= 0) & (near < raster.n_bins)]] = True
    return window_activity(raster, jitter_bins, exclude)


def describe_members(
    raster: ActiveBins,
    windows: np.ndarray,
    member: np.ndarray,
    weight: np.ndarray,
    settings: AssemblySettings,
) -> Assembly:
    """Activations of a fixed member set and every neuron's participation in them (no refinement)."""
    j = settings.jitter_bins
    chance = window_activity(raster, j)
    found = member_activations(windows, member, chance, settings.activation_alpha, j)
    chance = chance_outside(raster, found.peak, j)
    found = member_activations(windows, member, chance, settings.activation_alpha, j)
    _, participation, p_value = membership_test(
        windows, member, found, chance, settings.membership_alpha, settings.activation_alpha
    )
    return Assembly(member.copy(), participation, p_value, chance, weight, found, member.copy())


def refine_members(
    raster: ActiveBins,
    windows: np.ndarray,
    seed_members: np.ndarray,
    weight: np.ndarray,
    settings: AssemblySettings,
    max_passes: int = 12,
    others: np.ndarray | None = None,
) -> Assembly | None:
    """Refine a seed member set (module doc) until it settles; None when its core falls below
    two neurons or it has fewer than min_events activations.

    The seed (the ICA pattern's members) is the core that defines the activations: ICA gives
    two overlapping ensembles each a pattern weighted on the neurons that tell them apart, so
    activations of the core are the ensemble's own and not the other's. Members are every
    neuron passing the membership test on those activations (the shared neurons too); core
    neurons that fail it leave the core, and the activations are found again.
    others: (neurons,) bool, the seed members of the other candidates. When the seeds of two
    overlapping ensembles both hold the shared neurons, those (with a neuron or two active by
    chance) would make the other ensemble's activations activations of this one; the core is
    then the seed without them (if at least two neurons remain).
    """
    j = settings.jitter_bins
    overall = window_activity(raster, j)
    core = np.asarray(seed_members, dtype=bool).copy()
    if others is not None and (core & ~np.asarray(others, dtype=bool)).sum() >= 2:
        core &= ~np.asarray(others, dtype=bool)
    member = core
    for _ in range(max_passes):
        if core.sum() < 2:
            return None
        found = member_activations(windows, core, overall, settings.activation_alpha, j)
        chance = chance_outside(raster, found.peak, j)
        found = member_activations(windows, core, chance, settings.activation_alpha, j)
        if found.peak.size < settings.min_events:
            return None
        member, participation, p_value = membership_test(
            windows, core, found, chance, settings.membership_alpha, settings.activation_alpha
        )
        if np.array_equal(core & member, core) or (core & member).sum() < 2:
            break
        core &= member
    if member.sum() < 2:
        return None
    return Assembly(member, participation, p_value, chance, weight, found, core)


class AssemblySettings(NamedTuple):
    """activation_alpha: per-bin level of a member set's coactivity under the null;
    membership_alpha: family-wise level of the membership test; min_events: fewest
    activations; jitter_bins: as `coactivity.jitter_bins`; seed: FastICA's start."""

    activation_alpha: float = 0.01
    membership_alpha: float = 0.05
    min_events: int = 3
    jitter_bins: int = 1
    seed: int = 0


def jaccard_index(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0


def find_assemblies(
    raster: ActiveBins,
    settings: AssemblySettings,
    refine: bool = True,
    duplicate_jaccard: float = 0.5,
    zscored: np.ndarray | None = None,
    windows: np.ndarray | None = None,
) -> tuple[list[Assembly], int, Patterns]:
    """ICA assemblies (refine False) or refined assemblies (True) of a session's raster.

    Returns (assemblies, number of candidates examined, the ICA patterns). Each seed is refined
    on its own; a candidate whose seed shares neurons with the seeds of other candidates that
    survived is refined again with those neurons out of its core (`refine_members`' others;
    kept as it was if that fails). Refined sets that converge onto one assembly (member
    Jaccard >= duplicate_jaccard) are kept once: the one with the most activations.
    zscored (`zscore_rows` of `binned_activity`) and windows
    (`window_matrix`): computed when not given.
    """
    if zscored is None:
        zscored = zscore_rows(binned_activity(raster)[0])
    patterns = ica_patterns(zscored, settings.seed)
    if windows is None:
        windows = window_matrix(raster, settings.jitter_bins)
    seeds = pattern_members(patterns.weights)
    found: list[Assembly] = []
    if refine:
        with Progress(len(seeds), "ensemble candidates refined", "candidates") as progress:
            first = [
                refine_members(raster, windows, m, w, settings)
                for w, m in track(zip(patterns.weights, seeds, strict=True), progress)
            ]
        viable = [i for i, assembly in enumerate(first) if assembly is not None]
        for i in viable:
            # Seeds of the other candidates that stand on their own: their neurons leave this core.
            others = seeds[[v for v in viable if v != i]].any(axis=0)
            assembly = first[i]
            if (seeds[i] & others).any():
                apart = refine_members(
                    raster, windows, seeds[i], patterns.weights[i], settings, others=others
                )
                assembly = apart if apart is not None else assembly
            found.append(assembly)
        found.sort(key=lambda a: -a.activations.peak.size)
        kept: list[Assembly] = []
        for assembly in found:
            if all(jaccard_index(assembly.member, other.member) < duplicate_jaccard for other in kept):
                kept.append(assembly)
        found = kept
    else:
        for weight, seed_members in zip(patterns.weights, seeds, strict=True):
            if seed_members.any():
                found.append(describe_members(raster, windows, seed_members, weight, settings))
    return found, len(patterns.weights), patterns


def ensemble_p_values(
    neurons: np.ndarray,
    frames: np.ndarray,
    n_frames: int,
    frame_rate_hz: float,
    bin_s: float,
    jitter_bins: int,
    members: list[np.ndarray],
    thresholds: list[int],
    observed: list[int],
    n_shuffles: int = 1000,
    seed: int = 0,
    n_candidates: int = 1,
    counted: np.ndarray | None = None,
    layout=None,
) -> np.ndarray:
    """P-value of each ensemble against the circular-shift null, (ensembles,).

    Statistic: the number of bins in which at least `thresholds[e]` of `members[e]` (the neurons
    whose coactivity defines its activations) are active
    within ± jitter_bins (`observed[e]` in the data). Null: `n_shuffles` surrogates in which
    every member's event frames are circularly shifted by its own offset
    (`calcium.population.coactivity.circular_shift_null`: each keeps its events and rate). p = (1 + surrogates
    at least as large) / (1 + n_shuffles), times n_candidates (Bonferroni over the candidate
    ensembles examined), capped at 1.
    neurons, frames: one entry per event of the session.
    counted: (n_bins,) bool, the bins that count in the null (e.g. outside stimulus
        presentations and holding frames; `observed` must count the same); None: all.
    layout: a session cut into trials (`calcium.population.trial_coactivity.TrialBins`): members shifted
        within each trial (`calcium.population.trial_coactivity.trial_shift_null`); None: one recording.
    """
    out = np.ones(len(members))
    neurons = np.asarray(neurons, dtype=np.int64)
    frames = np.asarray(frames, dtype=np.int64)
    with Progress(len(members), "ensembles tested against the circular-shift null", "ensembles") as progress:
        for e, (member_ids, k, count) in enumerate(
            track(zip(members, thresholds, observed, strict=True), progress)
        ):
            ids = np.asarray(member_ids, dtype=np.int64)
            position = np.full(max(int(neurons.max(initial=-1)), int(ids.max(initial=-1))) + 1, -1)
            position[ids] = np.arange(ids.size)
            chosen = position[neurons] >= 0 if neurons.size else np.zeros(0, bool)
            null = (circular_shift_null if layout is None else trial_shift_null)(
                position[neurons[chosen]],
                frames[chosen],
                ids.size,
                *((n_frames,) if layout is None else (layout,)),
                frame_rate_hz,
                bin_s,
                n_shuffles,
                seed=seed + e,
                jitter_bins=jitter_bins,
            )
            window = null // statistic_scale(ids.size, jitter_bins)
            if counted is not None:
                window = window[:, np.asarray(counted, dtype=bool)]
            as_large = ((window >= k).sum(axis=1) >= count).sum()
            out[e] = min(1.0, (1 + as_large) / (1 + n_shuffles) * max(n_candidates, 1))
    return out

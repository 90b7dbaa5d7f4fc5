"""Cell assemblies from the correlation structure of binned activity, and their activations.

Two detectors share the pieces here (`calcium.population.ensemble_step.ensemble_analysis` runs them):

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
  are kept once; overlapping ones share neurons and stay separate (`event_sizes` in settling).

Every method's ensembles (the Jaccard clustering of `calcium.population.ensembles` too) then get the
same activations (`member_activations`) and p-value
(`calcium.population.ensemble_significance.ensemble_p_values`): the number of
bins in which the members are coactive, against `n_shuffles` surrogates in which every
member's event frames are circularly shifted by its own offset (each keeps its events and
rate, coincidences become chance), Bonferroni-corrected over the candidates examined.

Everything here takes the sparse raster of `calcium.population.coactivity.ActiveBins`; the dense
(neurons × bins) matrix it builds is float32 (10,000 neurons × 7,200 bins: 290 MB).
"""

from __future__ import annotations

import itertools

import numpy as np

from calcium.population.activations import jaccard_index
from calcium.population.coactivity import ActiveBins, window_activity
from calcium.population.coincidence_seeds import triple_seeds
from calcium.population.components import (
    Patterns,
    binned_activity,
    correlation_eigenpairs,
    ica_patterns,
    leading_eigenpairs,
    marchenko_pastur_bound,
    pattern_members,
    surrogate_top_eigenvalues,
    window_matrix,
    windowed_zscored,
    zscore_rows,
)
from calcium.population.dense_seeds import dense_set_seeds
from calcium.population.member_sets import (  # noqa: F401 (Assembly, refine_members: public here too)
    Assembly,
    AssemblySettings,
    add_if_new,
    describe_members,
    refine_members,
    settle_members,
)
from calcium.population.overlap_split import split_overlaps
from calcium.population.state import session_state
from calcium.progress import Progress, track

METHODS = ("refined", "ica", "jaccard")


# --- reconciling the candidates -----------------------------------------------------------------------


def _coincidence(assembly: Assembly, candidates: list[Assembly], covered: float = 0.8) -> bool:
    """Whether the assembly's members are those of two smaller, different candidates lying within
    it (each with `covered` of its members in it, their member Jaccard below 0.5, together
    `covered` of the assembly's): two overlapping assemblies whose activations pass as one (the
    shared neurons and a few more reach the threshold of the union), not an assembly of its own.
    Near-copies of the assembly itself (from another seed) are not two different ones."""
    member = assembly.member
    inside = [
        c.member
        for c in candidates
        if c.member.sum() < member.sum() and (c.member & member).sum() >= covered * c.member.sum()
    ]
    return any(
        jaccard_index(a, b) < 0.5 and ((a | b) & member).sum() >= covered * member.sum()
        for a, b in itertools.combinations(inside, 2)
    )


def _shared_activations(peaks: np.ndarray, others: np.ndarray, reach: int) -> float:
    """Fraction of the activations (peak bins) lying within `reach` bins of another set's."""
    if peaks.size == 0 or others.size == 0:
        return 0.0
    sorted_others = np.sort(others)
    right = np.clip(np.searchsorted(sorted_others, peaks), 0, sorted_others.size - 1)
    left = np.clip(right - 1, 0, sorted_others.size - 1)
    nearest = np.minimum(np.abs(sorted_others[right] - peaks), np.abs(sorted_others[left] - peaks))
    return float(np.mean(nearest <= reach))


def _settle_all(found: list[Assembly], raster, windows, settings, same) -> list[Assembly]:
    """`settle_members` for each candidate, the others' members out of its core (and known). A
    candidate that would become another one (`same`), or that would lose more than a fifth of its
    members (a small ensemble's core without the neuron it shares with another was left too weak
    to hold its members), stays as it was."""
    settled = []
    for x, assembly in enumerate(found):
        elsewhere = found[:x] + found[x + 1 :]
        others = np.any([a.member for a in elsewhere] + [np.zeros_like(assembly.member)], axis=0)
        grown = settle_members(raster, windows, assembly, settings, others, elsewhere=elsewhere)
        if any(same(grown, other) for y, other in enumerate(found) if y != x):
            grown = assembly
        if (grown.member & assembly.member).sum() < 0.8 * assembly.member.sum():
            grown = assembly
        settled.append(grown)
    return settled


def find_assemblies(
    raster: ActiveBins,
    settings: AssemblySettings,
    refine: bool = True,
    duplicate_jaccard: float = 0.5,
    zscored: np.ndarray | None = None,
    windows: np.ndarray | None = None,
    windowed: bool = True,
) -> tuple[list[Assembly], int, Patterns, Patterns | None]:
    """ICA assemblies (refine False) or refined assemblies (True) of a session's raster.

    Returns (assemblies, number of candidates examined, the ICA patterns of the binned
    activity, those of the windowed activity or None). Refined: the seeds are the members of
    the ICA patterns of the binned activity and, with `windowed`, of each neuron's activity
    within ± jitter_bins of each bin (`windowed_zscored`); components count above the largest
    eigenvalue of circular-shift surrogates (`surrogate_bounds`; for the binned activity the
    Marchenko–Pastur bound if higher): members of a jittered
    activation fire in neighbouring bins, and at 1 Hz their binned correlation stays at the
    edge of the Marchenko–Pastur bound while the windowed one stands out. Each seed is
    refined on its own (`refine_members`). A candidate that ran into another (their refined
    sets are one assembly although their seeds, Jaccard below duplicate_jaccard, are not) and
    whose seed shares neurons with the other's refined core is refined again with the cores
    of the other candidates out of its own (`refine_members`' others; kept as it was if that
    fails). Candidates made of the members of two smaller different ones are their
    coincidence (`_coincidence`): dropped, and not others. Then a candidate that is one
    assembly with each of two that are not one assembly together merges them and is dropped.
    Candidates are one assembly when their members' Jaccard is >= duplicate_jaccard or one is
    a fragment of the other (half or more of its members and of its activations are the
    other's); of those, one from a binned seed is kept if any, else the one with the most
    activations. Late candidates come after these, each settled with the found assemblies'
    members out of its core and kept only where it is none of them (`add_if_new`): first from
    the binned components above the Marchenko–Pastur bound but not the surrogates' (ICA's own
    count: ensembles at the edge of chance, e.g. 8 members at participation 0.5), then from
    repeated triple coincidences (`triple_seeds`), then from its weak seeds (pairs whose triple does
    not hold together; a core of four and five members), then from dense sets of the pair-coincidence
    graph (`dense_set_seeds`; the same terms), then from the windowed components between
    the median and the largest of the surrogates' top eigenvalues (`surrogate_top_eigenvalues`),
    then a dense-set seed refined to a core of four and four members (its search is calibrated as a
    whole). Candidates from eigenvector seeds need a core of four and five members. Last, a set holding
    two overlapping small assemblies is split into them (`split_overlaps`).
    zscored (`zscore_rows` of `binned_activity`) and windows (`window_matrix`): computed when
    not given.
    """
    if zscored is None:
        zscored = zscore_rows(binned_activity(raster)[0])
    if windows is None:
        windows = window_matrix(raster, settings.jitter_bins)
    window_patterns = None
    window_edge = np.zeros((0, raster.n_neurons))
    if not refine:
        patterns = ica_patterns(zscored, settings.seed)
        weights = patterns.weights
    else:
        binned_tops, windowed_tops = surrogate_top_eigenvalues(
            raster, settings.jitter_bins, seed=settings.seed
        )
        binned_bound, windowed_bound = float(binned_tops.max()), float(windowed_tops.max())
        active = int(zscored.any(axis=1).sum())
        bound = max(marchenko_pastur_bound(active, zscored.shape[1]), binned_bound)
        eigenpairs = correlation_eigenpairs(zscored)
        patterns = ica_patterns(zscored, settings.seed, bound, eigenpairs=eigenpairs)
        weights = patterns.weights
        if windowed:
            frames = raster.frames_per_bin
            held = np.ones(raster.n_bins, bool) if frames is None else frames > 0
            z = windowed_zscored(windows, held)
            # The windowed components down to the surrogates' median top eigenvalue: those above
            # their largest seed now, those between seed late (`window_edge`, below).
            windowed_edge = float(np.median(windowed_tops))
            rows = z.any(axis=1)
            window_eigenpairs = leading_eigenpairs(z[rows], windowed_edge)
            window_patterns = ica_patterns(z, settings.seed, windowed_bound, eigenpairs=window_eigenpairs)
            if int((window_eigenpairs[0] > windowed_edge).sum()) > len(window_patterns.weights):
                edge = ica_patterns(z, settings.seed, windowed_edge, eigenpairs=window_eigenpairs)
                window_edge = edge.weights
            del z
            weights = np.concatenate([weights, window_patterns.weights])
    seeds = pattern_members(weights)
    n_candidates = len(weights)
    found: list[Assembly] = []
    if refine:
        with Progress(len(seeds), "ensemble candidates refined", "candidates") as progress:
            first = [
                refine_members(raster, windows, m, w, settings)
                for w, m in track(zip(weights, seeds, strict=True), progress)
            ]
        reach = 2 * settings.jitter_bins

        def part_of(a: Assembly, b: Assembly) -> bool:
            """a is a fragment of b: half its members are b's and half its activations b's."""
            inside = (a.member & b.member).sum() >= 0.5 * a.member.sum()
            return inside and _shared_activations(a.activations.peak, b.activations.peak, reach) >= 0.5

        def same(a: Assembly, b: Assembly) -> bool:
            """One assembly: most members shared, or one a fragment of the other."""
            return jaccard_index(a.member, b.member) >= duplicate_jaccard or part_of(a, b) or part_of(b, a)

        standing = [assembly for assembly in first if assembly is not None]
        # Coincidences of smaller candidates (a seed mixing two overlapping assemblies) are not
        # others: removing their neurons from a core would remove its own.
        viable = [
            i
            for i, assembly in enumerate(first)
            if assembly is not None and not _coincidence(assembly, standing)
        ]
        # What each seed holds of its refined set: a windowed seed also holds strangers (the
        # patterns' mean + 2 SD cut over thousands of neurons), which the refinement drops.
        n_binned = len(patterns.weights)
        binned_seed: list[bool] = []
        kept_seeds = [
            seeds[i] & first[i].member if first[i] is not None else seeds[i] for i in range(len(seeds))
        ]
        for i in viable:
            # Candidates from seeds of another assembly (seeds, within their refined sets, with
            # Jaccard below duplicate_jaccard: a binned and a windowed seed of one assembly are
            # not others): their cores may leave this one.
            apart_from = [
                v
                for v in viable
                if v != i and jaccard_index(kept_seeds[v], kept_seeds[i]) < duplicate_jaccard
            ]
            others = np.zeros_like(seeds[i])
            for v in apart_from:
                others |= first[v].core
            assembly = first[i]
            # Only when this candidate ran into another (their refined sets are one assembly
            # although their seeds are not): a small ensemble needs every member in its core.
            if (seeds[i] & others).any() and any(same(first[i], first[v]) for v in apart_from):
                apart = refine_members(raster, windows, seeds[i], weights[i], settings, others=others)
                assembly = apart if apart is not None else assembly
            found.append(assembly)
            binned_seed.append(i < n_binned)
        origin = {id(a): b for a, b in zip(found, binned_seed, strict=True)}
        found = [a for a in found if not _coincidence(a, found)]
        conflicts = [[same(a, b) and a is not b for b in found] for a in found]
        # A set that is one assembly with each of two that are not one assembly with each other
        # merges them (its core holds neurons of both, its activations are theirs): dropped.
        merges = [
            any(
                not conflicts[y][z]
                for y, z in itertools.combinations(np.flatnonzero(conflicts[x]).tolist(), 2)
            )
            for x in range(len(found))
        ]
        found = [a for a, merged in zip(found, merges, strict=True) if not merged]
        # Of one assembly's candidates, one from a binned seed first (windowed seeds add the
        # assemblies binned ones miss; over thousands of neurons their refined sets keep a few
        # strangers), then the one with the most activations.
        found.sort(key=lambda a: (not origin[id(a)], -a.activations.peak.size))
        kept: list[Assembly] = []
        for assembly in found:
            if not any(same(assembly, other) for other in kept):
                kept.append(assembly)
        found = kept
        # Every assembly refined again from all its members (`_settle_all`). A candidate whose
        # members lie within a larger one's is a piece of it (ICA splits a large ensemble over
        # several patterns, each piece's core keeping the others' members out): dropped, and
        # the rest settled again without it.
        for _ in range(len(found)):
            found = _settle_all(found, raster, windows, settings, same)
            pieces = [
                any(
                    other.member.sum() > a.member.sum()
                    and (a.member & other.member).sum() >= 0.8 * a.member.sum()
                    for other in found
                )
                for a in found
            ]
            if not any(pieces):
                break
            found = [a for a, piece in zip(found, pieces, strict=True) if not piece]
        # An eigenvector seed's candidate needs a core of four and five members; smaller sets are
        # left to the coincidence seeds, whose test counts every triple tried: the eigenvalue
        # bounds are the surrogates' ~95th percentile, and chance sets of background neurons
        # passed the final test, which tests a set as if fixed beforehand (negative controls: a
        # triple coinciding four times at 1 Hz, four neurons coinciding seven times at 5 Hz). A
        # core of four with five members is a small ensemble whose shared neuron left its core.
        found = [a for a in found if a.core.sum() >= 4 and a.member.sum() >= 5]
        # Components between the Marchenko–Pastur bound and the surrogates' (ICA's own count):
        # at the edge of chance, their seeds come after the assemblies found, and one is kept
        # only where it is not one of those (`same`) nor lies within them, with a core of four
        # and five members as above.
        mp = marchenko_pastur_bound(active, zscored.shape[1])
        if int((patterns.eigenvalues > mp).sum()) > len(patterns.weights):
            edge = ica_patterns(zscored, settings.seed, mp, eigenpairs=eigenpairs).weights
            n_candidates += len(edge)
            for w, seed_members in zip(edge, pattern_members(edge), strict=True):
                candidate = refine_members(raster, windows, seed_members, w, settings)
                add_if_new(found, candidate, raster, windows, settings, same, min_core=4, min_members=5)
        # Small assemblies below the eigenvalue bounds: seeds from repeated triple coincidences
        # among neurons of no assembly found (`triple_seeds`), refined and settled the same way.
        weak: list[np.ndarray] = []
        chance = window_activity(raster, settings.jitter_bins)
        extra = triple_seeds(
            raster,
            windows,
            chance,
            settings.jitter_bins,
            covered=[a.member for a in found],
            weak=weak,
            state=session_state(raster, settings.jitter_bins),
        )
        n_candidates += len(extra)
        for seed_members in extra:
            assembly = refine_members(
                raster, windows, seed_members, seed_members / np.sqrt(seed_members.sum()), settings
            )
            add_if_new(found, assembly, raster, windows, settings, same)
        # Weak seeds (pairs whose triple does not hold together from its other sides), after the
        # others: kept on the terms of the eigenvector seeds, a core of four and five members.
        n_candidates += len(weak)
        for seed_members in weak:
            assembly = refine_members(
                raster, windows, seed_members, seed_members / np.sqrt(seed_members.sum()), settings
            )
            add_if_new(found, assembly, raster, windows, settings, same, min_core=4, min_members=5)
        # Dense sets of the pair-coincidence graph beyond those of circular-shift surrogates of the
        # same search (`dense_set_seeds`): assemblies whose pairs are each weak (10 members at
        # participation 0.6 and 1 Hz); kept on the same terms.
        dense = dense_set_seeds(
            raster,
            windows,
            chance,
            covered=[a.member for a in found],
            seed=settings.seed,
            jitter_bins=settings.jitter_bins,
        )
        n_candidates += len(dense)
        dense_left = []  # refined and not kept: tried again last, on the four-member terms below
        for seed_members in dense:
            assembly = refine_members(
                raster, windows, seed_members, seed_members / np.sqrt(seed_members.sum()), settings
            )
            n_found = len(found)
            add_if_new(found, assembly, raster, windows, settings, same, min_core=4, min_members=5)
            if len(found) == n_found:
                dense_left.append(assembly)
        # Windowed components between the surrogates' median and largest top eigenvalue, after
        # every other seed: at the edge of chance like the binned ones above (10-member
        # ensembles at participation 0.6 and 1 Hz, window correlation ~0.1 among 200 neurons,
        # stand just below the largest, and their pairs are too weak for the triple seeds).
        # Kept on the same terms.
        n_candidates += len(window_edge)
        for w, seed_members in zip(window_edge, pattern_members(window_edge), strict=True):
            candidate = refine_members(raster, windows, seed_members, w, settings)
            add_if_new(found, candidate, raster, windows, settings, same, min_core=4, min_members=5)
        # Last, a dense-set seed refined to a core of four, four members or more (four: all in its
        # core, as a refined core lies within its members): its search is calibrated as a whole
        # against surrogates (of independent neurons, 1 session in 1000 yields a seed; this
        # calibrates the seed, not the four neurons its refinement keeps, nor seeds beside real
        # assemblies: the test of each ensemble judges those, and 606 sessions of a review's
        # sweep gained 4 planted ensembles (J 0.8) and no chance set). The five-member rule stands
        # in for that calibration at the other seeds (a 5-member ensemble at participation 0.6
        # and 5 Hz, seeded whole, whose fifth member fails the membership test). After every
        # other seed: earlier, the four-member piece of a 10-member ensemble at 1 Hz blocked the
        # windowed seed that finds it whole. Settling (`add_if_new`) never shrinks a four-member
        # set: losing one member is more than a fifth, so the set stays as refined (in that sweep
        # for 2 of the 4; in one the member settling dropped was shared with a found ensemble).
        # A candidate kept above is not tried again (it would be rejected: its core lies in its own
        # settled copy).
        for assembly in dense_left:
            add_if_new(found, assembly, raster, windows, settings, same, min_core=4, min_members=4)
        # Two overlapping small assemblies refined into one set: split where its members' presence
        # at its activations makes two (`split_overlaps`).
        found, n_split = split_overlaps(found, raster, windows, settings, same)
        n_candidates += n_split
    else:
        for weight, seed_members in zip(weights, seeds, strict=True):
            if seed_members.any():
                found.append(describe_members(raster, windows, seed_members, weight, settings))
    return found, n_candidates, patterns, window_patterns

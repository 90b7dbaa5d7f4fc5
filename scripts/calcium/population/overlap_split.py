"""Two overlapping small assemblies found as one set (the `refined` method's last step).

Two 5-member assemblies sharing a neuron can be refined into one set: the activations of one,
with the shared neuron and a chance member of the other, reach the union's threshold, so the
set holds one assembly and a piece of the other (on a planted grid at 30 Hz: one found with J
0.71, the rest of the other as a piece, J 0.33). Members of one assembly coincide with each other
at all its activations; members of two overlapping ones only through the neurons they share. So
the members of each found set of 6-40 neurons are clustered into two by their coincidences over
the recording (`member_clusters`); each cluster, grown by the neurons present at its own
coactivations beyond chance (`_grown`: a core of two or three cannot test its own members),
seeds a candidate refined and settled like every seed (`calcium.population.member_sets`). The
set is split when the two candidates are different assemblies (not `same`, cores of three or
more, neither one with a larger found set); a found set that is one with either part is dropped
(the piece). The parts of one assembly refine back into it (their activations are its), and it
stays as it was. Large assemblies sharing several neurons grow back into their union from either
side (the shared neurons alone reach the threshold at the other's activations); where a split so
fails, each side is defined by its own neurons without the other's (`_exclusive_parts`). Every
part tried is a candidate counted in the per-ensemble test.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from calcium.population.activations import coactivity_threshold, member_activations
from calcium.population.coactivity import ActiveBins, window_activity
from calcium.population.member_sets import Assembly, AssemblySettings, refine_members, settle_members


def member_clusters(windows: np.ndarray, members: np.ndarray, n_held: int) -> tuple[np.ndarray, float]:
    """Two clusters of members by how often they coincide over the recording: (members,) labels 0
    or 1, and the clusters' separation, the mean coincidence z-score between them over the smaller
    mean within one (of two or more members). Average linkage on the members' coincidence z-scores
    (both active within the window, against the product of their window activities), largest z
    nearest. Members of one assembly coincide at its activations (separation 0.4-0.95 on the
    planted grid's 5- and 10-member ensembles of seeds 1 and 3, the lowest with a cluster of one);
    members of two overlapping ones only through the neurons they share (the unions of two: -0.02
    to 0.54). windows: (bins, neurons) bool; members: their indices; n_held: bins holding frames."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    active = windows[:, members].astype(np.float32)
    counts = active.T @ active
    expected = np.outer(active.sum(axis=0), active.sum(axis=0)) / max(n_held, 1)
    z = (counts - expected) / np.sqrt(np.maximum(expected, 1e-9))
    distance = z.max() - z
    np.fill_diagonal(distance, 0.0)
    tree = linkage(squareform((distance + distance.T) / 2, checks=False), "average")
    labels = fcluster(tree, 2, "maxclust") - 1
    within = [
        z[np.ix_(side, side)][~np.eye(side.sum(), dtype=bool)].mean()
        for side in (labels == 0, labels == 1)
        if side.sum() >= 2
    ]
    between = z[np.ix_(labels == 0, labels == 1)].mean() if 0 < labels.sum() < labels.size else np.inf
    return labels, float(between / min(within)) if within and min(within) > 0 else np.inf


def _grown(
    windows: np.ndarray,
    group: np.ndarray,
    chance: np.ndarray,
    settings: AssemblySettings,
    candidates: np.ndarray,
    rounds: int = 3,
) -> np.ndarray:
    """The group and the neurons present at its activations beyond chance (Binomial(activations,
    window activity) at membership_alpha, Bonferroni over all neurons, or over the `candidates`
    (the split set's members) for those), its activations found again with them, at most `rounds`
    times. A core of two or three cannot test its own members (without one, the others rarely
    reach the threshold by themselves), so a side grows by these before it is refined."""
    from scipy.special import bdtrc

    group = group.copy()
    alpha = settings.membership_alpha
    for _ in range(rounds):
        # Bins where the group is coactive beyond chance, or all of it when that is out of reach
        # (two neurons active in a tenth of the windows each coincide by chance 1 % of the time).
        k = coactivity_threshold(chance[group], settings.activation_alpha)
        found = member_activations(
            windows,
            group,
            chance,
            1.0 if k > group.sum() else settings.activation_alpha,
            settings.jitter_bins,
        )
        peak = found.peak[found.n_active >= min(k, group.sum())]
        if peak.size < settings.min_events:
            break
        present = windows[peak].sum(axis=0)
        p_value = np.where(
            present > 0, bdtrc(np.maximum(present - 1, 0), peak.size, np.clip(chance, 0, 1)), 1.0
        )
        joining = (p_value * group.size < alpha) | (candidates & (p_value * candidates.sum() < alpha))
        joining &= ~group
        if not joining.any():
            break
        group |= joining
    return group


def _exclusive_parts(
    sides: list[np.ndarray], raster: ActiveBins, windows: np.ndarray, settings: AssemblySettings
) -> tuple[list[Assembly] | None, int]:
    """Two assemblies from the two clusters of a set's members, each defined by the neurons of its
    side that the other assembly does not hold: (parts or None, candidates examined). Grown from
    its side (`_grown`), a side holding the neurons two large assemblies share takes the other
    one's activations as its own (the shared neurons alone reach its threshold: two 20-member
    assemblies sharing 7 at participation 0.9), and both sides grow back into the union. Here
    each side is refined with the other side out of its core; the neurons of a side that are
    members of the other side's part (the shared ones, clustered with one side) then leave its
    core too, and each part settles with the other's members out of its core."""
    n_tried = 0

    def part(side: int, others: np.ndarray) -> Assembly | None:
        nonlocal n_tried
        n_tried += 1
        seed = sides[side]
        return refine_members(raster, windows, seed, seed / np.sqrt(seed.sum()), settings, others=others)

    first = [part(s, sides[1 - s]) for s in (0, 1)]
    if any(p is None for p in first):
        return None, n_tried
    # A side's neurons that are members of the other side's part, unless that part holds most of
    # the side (then it is the union, and says nothing of which neurons are shared).
    held = [sides[s] & first[1 - s].member for s in (0, 1)]
    held = [h if h.sum() <= 0.5 * sides[s].sum() else np.zeros_like(h) for s, h in enumerate(held)]
    again = [part(s, sides[1 - s] | held[s]) if held[s].any() else first[s] for s in (0, 1)]
    if any(p is None for p in again):
        return None, n_tried
    settled = [settle_members(raster, windows, again[s], settings, again[1 - s].member) for s in (0, 1)]
    return settled, n_tried


def _two_assemblies(parts: list[Assembly], min_core: int, same: Callable[[Assembly, Assembly], bool]) -> bool:
    """Whether two parts of a split set are two assemblies: cores of min_core or more, not one
    assembly (`same`), and the smaller sharing at most half its members with the other (a chance
    triple of one ensemble's weaker members, 2 or 3 of its 3 members inside the other part, was
    split off a single ensemble whose members took part at 0.95 and 0.4: a review's case; two
    20-member ensembles share 7)."""
    if min(p.core.sum() for p in parts) < min_core or same(*parts):
        return False
    small, large = sorted(parts, key=lambda p: p.member.sum())
    return (small.member & large.member).sum() <= 0.5 * small.member.sum()


def split_overlaps(
    found: list[Assembly],
    raster: ActiveBins,
    windows: np.ndarray,
    settings: AssemblySettings,
    same: Callable[[Assembly, Assembly], bool],
    min_members: int = 6,
    max_members: int = 40,
    min_core: int = 3,
    max_separation: float = 0.5,
) -> tuple[list[Assembly], int]:
    """Each found set of min_members to max_members members split into two assemblies where its
    members' coincidences make two (module doc): tried where its two clusters of members coincide
    less than max_separation as much as within one (`member_clusters`). Returns (assemblies,
    candidates examined: one per part refined). A found set that is one assembly (`same`) with a
    part of a split one is dropped (a piece of the other side found on its own)."""
    chance = window_activity(raster, settings.jitter_bins)
    frames = raster.frames_per_bin
    n_held = raster.n_bins if frames is None else int((np.asarray(frames) > 0).sum())
    splits: dict[int, list[Assembly]] = {}
    n_tried = 0
    for x, assembly in enumerate(found):
        members = np.flatnonzero(assembly.member)
        if not min_members <= members.size <= max_members:
            continue
        if assembly.activations.peak.size < 2 * settings.min_events:
            continue
        labels, separation = member_clusters(windows, members, n_held)
        if separation >= max_separation:  # one assembly: its two clusters coincide as much
            continue
        if min(np.sum(labels == 0), np.sum(labels == 1)) < 2:
            continue  # one stray member: no second assembly to seed (nothing tried, nothing counted)
        sides = [np.zeros_like(assembly.member) for _ in (0, 1)]
        for side in (0, 1):
            sides[side][members[labels == side]] = True
        parts = []
        for side in (0, 1):
            n_tried += 1
            seed = _grown(windows, sides[side], chance, settings, assembly.member)
            part = refine_members(raster, windows, seed, seed / np.sqrt(seed.sum()), settings)
            if part is None:
                break
            other_side = assembly.member & ~seed
            parts.append(settle_members(raster, windows, part, settings, other_side))
        if len(parts) < 2 or not _two_assemblies(parts, min_core, same):
            parts, n_exclusive = _exclusive_parts(sides, raster, windows, settings)
            n_tried += n_exclusive
            if parts is None or not _two_assemblies(parts, min_core, same):
                continue
        larger = [o for y, o in enumerate(found) if y != x and o.member.sum() > assembly.member.sum()]
        if any(same(p, o) for p in parts for o in larger):
            continue
        splits[x] = parts
    if not splits:
        return list(found), n_tried
    parts = [p for pair in splits.values() for p in pair]
    out = []
    for x, assembly in enumerate(found):
        if x in splits:
            out += splits[x]
        elif not any(same(assembly, p) for p in parts):
            out.append(assembly)
    return out, n_tried

"""Member sets of the `refined` method (`calcium.population.assemblies`): an assembly's activations
and members for a fixed set, the refinement of a seed against the circular-shift null (core
elimination) and the settling of a refined set from all its members."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from calcium.population.activations import (
    Activations,
    chance_outside,
    member_activations,
    membership_test,
)
from calcium.population.coactivity import ActiveBins, sorted_unique, window_activity
from calcium.population.event_sizes import WindowLevels
from calcium.population.state import session_state

_LEVELS: list = []  # the last session's WindowLevels: (its raster's sizes, jitter_bins, levels)


def window_levels(raster: ActiveBins, jitter_bins: int, held: np.ndarray) -> WindowLevels:
    """`WindowLevels` of a raster, kept for the next call on the same raster (a session refines
    hundreds of member sets on one raster)."""
    if _LEVELS and _LEVELS[0][0] is raster.sizes and _LEVELS[0][1] == jitter_bins:
        return _LEVELS[0][2]
    levels = WindowLevels(raster, jitter_bins, held)
    _LEVELS[:] = [(raster.sizes, jitter_bins, levels)]
    return levels


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
    max_passes: int = 24,
    others: np.ndarray | None = None,
    elsewhere: list[Assembly] | None = None,
) -> Assembly | None:
    """Refine a seed member set (module doc) until it settles; None when its core falls below
    two neurons or it has fewer than min_events activations.

    The seed (the ICA pattern's members) is the core that defines the activations: ICA gives
    two overlapping ensembles each a pattern weighted on the neurons that tell them apart, so
    activations of the core are the ensemble's own and not the other's. Members are every
    neuron passing the membership test on those activations (the shared neurons too); core
    neurons that fail it leave the core (those not even nominally above chance at once, else the
    one with the largest p-value), and the activations are found again.
    others: (neurons,) bool, the seed members of the other candidates. When the seeds of two
    overlapping ensembles both hold the shared neurons, those (with a neuron or two active by
    chance) would make the other ensemble's activations activations of this one; the core is
    then the seed without them (if at least two neurons remain).
    elsewhere: the other assemblies found, when settling with them known: a member of one counts
    only the activations away from that one's (within ± 2·jitter_bins of its peaks its presence
    is that assembly's), and the membership test weighs each neuron's event sizes (`event_sizes`:
    a member of another assembly brings that one's larger events to activations shared with it,
    hence only once the others are known). None: presence only, every activation counted.
    """
    j = settings.jitter_bins
    chance_of = _WindowChance(raster, windows, j)
    overall = chance_of.overall
    core = np.asarray(seed_members, dtype=bool).copy()
    if others is not None and (core & ~np.asarray(others, dtype=bool)).sum() >= 2:
        core &= ~np.asarray(others, dtype=bool)
    member = core
    for _ in range(max_passes):
        if core.sum() < 2:
            return None
        found = member_activations(windows, core, overall, settings.activation_alpha, j, chance_of.state)
        chance = chance_of.outside(found.peak)
        found = member_activations(windows, core, chance, settings.activation_alpha, j, chance_of.state)
        if found.peak.size < settings.min_events:
            return None
        member, participation, p_value = membership_test(
            windows,
            core,
            found,
            chance,
            settings.membership_alpha,
            settings.activation_alpha,
            chance_of.n_active,
            None if elsewhere is None else chance_of.sizes(found.peak),
            None if elsewhere is None else chance_of.explained(found.peak, elsewhere, core),
            chance_of.least_chance,
            chance_of.state,
        )
        failing = core & ~member
        if not failing.any():
            break
        # Backward elimination: the core neurons not even nominally above chance leave at once,
        # otherwise the one furthest from it. Dropping every failing neuron at once lets a seed
        # holding two or three strangers collapse: their presence raises k, the ensemble's own
        # activations fall below it and its members fail too.
        drop = failing & (p_value >= settings.membership_alpha)
        if not drop.any():
            drop = np.zeros_like(core)
            drop[np.flatnonzero(failing)[np.argmax(p_value[failing])]] = True
        core &= ~drop
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


class _WindowChance:
    """`window_activity` and `chance_outside` of a raster from its window matrix (the same numbers:
    bins holding no frame are all False there and left out of the denominator): the counts over
    all bins once, then only the excluded bins' rows per call, instead of the raster's events."""

    def __init__(self, raster: ActiveBins, windows: np.ndarray, jitter_bins: int):
        frames = raster.frames_per_bin
        self.held = np.ones(raster.n_bins, bool) if frames is None else np.asarray(frames) > 0
        self.windows, self.jitter_bins = windows, jitter_bins
        self.total = windows.sum(axis=0, dtype=np.int64)
        n_held = int(self.held.sum())
        self.overall = self.total / n_held if n_held else np.zeros(raster.n_neurons)
        # Half an event's share of the windows (of every bin: at rates below 1 / bin_s, bins
        # without a frame dilute it as they do a neuron's activity): what a neuron with no
        # activity away from an assembly's activations is tested against (`membership_test`'s
        # least_chance), the rate a zero count gives with Jeffreys' prior (0.5 events).
        self.least_chance = 0.5 * (2 * jitter_bins + 1) / max(raster.n_bins, 1)
        # Each neuron's active bins (holding frames): the most activations it can take part in.
        keep = self.held[raster.bins]
        keys = sorted_unique(raster.neurons[keep].astype(np.int64) * raster.n_bins + raster.bins[keep])
        self.n_active = np.bincount(keys // raster.n_bins, minlength=raster.n_neurons)
        self.levels = None if raster.sizes is None else window_levels(raster, jitter_bins, self.held)
        # The population's state around each bin (`calcium.population.state`); None without one.
        self.state = session_state(raster, jitter_bins)

    def _near(self, peaks: np.ndarray) -> np.ndarray:
        """(n_bins,) bool: the bins holding frames within ± 2·jitter_bins of the peaks."""
        j, n_bins = self.jitter_bins, self.held.size
        reach = np.arange(-2 * j, 2 * j + 1)
        near = (np.asarray(peaks, dtype=np.int64)[:, None] + reach[None, :]).ravel()
        exclude = np.zeros(n_bins, dtype=bool)
        exclude[near[(near >= 0) & (near < n_bins)]] = True
        return exclude & self.held

    def sizes(self, peaks: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The event sizes' levels at the peaks and their null distribution away from them
        (`membership_test`'s sizes), or None when the raster has no sizes."""
        if self.levels is None:
            return None
        return self.levels.at(peaks), self.levels.null_pmf(self._near(peaks))

    def explained(self, peaks: np.ndarray, elsewhere: list, core: np.ndarray) -> np.ndarray:
        """(peaks, neurons) bool: the neuron is a member of another assembly that is active at the
        peak: at least half of its members outside this core take part there (`membership_test`'s
        explained; as `calcium.population.membership.explained_elsewhere`). Its own activations
        are not enough: those of a set sharing this one's neurons can hold this one's."""
        present = self.windows[np.asarray(peaks, dtype=np.int64)]
        out = np.zeros(present.shape, dtype=bool)
        for other in elsewhere:
            own = np.asarray(other.member, dtype=bool) & ~core
            if own.sum() < 2:
                continue
            active = present[:, own].sum(axis=1) >= 0.5 * own.sum()
            out[np.ix_(active, np.asarray(other.member, dtype=bool))] = True
        return out

    def outside(self, peaks: np.ndarray) -> np.ndarray:
        exclude = self._near(peaks)
        kept = int(self.held.sum() - exclude.sum())
        if kept == 0:
            return np.zeros(self.total.size)
        return (self.total - self.windows[exclude].sum(axis=0, dtype=np.int64)) / kept


def settle_members(
    raster: ActiveBins,
    windows: np.ndarray,
    assembly: Assembly,
    settings: AssemblySettings,
    others: np.ndarray | None = None,
    max_rounds: int = 6,
    elsewhere: list[Assembly] | None = None,
) -> Assembly:
    """Refine an assembly again from all its members until its member set stops changing.

    `refine_members` only shrinks its core: members added by the membership test (the small
    ensemble's neuron ICA's mean + 2 SD cut left out, most of a 30-member ensemble seeded by
    a partial pattern) never define the activations. Taking the members as the next seed lets
    activations that the partial core missed count, and neurons present at them join (or, with
    fewer strangers in the core, leave) until a fixed point (at most max_rounds rounds).
    others: (neurons,) bool, the members of the other assemblies, kept out of the core as in
    `refine_members` (an overlapping ensemble's shared neurons would otherwise carry the other's
    activations into this one and merge them). elsewhere: the other assemblies, as in
    `refine_members`. Returns the last assembly that did not fail.
    """
    for _ in range(max_rounds):
        again = refine_members(
            raster, windows, assembly.member, assembly.weight, settings, others=others, elsewhere=elsewhere
        )
        if again is None:
            break
        settled = np.array_equal(again.member, assembly.member)
        assembly = again
        if settled:
            break
    return assembly


def add_if_new(
    found: list[Assembly],
    assembly: Assembly | None,
    raster,
    windows,
    settings,
    same,
    min_core: int = 0,
    min_members: int = 0,
) -> None:
    """Settle a late candidate with the found assemblies' members out of its core; append it when
    its core keeps at least `min_core` neurons (and it `min_members` members), at least two of
    them outside each found one, and it is none of them (`same`)."""
    if assembly is None:
        return
    others = np.zeros_like(assembly.member)
    for other in found:
        others |= other.member
    settled = settle_members(raster, windows, assembly, settings, others, elsewhere=found)
    # As in `assemblies._settle_all`: a candidate that would lose more than a fifth of its members stays as
    # it was (the partner of a found ensemble, its shared neuron out of the core, was left a core
    # of three that no longer holds its other members).
    if (settled.member & assembly.member).sum() >= 0.8 * assembly.member.sum():
        assembly = settled
    outside = [(assembly.core & ~other.member).sum() for other in found]
    if assembly.core.sum() < min_core or assembly.member.sum() < min_members:
        return
    if min(outside, default=2) >= 2 and not any(same(assembly, other) for other in found):
        found.append(assembly)

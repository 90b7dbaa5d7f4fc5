"""Reference ground truth for a session: recordings (ΔF/F with true spike times), the sets of the
session's indicator family, and the excerpts of them that are scored.

Reference sets are folders in the CASCADE layout (calcium.evaluation.groundtruth); a recording's
name is '<set>/<recording>'.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from calcium.evaluation.scoring import split_by_span


@dataclass(frozen=True)
class Recording:
    """One ground-truth recording: ΔF/F of one neuron with its true spike times (same clock)."""

    name: str
    indicator: str
    frame_rate_hz: float
    start_time_s: float
    dff: np.ndarray
    spike_times_s: np.ndarray
    neuron: str = ""


def excerpt(recording: Recording, max_s: float) -> Recording:
    """The middle `max_s` seconds of a recording (all of it if shorter), spikes on the same clock."""
    n = recording.dff.size
    keep = min(n, max(1, int(round(max_s * recording.frame_rate_hz))))
    first = (n - keep) // 2
    start = recording.start_time_s + first / recording.frame_rate_hz
    truth, _ = split_by_span(recording.spike_times_s, keep, recording.frame_rate_hz, start)
    return Recording(
        recording.name,
        recording.indicator,
        recording.frame_rate_hz,
        start,
        recording.dff[first : first + keep],
        truth,
        recording.neuron,
    )


def choose_recordings(recordings: Sequence[Recording], max_recordings: int) -> list[Recording]:
    """At most max_recordings, spread over the neurons: one per neuron in turn, in name order."""
    by_neuron: dict[str, list[Recording]] = {}
    for rec in sorted(recordings, key=lambda r: r.name):
        by_neuron.setdefault(rec.neuron or rec.name, []).append(rec)
    chosen: list[Recording] = []
    round_ = 0
    while len(chosen) < max_recordings and any(len(v) > round_ for v in by_neuron.values()):
        for neuron in sorted(by_neuron):
            if round_ < len(by_neuron[neuron]) and len(chosen) < max_recordings:
                chosen.append(by_neuron[neuron][round_])
        round_ += 1
    return chosen


def reference_set(recording_name: str) -> str:
    """The set (folder) a reference recording comes from: its name up to the first '/'."""
    return recording_name.split("/", 1)[0]


def select_references(available: Sequence[tuple[str, str]], indicator: str) -> tuple[list[str], str]:
    """Which ground-truth folders stand in for a session's indicator.

    available: (folder, indicator) pairs, e.g. from calcium.evaluation.groundtruth.groundtruth_folders.
    The folders of the session's own indicator and of the other indicators of its family
    (calcium.signal.indicators.indicator_family: slow GCaMP, fast GCaMP, jGCaMP8, synthetic dye,
    red GECI): one indicator measured in one lab says little about another lab's
    recordings of it, so the family's sets give the spread the estimate needs.
    Returns (folders, match) with match "indicator" (sets of the indicator itself among
    them), "family" or "none".
    """
    from calcium.signal.indicators import canonical_indicator, indicator_family

    def canonical(name: str) -> str:
        try:
            return canonical_indicator(name)
        except KeyError:
            return name.strip()

    own = canonical(indicator)
    family = indicator_family(own)
    same = [folder for folder, ind in available if canonical(ind) == own]
    related = [
        folder
        for folder, ind in available
        if family and canonical(ind) != own and indicator_family(canonical(ind)) == family
    ]
    if same:
        return same + related, "indicator"
    if related:
        return related, "family"
    return [], "none"


@dataclass
class References:
    """Ground-truth recordings standing in for a session (see `load_references`).

    recordings: excerpts to score; indicators: the indicators they are of; match:
    "indicator", "family" or "none" (`select_references`); folder_found: whether the
    ground-truth folder exists at all.
    """

    recordings: list[Recording]
    indicators: list[str]
    match: str
    folder_found: bool


def load_references(
    folders, indicator: str, per_set: int, excerpt_s: float, exclude: Sequence[str] = ()
) -> References:
    """The ground-truth recordings standing in for a session of `indicator`.

    folders: one folder of ground-truth sets or a list of them
        (`calcium.evaluation.groundtruth.groundtruth_folders`), e.g. the workflow's shipped excerpts
        (resources/groundtruth) and a user's own; a set (folder name) found in several is
        taken from the last, so a fuller copy of a set replaces its excerpt.
    The sets of the session's indicator family (`select_references`); at most per_set
    recordings of each, spread over its neurons (`choose_recordings`), each cut to its
    middle excerpt_s seconds (`excerpt`). Recording names are '<set>/<recording>'.
    exclude: set folder names left out (to score a set with references chosen without it).
    """
    from pathlib import Path

    from calcium.evaluation.groundtruth import (
        groundtruth_folders,
        read_groundtruth_recordings,
        read_groundtruth_table,
    )

    roots = [folders] if isinstance(folders, str | Path) else list(folders)
    by_name: dict[str, tuple[str, str]] = {}
    for root in roots:
        for path, ind in groundtruth_folders(root):
            if path.name not in exclude:
                by_name[path.name] = (str(path), ind)
    available = sorted(by_name.values())
    chosen, match = select_references(available, indicator)
    indicator_of = dict(available)
    found = any(Path(root).is_dir() for root in roots)
    recordings = []
    for path in chosen:
        index = read_groundtruth_table(Path(path) / "recordings.csv")
        neuron = index.source_file if "source_file" in index.columns else index.recording
        stubs = [
            Recording(str(r), "", 1.0, 0.0, np.zeros(0), np.zeros(0), str(n))
            for r, n in zip(index.recording, neuron, strict=True)
        ]
        names = [stub.name for stub in choose_recordings(stubs, per_set)]
        for rec in read_groundtruth_recordings(path, names):
            recording = Recording(
                rec["name"],
                indicator_of[path],
                rec["frame_rate_hz"],
                rec["start_time_s"],
                rec["dff"],
                rec["spike_times_s"],
                rec["neuron"],
            )
            recordings.append(excerpt(recording, excerpt_s))
    return References(recordings, sorted({indicator_of[path] for path in chosen}), match, found)

"""Sessions made of trials: the trial table, each trial's frames, and per-trial processing.

A session is one recording (frames 0..n_frames-1 at frame_rate_hz, frame 0 at start_time_s on
its clock) that may be cut into trials: intervals [start_s, stop_s) in seconds on that clock,
given as a table (the sheet's `trials` column) or made by ingest from several files recorded one
after the other (each file one trial, placed back to back). Frames outside every trial are gaps.

Every per-neuron stage that respects trials runs on each trial's frames as if that trial were a
recording of its own (`per_trial`), and gap frames hold 0 (masked: they are left out of every
statistic: baselines, noise levels, events, spikes, coactivity bins and the null). Coactivity
bins restart at each trial's first frame (`trial_bins`), so no bin holds frames of two trials,
and empty separator bins keep the ± jitter windows of neighbouring trials apart.

Trial ids count from 0 in time order, as in every output's `trial` column. No Snakemake here.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from calcium.errors import InputError

REQUIRED_COLUMNS = ("start_s", "stop_s")
# Columns ingest writes to results/<session>/ingest/trials.csv (user columns follow).
TRIAL_TABLE_COLUMNS = ["trial", "start_s", "stop_s", "start_frame", "stop_frame", "n_frames"]
# Columns the workflow writes to the trial table: a user's table may not use these names.
RESERVED_COLUMNS = ("trial", "start_frame", "stop_frame", "n_frames", "file", "file_start_s")
# A trial needs this many frames (the wavelet and OASIS steps need a few samples).
MIN_TRIAL_FRAMES = 8
# Several files in the sheet's `path` column are separated by this character.
PATH_SEPARATOR = ";"


def split_paths(path: str) -> list[str]:
    """The files of a sheet's `path` cell: one path, or several separated by ';' (blanks
    around each stripped, empty parts dropped)."""
    return [part.strip() for part in str(path).split(PATH_SEPARATOR) if part.strip()]


def parse_trial_table(
    table: pd.DataFrame,
    source: str,
    duration_s: float,
    start_time_s: float = 0.0,
    frame_rate_hz: float | None = None,
) -> pd.DataFrame:
    """Check a user's trial table and return it sorted by start, with a `trial` column first.

    table: strings as read (calcium.input.tables.read_user_table): columns start_s and stop_s
        (seconds on the recording's clock, which spans [start_time_s, start_time_s + duration_s))
        and any others (label, condition, ...: kept as text).
    frame_rate_hz: if given, each trial must hold at least MIN_TRIAL_FRAMES frames.
    Raises InputError, one line naming the file, the line (header = line 1), the column and the
    fix, for missing columns, no rows, values that are not finite numbers, stop_s <= start_s,
    trials outside the recording, overlapping trials and trials too short to hold frames.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(
            f"{source}: line 1: missing column(s) {', '.join(missing)}; a trial table has columns "
            "start_s and stop_s (seconds on the recording's clock) and optional label columns "
            "(e.g. label, condition)."
        )
    if table.empty:
        raise InputError(
            f"{source}: the trial table has no rows; give one line per trial, or empty the sheet's "
            "trials column."
        )
    _check_reserved(table, source)
    values = {}
    for column in REQUIRED_COLUMNS:
        numbers = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isfinite(numbers))
        if bad.size:
            raise InputError(
                f"{source}: line {bad[0] + 2}, column {column}: {table[column].iloc[bad[0]]!r} is not "
                "a finite number of seconds; give the time on the recording's clock."
            )
        values[column] = numbers
    start, stop = values["start_s"], values["stop_s"]
    end_s = start_time_s + duration_s
    tolerance = 1e-6 * max(1.0, abs(end_s))
    for row in range(len(table)):
        line = row + 2
        if stop[row] <= start[row]:
            raise InputError(
                f"{source}: line {line}, column stop_s: {stop[row]:g} s is not after start_s "
                f"{start[row]:g} s; each trial must end after it starts (swap or fix the times)."
            )
        if start[row] < start_time_s - tolerance:
            raise InputError(
                f"{source}: line {line}, column start_s: {start[row]:g} s is before the recording "
                f"starts ({start_time_s:g} s); trials must lie within the recording ({start_time_s:g} "
                f"to {end_s:g} s on its clock)."
            )
        if stop[row] > end_s + tolerance:
            raise InputError(
                f"{source}: line {line}, column stop_s: {stop[row]:g} s is after the recording ends "
                f"({end_s:g} s); trials must lie within the recording ({start_time_s:g} to {end_s:g} s "
                "on its clock): fix the time, or the session's frame_rate_hz."
            )
    order = np.argsort(start, kind="stable")
    for previous, current in zip(order[:-1], order[1:], strict=True):
        if start[current] < stop[previous] - tolerance:
            raise InputError(
                f"{source}: line {current + 2}, column start_s: the trial starting at "
                f"{start[current]:g} s overlaps the trial on line {previous + 2} "
                f"({start[previous]:g} to {stop[previous]:g} s); trials must not overlap: fix "
                "start_s or the other trial's stop_s."
            )
    if frame_rate_hz is not None:
        bounds = trial_frames(
            start, stop, frame_rate_hz, start_time_s, int(round(duration_s * frame_rate_hz))
        )
        short = np.flatnonzero(bounds[:, 1] - bounds[:, 0] < MIN_TRIAL_FRAMES)
        if short.size:
            row = short[0]
            raise InputError(
                f"{source}: line {row + 2}, column stop_s: the trial {start[row]:g} to {stop[row]:g} s "
                f"holds {bounds[row, 1] - bounds[row, 0]} frames at {frame_rate_hz:g} Hz; a trial "
                f"needs at least {MIN_TRIAL_FRAMES} frames: lengthen it or merge it with a neighbour."
            )
    extra = [c for c in table.columns if c not in REQUIRED_COLUMNS]
    out = pd.DataFrame({"trial": np.arange(len(table)), "start_s": start[order], "stop_s": stop[order]})
    for column in extra:
        out[column] = table[column].astype(str).str.strip().to_numpy()[order]
    return out


def _check_reserved(table: pd.DataFrame, source: str) -> None:
    """Refuse label columns named like the columns the workflow writes (RESERVED_COLUMNS)."""
    reserved = [c for c in table.columns if c in RESERVED_COLUMNS]
    if reserved:
        raise InputError(
            f"{source}: line 1, column {reserved[0]}: the workflow writes this column (trials are "
            "numbered from 0 by start time); rename it, e.g. to label."
        )


def trial_frames(
    start_s: np.ndarray, stop_s: np.ndarray, frame_rate_hz: float, start_time_s: float, n_frames: int
) -> np.ndarray:
    """First and one-past-last frame of each trial, (trials, 2) int64: the frames whose time
    (start_time_s + frame / frame_rate_hz, s) lies in [start_s, stop_s), within 0..n_frames."""
    first = np.ceil((np.asarray(start_s, float) - start_time_s) * frame_rate_hz - 1e-6)
    stop = np.ceil((np.asarray(stop_s, float) - start_time_s) * frame_rate_hz - 1e-6)
    bounds = np.stack([first, stop], axis=1).astype(np.int64).reshape(-1, 2)
    return np.clip(bounds, 0, n_frames)


def file_trials(frames_per_file: list[int], frame_rate_hz: float, start_time_s: float = 0.0) -> pd.DataFrame:
    """Trials of a session read from several files, back to back: file k is trial k, its frames
    following the previous file's last frame (the time between files is not known, and no
    stage runs across it). Columns trial, start_s, stop_s (s on the concatenated clock)."""
    edges = np.concatenate([[0], np.cumsum(np.asarray(frames_per_file, dtype=np.int64))])
    return pd.DataFrame(
        {
            "trial": np.arange(len(frames_per_file)),
            "start_s": start_time_s + edges[:-1] / frame_rate_hz,
            "stop_s": start_time_s + edges[1:] / frame_rate_hz,
        }
    )


def parse_file_labels(table: pd.DataFrame, source: str, n_files: int) -> pd.DataFrame:
    """Labels of the trials of a session given as several files: one line per file, in the order
    of the files, with label columns only (e.g. condition); the files are the trials, so the
    table gives no times. Returns the label columns as text, one row per file.
    Raises InputError (one line: file, line or column, fix) for start_s/stop_s columns or a
    number of lines other than the number of files."""
    timed = [c for c in (*REQUIRED_COLUMNS, "trial") if c in table.columns]
    if timed:
        raise InputError(
            f"{source}: line 1, column {timed[0]}: the session's files are its trials, so its trial "
            "table gives no times: one line per file, in the order of the path column, with label "
            "columns only (e.g. condition)."
        )
    _check_reserved(table, source)
    if len(table) != n_files:
        raise InputError(
            f"{source}: {len(table)} line(s) of trials for {n_files} files in the path column; give "
            "one line per file, in the order of the files."
        )
    return pd.DataFrame({c: table[c].astype(str).str.strip().to_numpy() for c in table.columns})


def trial_table(
    trials: pd.DataFrame, frame_rate_hz: float, start_time_s: float, n_frames: int
) -> pd.DataFrame:
    """The session's trial table as ingest writes it: trial, start_s, stop_s, start_frame,
    stop_frame (one past the last), n_frames, then the user's label columns."""
    bounds = trial_frames(trials.start_s, trials.stop_s, frame_rate_hz, start_time_s, n_frames)
    out = trials.copy()
    out.insert(3, "start_frame", bounds[:, 0])
    out.insert(4, "stop_frame", bounds[:, 1])
    out.insert(5, "n_frames", bounds[:, 1] - bounds[:, 0])
    return out


def bounds_from_table(table: pd.DataFrame) -> np.ndarray:
    """(trials, 2) int64 first and one-past-last frame, from a table written by `trial_table`."""
    return table[["start_frame", "stop_frame"]].to_numpy(dtype=np.int64).reshape(-1, 2)


def frame_trials(bounds: np.ndarray, n_frames: int) -> np.ndarray:
    """Trial of each frame, (n_frames,) int64; -1 for frames in gaps (outside every trial)."""
    out = np.full(n_frames, -1, dtype=np.int64)
    for trial, (first, stop) in enumerate(np.asarray(bounds, dtype=np.int64)):
        out[first:stop] = trial
    return out


def gap_spans_s(
    bounds: np.ndarray, n_frames: int, frame_rate_hz: float, start_time_s: float = 0.0
) -> np.ndarray:
    """Where a figure on the session's time axis marks the trial structure: (spans, 2) float64
    [start, stop) in s on the recording's clock (start_time_s + frame / frame_rate_hz).

    One span per run of frames outside every trial (a gap: before the first trial, between two
    trials, after the last), from the first gap frame's time to the next trial's first frame
    (the end of the recording); and a zero-width span (start == stop) at each boundary between
    two trials with no frame between them (several files read back to back).
    bounds: (trials, 2) first and one-past-last frame of each trial, in time order.
    """
    bounds = np.asarray(bounds, dtype=np.int64).reshape(-1, 2)
    edges = np.concatenate([[0], bounds.ravel(), [n_frames]]).reshape(-1, 2)  # [stop_k, start_k+1]
    keep = edges[:, 1] > edges[:, 0]  # before the first trial, after the last: gaps only
    keep[1:-1] = True  # between two trials: a gap, or a boundary
    return start_time_s + edges[keep].astype(np.float64) / frame_rate_hz


def per_trial(
    function: Callable[[np.ndarray], np.ndarray], traces: np.ndarray, bounds: np.ndarray, fill: float = 0.0
) -> np.ndarray:
    """`function` applied to each trial's frames of (neurons, frames) `traces` on its own.

    function: (neurons, trial frames) -> array of the same shape (e.g. ΔF/F of a trial).
    Gap frames hold `fill` (0: masked; the trial table says which frames are gaps).
    Returns float32 (neurons, frames).
    """
    traces = np.asarray(traces)
    out = np.full(traces.shape, fill, dtype=np.float32)
    for first, stop in np.asarray(bounds, dtype=np.int64):
        out[:, first:stop] = function(traces[:, first:stop])
    return out


def blank_gaps(values: np.ndarray, gap: np.ndarray | None) -> np.ndarray:
    """(neurons, frames) values with the frames of `gap` (bool per frame: outside every trial of a
    session cut into trials, e.g. `frame_trials(...) < 0`) set to NaN, so that figures and the
    browser draw a break there instead of the gaps' 0; float32 copy. gap None (a continuous
    session): `values` unchanged."""
    if gap is None:
        return values
    out = np.array(values, dtype=np.float32)
    out[:, np.asarray(gap, dtype=bool)] = np.nan
    return out


def shift_frames(
    table: pd.DataFrame, first_frame: int, frame_rate_hz: float, trial: int, columns
) -> pd.DataFrame:
    """A table of one trial (frames counted from the trial's first frame) moved onto the session's
    frames: `columns` (frame columns) + first_frame, and a `trial` column after `neuron`."""
    table = table.copy()
    for column in columns:
        table[column] = table[column].to_numpy(dtype=np.int64) + int(first_frame)
    table.insert(1 if "neuron" in table.columns else 0, "trial", np.full(len(table), trial, dtype=np.int64))
    return table


def per_neuron_summary(tables: list[pd.DataFrame], sums: tuple[str, ...] = ()) -> pd.DataFrame:
    """One row per neuron from per-trial tables of one row per neuron each (e.g. each trial's
    deconvolution parameters): numeric columns are the median over trials, `sums` columns the
    sum (counts, totals), other columns the first trial's value; `n_trials` is appended."""
    table = pd.concat(tables, ignore_index=True)
    grouped = table.groupby("neuron", sort=True)
    out = {}
    for column in table.columns:
        if column == "neuron":
            continue
        if column in sums:
            out[column] = grouped[column].sum()
        elif pd.api.types.is_bool_dtype(table[column]) or not pd.api.types.is_numeric_dtype(table[column]):
            out[column] = grouped[column].first()
        else:
            out[column] = grouped[column].median()
    summary = pd.DataFrame(out).reset_index()
    summary["n_trials"] = grouped.size().to_numpy()
    return summary


def trial_bounds(inputs) -> np.ndarray | None:
    """A rule's trial frames (`bounds_from_table` of its `trials` input: results/<session>/ingest/
    trials.csv), or None when the rule has no such input (a continuous session)."""
    if "trials" not in inputs.keys():
        return None
    from calcium.io import read_table

    return bounds_from_table(read_table(inputs.trials))


def figure_gaps(inputs, facts: dict, frames: slice = slice(None)) -> tuple:
    """What a rule's figures draw of its session's trials: (gap, spans_s).

    gap: bool per frame of `frames`, True outside every trial (`blank_gaps`: drawn as breaks);
    spans_s: `gap_spans_s` (marked by `calcium.outputs.plot_style.mark_trial_gaps`).
    inputs: the rule's input (`trial_bounds`); facts: the session's recording.json (n_frames,
    frame_rate_hz, start_time_s). (None, None) without a trials input (a continuous session).
    """
    bounds = trial_bounds(inputs)
    if bounds is None:
        return None, None
    n_frames = int(facts["n_frames"])
    spans = gap_spans_s(bounds, n_frames, facts["frame_rate_hz"], facts.get("start_time_s", 0.0))
    return (frame_trials(bounds, n_frames) < 0)[frames], spans


def frames_in_trials(bounds: np.ndarray) -> int:
    """Frames inside trials (the recording less its gaps)."""
    return int(np.diff(np.asarray(bounds, dtype=np.int64).reshape(-1, 2), axis=1).sum())


def per_trial_block(stage: Callable, rows: slice, traces, trials, sums=(), noise_traces=None, **settings):
    """A per-neuron stage (`calcium.blocks`: returns a BlockResult) run on each trial's frames on its
    own: arrays assembled on the session's frames (gap frames 0), its one table of one row per
    neuron summarised over trials (`per_neuron_summary`, `sums` columns added up). noise_traces (the
    stage's keyword of that name, e.g. `deconvolve_block`'s) is cut into the same trials."""
    outputs, tables, part = None, [], None
    for first, stop in np.asarray(trials, dtype=np.int64):
        if noise_traces is not None:
            settings["noise_traces"] = noise_traces[:, first:stop]
        part = stage(rows, traces[:, first:stop], **settings)
        if outputs is None:
            outputs = [np.zeros((traces.shape[0], traces.shape[1]), dtype=np.float32) for _ in part.arrays]
        for out, array in zip(outputs, part.arrays, strict=True):
            out[:, first:stop] = array
        tables.append(part.tables[0])
    return part._replace(arrays=tuple(outputs), tables=(per_neuron_summary(tables, tuple(sums)),))


def session_trials(
    table: pd.DataFrame | None,
    source: str,
    sources: list[str],
    frames_per_file: list[int],
    starts_s: list[float],
    frame_rate_hz: float,
    start_time_s: float,
) -> pd.DataFrame:
    """The trial table ingest writes (`trial_table`): the user's trial `table` (read from
    `source`), one trial per file of `sources` (labelled by `table` if given), or one trial over
    the whole recording. frames_per_file, starts_s: each file's frames and own first time (s)."""
    n_frames = int(sum(frames_per_file))
    duration_s = n_frames / frame_rate_hz
    if len(sources) > 1:
        trials = file_trials(frames_per_file, frame_rate_hz, start_time_s)
        trials["file"] = [str(path) for path in sources]
        trials["file_start_s"] = starts_s
        if table is not None:  # labels of the files' trials
            labels = parse_file_labels(table, source, len(sources))
            for column in labels.columns:
                trials[column] = labels[column].to_numpy()
    elif table is not None:
        trials = parse_trial_table(table, source, duration_s, start_time_s, frame_rate_hz)
    else:
        trials = pd.DataFrame(
            {"trial": [0], "start_s": [start_time_s], "stop_s": [start_time_s + duration_s]}
        )
    return trial_table(trials, frame_rate_hz, start_time_s, n_frames)


def window_edges(
    layout, first: np.ndarray, last: np.ndarray, jitter_bins: int, n_bins: int
) -> tuple[np.ndarray, np.ndarray]:
    """First and last bin of the windows [first - jitter_bins, last + jitter_bins], clipped to the
    recording and (with trials: layout, a `calcium.population.trial_coactivity.TrialBins`) to the trial of
    `first` (a window never reaches across a boundary)."""
    low = np.maximum(np.asarray(first, dtype=np.int64) - jitter_bins, 0)
    high = np.minimum(np.asarray(last, dtype=np.int64) + jitter_bins, n_bins - 1)
    if layout is None or low.size == 0:
        return low, high
    trial = layout.bin_trial[np.asarray(first, dtype=np.int64)]
    index = np.arange(layout.n_bins)
    inside = layout.bin_trial >= 0
    trial_first = np.full(len(layout.bounds), layout.n_bins, dtype=np.int64)
    trial_last = np.full(len(layout.bounds), -1, dtype=np.int64)
    np.minimum.at(trial_first, layout.bin_trial[inside], index[inside])
    np.maximum.at(trial_last, layout.bin_trial[inside], index[inside])
    return np.maximum(low, trial_first[trial]), np.minimum(high, trial_last[trial])

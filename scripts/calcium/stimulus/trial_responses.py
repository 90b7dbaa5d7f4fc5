"""Trial-aligned responses: each presentation's ΔF/F window, and per-trial response amplitudes.

Frames: frame k is at k / frame_rate_hz seconds after the first frame; onsets are given on
the same clock (seconds from the first frame). A window [a, b) around an onset holds the
frames ceil((onset + a) * fs) .. ceil((onset + b) * fs) - 1, as in
`calcium.stimulus.regression.stimulus_responses`, so the per-trial amplitudes here average to that
table's mean_response_dff.

A session cut into trials (docs/trials.md; frame_trial: the trial of each frame, -1 in gaps):
a presentation counts only when its response and baseline windows lie within one trial (the
`session_trial` column says which), and the figure's windows are NaN outside the onset's trial
(in a gap or the next trial), as outside the recording.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from calcium.stimulus.regression import window_in_one_trial

TRIAL_COLUMNS = ["neuron", "stimulus", "trial", "onset_s", "response_dff", "baseline_dff"]


def window_frames(onset_s: float, window_s, frame_rate_hz: float) -> tuple[int, int]:
    """[start, stop) frames of [onset + window_s[0], onset + window_s[1]) s."""
    start = int(np.ceil((onset_s + window_s[0]) * frame_rate_hz))
    stop = int(np.ceil((onset_s + window_s[1]) * frame_rate_hz))
    return start, stop


def presentations(stimuli: pd.DataFrame) -> pd.DataFrame:
    """Presentations (stimulus, onset_s) with `trial`: 0, 1, ... per stimulus in onset order,
    stimuli in the order they first appear."""
    table = stimuli[["stimulus", "onset_s"]].copy()
    table["stimulus"] = table.stimulus.astype(str)
    table["order"] = np.arange(len(table))
    table = table.sort_values(["onset_s", "order"], kind="stable")
    table["trial"] = table.groupby("stimulus", sort=False).cumcount()
    first = {name: k for k, name in enumerate(dict.fromkeys(stimuli.stimulus.astype(str)))}
    table["rank"] = table.stimulus.map(first)
    return table.sort_values(["rank", "trial"]).drop(columns=["order", "rank"]).reset_index(drop=True)


def trial_responses(
    traces: np.ndarray,
    stimuli: pd.DataFrame,
    frame_rate_hz: float,
    response_window_s=(0.0, 3.0),
    baseline_window_s=(-2.0, 0.0),
    first_neuron: int = 0,
    time_offset_s: float = 0.0,
    frame_trial: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per neuron x presentation: neuron, stimulus, trial, onset_s, response_dff (mean
    ΔF/F over the response window), baseline_dff (mean over the baseline window; NaN when
    baseline_window_s is None). With frame_trial (a session cut into trials: the trial of each
    frame, -1 in gaps), presentations whose windows do not lie within one trial are left out
    and a `session_trial` column (the presentation's trial of the session) follows `trial`.

    traces: (neurons, frames) ΔF/F of neurons first_neuron, first_neuron + 1, ...;
    stimuli: stimulus, onset_s in s from the first frame; time_offset_s is added to the
    onset_s written (the recording's clock). Presentations whose windows do not fit inside
    the recording are left out (as in `calcium.stimulus.regression.stimulus_responses`).
    """
    traces = np.asarray(traces, dtype=np.float64)
    n_neurons, n_frames = traces.shape
    columns = (
        TRIAL_COLUMNS if frame_trial is None else [*TRIAL_COLUMNS[:3], "session_trial", *TRIAL_COLUMNS[3:]]
    )
    parts = []
    for row in presentations(stimuli).itertuples(index=False):
        start, stop = window_frames(row.onset_s, response_window_s, frame_rate_hz)
        if start < 0 or stop > n_frames or stop <= start:
            continue
        windows = [(start, stop)]
        baseline = np.full(n_neurons, np.nan)
        if baseline_window_s is not None:
            b0, b1 = window_frames(row.onset_s, baseline_window_s, frame_rate_hz)
            if b0 < 0 or b1 <= b0 or b1 > n_frames:
                continue
            windows.append((b0, b1))
            baseline = traces[:, b0:b1].mean(axis=1)
        if not window_in_one_trial(frame_trial, *windows):
            continue
        part = {
            "neuron": np.arange(first_neuron, first_neuron + n_neurons),
            "stimulus": row.stimulus,
            "trial": int(row.trial),
            "onset_s": float(row.onset_s) + time_offset_s,
            "response_dff": traces[:, start:stop].mean(axis=1),
            "baseline_dff": baseline,
        }
        if frame_trial is not None:
            part["session_trial"] = int(frame_trial[start])
        parts.append(pd.DataFrame(part))
    if not parts:
        return pd.DataFrame({column: [] for column in columns})
    table = pd.concat(parts, ignore_index=True)
    return table.sort_values(["neuron"], kind="stable").reset_index(drop=True)[columns]


def peri_stimulus(
    traces: np.ndarray, onsets_s, frame_rate_hz: float, window_s, frame_trial: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Each presentation's window of every trace: (time_s (samples,) after the onset,
    (neurons, trials, samples) float32 with NaN where the window leaves the recording or, with
    frame_trial (the trial of each frame, -1 in gaps), the trial of the onset's frame).

    Sample j of a trial is frame ceil((onset + window_s[0]) * fs) + j; time_s[j] is its time
    after the onset averaged over the trials (they differ by less than a frame).
    """
    traces = np.asarray(traces)
    n_frames = traces.shape[1]
    n_samples = max(1, int(np.ceil(window_s[1] * frame_rate_hz)) - int(np.ceil(window_s[0] * frame_rate_hz)))
    onsets = np.asarray(onsets_s, dtype=np.float64)
    first = np.ceil((onsets + window_s[0]) * frame_rate_hz).astype(np.int64)
    frames = first[:, None] + np.arange(n_samples)[None, :]  # (trials, samples)
    inside = (frames >= 0) & (frames < n_frames)
    if frame_trial is not None and n_frames:
        onset_frame = np.clip(np.ceil(onsets * frame_rate_hz).astype(np.int64), 0, n_frames - 1)
        own = frame_trial[onset_frame]
        inside &= (own[:, None] >= 0) & (frame_trial[np.clip(frames, 0, n_frames - 1)] == own[:, None])
    values = traces[:, np.clip(frames, 0, n_frames - 1)].astype(np.float32)  # (neurons, trials, samples)
    values[:, ~inside] = np.nan
    if onsets.size:  # each sample's time after its onset, averaged over the trials (sub-frame jitter)
        time_s = ((first[:, None] + np.arange(n_samples)[None, :]) / frame_rate_hz - onsets[:, None]).mean(
            axis=0
        )
    else:
        time_s = (np.arange(n_samples) + int(np.ceil(window_s[0] * frame_rate_hz))) / frame_rate_hz
    return time_s, values


def responsive_examples(
    table: pd.DataFrame, regression: pd.DataFrame, per_stimulus: int = 2
) -> list[tuple[str, int]]:
    """The responsive neurons drawn per stimulus: the stimulus-locked neurons (selected in the
    regression table) whose response type is that stimulus (or its suppression), the
    `per_stimulus` with the largest mean |response − baseline| over its trials first.
    Returns [(stimulus, neuron)], stimuli in the order they first appear in `table`."""
    if not len(table) or regression is None or not len(regression):
        return []
    selected = regression[regression.selected.astype(bool)]
    kinds = selected.set_index("neuron").response_type.astype(str)
    delta = table.response_dff - table.baseline_dff.fillna(0.0)
    strength = delta.abs().groupby([table.stimulus, table.neuron]).mean()
    examples = []
    for stimulus in dict.fromkeys(table.stimulus):
        mine = kinds[kinds.isin([stimulus, f"suppressed:{stimulus}"])].index
        ranked = strength.loc[stimulus].reindex(mine).dropna()
        ranked = ranked.sort_index().sort_values(ascending=False, kind="stable")
        examples += [(str(stimulus), int(n)) for n in ranked.index[:per_stimulus]]
    return examples


def session_trial_responses(
    traces_path,
    n_neurons: int,
    n_frames: int,
    stimuli: pd.DataFrame,
    frame_rate_hz: float,
    response_window_s,
    baseline_window_s,
    start_time_s: float = 0.0,
    frame_trial: np.ndarray | None = None,
) -> pd.DataFrame:
    """`trial_responses` of every neuron of a session's traces .npy (neurons x frames), read in
    blocks of ~0.1 GB of float32 (bounded memory), with progress in the log.

    stimuli: presentations, onset_s in seconds from the first frame; baseline_window_s: None for
    no baseline; frame_trial: a session cut into trials (see `trial_responses`). Returns the
    table in neuron order.
    """
    from calcium.io import load_npy
    from calcium.progress import Progress, track

    block = max(1, 25_000_000 // n_frames)  # neurons at a time
    parts = []
    firsts = range(0, n_neurons, block)
    with Progress(len(firsts), f"trial responses ({n_neurons} neurons)", "blocks") as progress:
        for first in track(firsts, progress):
            traces = load_npy(traces_path, slice(first, first + block))
            parts.append(
                trial_responses(
                    traces,
                    stimuli,
                    frame_rate_hz,
                    response_window_s,
                    baseline_window_s,
                    first,
                    start_time_s,
                    frame_trial,
                )
            )
    return pd.concat(parts, ignore_index=True)


def example_panels(
    traces_path,
    n_frames: int,
    examples: list[tuple[str, int]],
    trials: pd.DataFrame,
    frame_rate_hz: float,
    window_s,
    frame_trial: np.ndarray | None = None,
) -> tuple[np.ndarray, list[tuple[str, int, np.ndarray]]]:
    """The trial-aligned windows of the example neurons (`responsive_examples`), one panel each.

    trials: `presentations` (onset_s from the first frame); frame_trial: a session cut into
    trials (windows NaN outside the onset's trial, `peri_stimulus`). Returns (time in s from onset,
    [(stimulus, neuron, (that stimulus' trials, window frames) ΔF/F)]), as the trial-responses
    figure takes them.
    """
    from calcium.io import load_npy

    chosen = sorted({neuron for _, neuron in examples})
    time_s, windows = peri_stimulus(
        load_npy(traces_path)[chosen] if chosen else np.zeros((0, n_frames)),
        trials.onset_s.to_numpy(),
        frame_rate_hz,
        window_s,
        frame_trial,
    )
    panels = [
        (stimulus, neuron, windows[chosen.index(neuron)][(trials.stimulus == stimulus).to_numpy()])
        for stimulus, neuron in examples
    ]
    return time_s, panels

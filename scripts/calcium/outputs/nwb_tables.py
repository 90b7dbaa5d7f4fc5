"""NWB: the session's tables, intervals and stimulus series as NWB objects.

Inferred spikes (a Units-like table per ROI), events (core EventsTable), tidy tables
(DynamicTable with links to the ROI table, ragged neuron lists, matrices), stimulus
presentations (TimeIntervals) and regressors (TimeSeries). Each function returns the object;
`calcium.outputs.nwb.SessionNwbWriter` places it in the file.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from calcium.outputs.nwb_columns import (
    COLUMN_DESCRIPTIONS,
    compressed,
    describe_column,
    roi_region,
    table_columns,
)


def spikes_table(
    spikes: pd.DataFrame,
    description: str,
    rois,
    frame_rate_hz: float,
    start_time_s: float,
    lag_s: float | np.ndarray,
    gzip_level: int,
):
    """InferredSpikes: one row per ROI of the ROI table `rois`, with ragged columns spike_times
    (s), spike_frames and spike_amplitudes_dff (and spike_trials if `spikes` has a trial column).

    spikes: columns neuron, frame, amplitude_dff (spike_times.csv). Times are
    start_time_s + frame / frame_rate_hz - lag_s, computed from the frames exactly as
    `calcium.signal.spikes.spike_times_by_neuron` computes spike_times.npz (lag_s: the timing
    correction, s: one number, or one per ROI as in deconvolution.tsv), so they equal
    spike_times.npz and spike_times.csv's time_s.
    """
    from hdmf.common import DynamicTable, VectorData, VectorIndex

    from calcium.signal.spikes import spike_times_by_neuron

    n_neurons = len(rois)
    spikes = spikes.sort_values(["neuron", "frame"], kind="stable")
    neurons = spikes["neuron"].to_numpy(dtype=np.int64)
    frames = spikes["frame"].to_numpy(dtype=np.int64)
    by_neuron = spike_times_by_neuron(spikes, n_neurons, frame_rate_hz, start_time_s, lag_s)
    times = np.concatenate([by_neuron[k] for k in sorted(by_neuron)]) if by_neuron else np.zeros(0)
    ends = np.searchsorted(neurons, np.arange(n_neurons), side="right")
    columns = [roi_region("roi", np.arange(n_neurons), "the ROI whose spikes these are", rois)]
    by_trial = []
    if "trial" in spikes:  # a session cut into trials
        by_trial = [("spike_trials", spikes["trial"].to_numpy(np.int64), "trial of each spike (trials row)")]
    for column, values, text in (
        (
            "spike_times",
            times,
            "spike times (s since session_start_time): frame time minus the ROI's timing correction "
            "lag_s (deconvolution.tsv), as in spike_times.csv",
        ),
        ("spike_frames", frames, "frames of the spikes"),
        ("spike_amplitudes_dff", spikes["amplitude_dff"].to_numpy(np.float64), "spike amplitudes (ΔF/F)"),
        *by_trial,
    ):
        data = VectorData(name=column, data=compressed(values, gzip_level), description=text)
        columns += [data, VectorIndex(name=f"{column}_index", data=ends, target=data)]
    return DynamicTable(
        name="InferredSpikes", description=description, id=np.arange(n_neurons), columns=columns
    )


def events_table(
    name: str,
    table: pd.DataFrame,
    description: str,
    time_column: str,
    end_column: str | None,
    rois,
    gzip_level: int,
):
    """A core EventsTable: `timestamp` is `time_column` (s), `duration` end_column -
    time_column (s) when given, every column of `table` kept (`neuron` links to `rois`)."""
    from pynwb.event import DurationVectorData, EventsTable, TimestampVectorData

    columns = [
        TimestampVectorData(
            name="timestamp",
            data=table[time_column].to_numpy(np.float64),
            description=f"time of the event (s since session_start_time): {time_column}",
        )
    ]
    if end_column is not None:
        columns.append(
            DurationVectorData(
                name="duration",
                data=(table[end_column] - table[time_column]).to_numpy(np.float64),
                description=f"{end_column} - {time_column} (s)",
            )
        )
    columns += table_columns(table, gzip_level, rois)
    return EventsTable(name=name, description=description, id=np.arange(len(table)), columns=columns)


def dynamic_table(
    name: str,
    table: pd.DataFrame,
    description: str,
    rois,
    gzip_level: int,
    neuron_columns: tuple[str, ...] = ("neuron",),
    ragged_neurons: dict[str, list] | None = None,
    descriptions: dict[str, str] | None = None,
    matrices: dict[str, np.ndarray] | None = None,
):
    """A tidy table as a DynamicTable with links to the ROI table `rois`.

    neuron_columns become links (DynamicTableRegion) to the ROI table.
    ragged_neurons: extra columns holding, per row, a list of neuron indices
    (e.g. an ensemble's members), also linked to the ROI table.
    descriptions: column descriptions overriding describe_column's.
    matrices: extra 2-D columns (one row of the array per table row, e.g. a similarity matrix).
    """
    from hdmf.common import DynamicTable, VectorData, VectorIndex

    columns = table_columns(table, gzip_level, rois, neuron_columns, descriptions)
    for column, lists in (ragged_neurons or {}).items():
        flat = np.concatenate([np.asarray(v, dtype=np.int64) for v in lists]) if lists else []
        if len(flat) == 0:  # every row's list is empty: NWB tools fail on an empty ragged column
            description += f" ({column}: none in any row)"
            continue
        region = roi_region(column, flat, f"{column}: rows of the ROI table", rois)
        ends = np.cumsum([len(v) for v in lists]).astype(np.int64)
        columns += [region, VectorIndex(name=f"{column}_index", data=ends, target=region)]
    for column, values in (matrices or {}).items():
        columns.append(
            VectorData(
                name=column,
                data=compressed(np.asarray(values), gzip_level),
                description=(descriptions or {}).get(column) or describe_column(column),
            )
        )
    return DynamicTable(name=name, description=description, id=np.arange(len(table)), columns=columns)


def stimulus_intervals(stimuli: pd.DataFrame, description: str):
    """Stimulus presentations as TimeIntervals "stimuli" (start_time, stop_time, stimulus).
    stimuli: columns stimulus, onset_s, offset_s on the file's clock."""
    from pynwb.epoch import TimeIntervals

    intervals = TimeIntervals(name="stimuli", description=description)
    intervals.add_column(name="stimulus", description=COLUMN_DESCRIPTIONS["stimulus"])
    for row in stimuli.itertuples():
        intervals.add_interval(
            start_time=float(row.onset_s), stop_time=float(row.offset_s), stimulus=row.stimulus
        )
    return intervals


def trial_intervals(trials: pd.DataFrame):
    """The session's trials (ingest/trials.csv: trial, start_s, stop_s, start_frame, stop_frame,
    n_frames, then the user's label columns; read as text, so labels keep what the user wrote)
    as the NWB file's TimeIntervals "trials": one row per trial in trial order (row k is trial k
    of the other tables' `trial` columns), start_time and stop_time in s on the file's clock, the
    frames, and every label column as text."""
    from pynwb.epoch import TimeIntervals

    trials = trials.iloc[np.argsort(trials["trial"].astype(int).to_numpy(), kind="stable")]
    intervals = TimeIntervals(name="trials", description="trials of the session (ingest/trials.csv)")
    frames = {
        "start_frame": "first frame of the trial",
        "stop_frame": "one past the trial's last frame",
        "n_frames": "frames of the trial",
    }
    labels = [c for c in trials.columns if c not in ("trial", "start_s", "stop_s", *frames)]
    for column, text in frames.items():
        intervals.add_column(name=column, description=text)
    for column in labels:
        intervals.add_column(name=column, description=f"{column} (from the trial table)")
    for row in trials.to_dict("records"):
        intervals.add_interval(
            start_time=float(row["start_s"]),
            stop_time=float(row["stop_s"]),
            **{column: int(row[column]) for column in frames},
            **{column: str(row[column]) for column in labels},
        )
    return intervals


def regressor_series(
    labels: list[str],
    regressors: np.ndarray,
    boxcars: np.ndarray,
    description: str,
    frame_rate_hz: float,
    start_time_s: float,
) -> list:
    """Stimulus boxcars and regressors (stimuli, frames) as TimeSeries (frames × stimuli)."""
    from pynwb import TimeSeries

    return [
        TimeSeries(
            name=name,
            data=np.ascontiguousarray(np.asarray(values, dtype=np.float32).T),
            unit="a.u.",
            resolution=-1.0,
            starting_time=start_time_s,
            rate=frame_rate_hz,
            description=f"{text}; {description}; columns: {', '.join(labels)}",
        )
        for name, values, text in (
            (
                "stimulus_boxcars",
                boxcars,
                "fraction of each frame's interval during which the stimulus is on (0-1)",
            ),
            ("stimulus_regressors", regressors, "boxcar convolved with the indicator's response kernel"),
        )
    ]

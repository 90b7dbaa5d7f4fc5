"""Stimulus tables from a recorded stimulus channel (e.g. a microscope's voltage recording):
presentations are the stretches above a threshold."""

from __future__ import annotations

import numpy as np
import pandas as pd


def read_voltage_channel(
    path, time_column: str = "Time(ms)", channel: str = "Input 1", time_unit: str = "ms"
) -> tuple[np.ndarray, np.ndarray]:
    """(sample times in s, values) of one channel of a voltage recording CSV (a time column in
    milliseconds by default, as Bruker/PrairieView's VoltageRecording writes it). Column names
    are matched with surrounding spaces removed. Raises ValueError naming the file and the
    columns it has when a column is missing."""
    table = pd.read_csv(path)
    table.columns = [c.strip() for c in table.columns]
    for column in (time_column, channel):
        if column.strip() not in table.columns:
            raise ValueError(f"{path}: no column {column!r}; columns are {list(table.columns)}")
    time_s = table[time_column.strip()].to_numpy(dtype=float) / (1000.0 if time_unit == "ms" else 1.0)
    return time_s, table[channel.strip()].to_numpy(dtype=float)


def stimulus_table_from_channel(
    time_s: np.ndarray,
    values: np.ndarray,
    threshold: float | None = None,
    label: str = "stimulus",
    min_duration_s: float = 0.0,
    merge_gap_s: float = 0.0,
) -> pd.DataFrame:
    """Stimulus presentations from a recorded trigger/voltage channel, by threshold crossings.

    time_s: sample times (s, increasing); values: the channel (e.g. volts).
    threshold: level separating off from on; default halfway between the 0.1th and
        99.9th percentiles of the channel (robust to pulses that are on for only a
        few percent of the time).
    A presentation starts at the first sample above the threshold and ends at the
    first sample back at or below it (or the last sample). Presentations separated
    by less than merge_gap_s are merged into one (trains of sync pulses); those
    shorter than min_duration_s (glitches) are then dropped.
    Returns a stimulus table: stimulus, onset_s, offset_s, duration_s.
    """
    time_s = np.asarray(time_s, dtype=float)
    values = np.asarray(values, dtype=float)
    if time_s.shape != values.shape or time_s.ndim != 1:
        raise ValueError("time_s and values must be 1-D arrays of the same length")
    if threshold is None:
        low, high = np.percentile(values, [0.1, 99.9])
        threshold = (low + high) / 2.0
    on = (values > threshold).astype(np.int8)
    edges = np.diff(np.concatenate([[0], on, [0]]))
    starts = np.flatnonzero(edges == 1)
    stops = np.flatnonzero(edges == -1)
    onset = time_s[starts]
    offset = np.where(stops < time_s.size, time_s[np.minimum(stops, time_s.size - 1)], time_s[-1])
    if merge_gap_s > 0 and onset.size > 1:
        keep = np.concatenate([[True], onset[1:] - offset[:-1] >= merge_gap_s])
        group = np.cumsum(keep) - 1
        onset = onset[keep]
        offset = np.maximum.reduceat(offset, np.flatnonzero(keep))[: group.max() + 1]
    table = pd.DataFrame(
        {"stimulus": label, "onset_s": onset, "offset_s": offset, "duration_s": offset - onset}
    )
    return table[table.duration_s >= max(min_duration_s, 0.0) + 1e-12].reset_index(drop=True)

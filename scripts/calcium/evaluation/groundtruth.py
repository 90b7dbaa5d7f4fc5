"""Reference ground truth in the CASCADE layout: recordings with simultaneous spike times.

A folder holds meta.json (with the indicator), recordings.csv (recording, frame_rate_hz)
and per recording <recording>.trace.csv (time_s, dff) and <recording>.spikes.csv
(spike_time_s), both on the file's own clock. Used by the expected-accuracy rule and the
ground-truth study (benchmarks/score_ground_truth.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from calcium.errors import InputError
from calcium.io import load_json


def groundtruth_folders(root: str | os.PathLike) -> list[tuple[Path, str]]:
    """(folder, indicator) of every CASCADE-layout ground-truth folder directly under `root`.

    A folder qualifies when it holds meta.json (with an "indicator") and
    recordings.csv. A missing `root` gives an empty list (callers say so plainly).
    """
    root = Path(root)
    if not root.is_dir():
        return []
    found = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        meta, index = folder / "meta.json", folder / "recordings.csv"
        if not (meta.is_file() and index.is_file()):  # is_file: regular files only (no FIFO, device)
            continue
        try:
            indicator = str(load_json(meta).get("indicator", ""))
        except (OSError, ValueError):
            continue
        if indicator:
            found.append((folder, indicator))
    return found


def read_groundtruth_table(path: Path) -> pd.DataFrame:
    """A ground-truth table: a regular file (no FIFO or device) of at most MAX_TABLE_BYTES."""
    from calcium.input.tables import MAX_TABLE_BYTES, check_regular_file

    check_regular_file(path, "ground-truth table")
    if path.stat().st_size > MAX_TABLE_BYTES:
        raise InputError(f"{path}: the ground-truth table is larger than {MAX_TABLE_BYTES >> 20} MiB.")
    try:
        return pd.read_csv(path)
    except (ValueError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: not a readable CSV table ({error}).") from None


def read_groundtruth_recordings(folder: str | os.PathLike, names: list[str] | None = None) -> list[dict]:
    """Recordings of one CASCADE-layout folder (see `groundtruth_folders`).

    recordings.csv: columns recording, frame_rate_hz (source_file, the neuron, optional);
    <recording>.trace.csv: time_s, dff (ΔF/F as a fraction, the file's own clock);
    <recording>.spikes.csv: spike_time_s (same clock).
    names: recordings to read (default all). Returns one dict per recording: name,
    neuron, frame_rate_hz, start_time_s (time of the first frame), dff (float64
    frames), spike_times_s (float64), in the order of recordings.csv.
    """
    folder = Path(folder)
    index = read_groundtruth_table(folder / "recordings.csv")
    missing = {"recording", "frame_rate_hz"} - set(index.columns)
    if missing:
        raise InputError(f"{folder / 'recordings.csv'}: missing column(s) {sorted(missing)}")
    out = []
    for row in index.itertuples(index=False):
        if names is not None and row.recording not in names:
            continue
        trace = read_groundtruth_table(folder / f"{row.recording}.trace.csv")
        spikes = read_groundtruth_table(folder / f"{row.recording}.spikes.csv")
        if not {"time_s", "dff"} <= set(trace.columns) or "spike_time_s" not in spikes.columns:
            raise InputError(
                f"{folder}: {row.recording}.trace.csv needs columns time_s,dff and "
                f"{row.recording}.spikes.csv a column spike_time_s"
            )
        out.append(
            {
                "name": f"{folder.name}/{row.recording}",
                "neuron": f"{folder.name}/{getattr(row, 'source_file', row.recording)}",
                "frame_rate_hz": float(row.frame_rate_hz),
                "start_time_s": float(trace.time_s.iloc[0]),
                "dff": trace.dff.to_numpy(dtype=np.float64),
                "spike_times_s": spikes.spike_time_s.to_numpy(dtype=np.float64),
            }
        )
    return out

"""A session's input stored as the workflow's own files: the traces (and the neuropil of a Suite2p
folder or an NWB series with one) as float32 .npy (neurons x frames) written block by block,
the neuron table and the facts of the recording (recording.json).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from calcium.input.ingest import InputSettings, NwbSelection, checked_block, open_input
from calcium.io import npy_writer, read_npy_rows

# Neurons read, checked and written at a time.
BLOCK_NEURONS = 256


class StoredInput(NamedTuple):
    """What `store_traces` wrote: the shape, the missing samples interpolated (n_filled), one
    label per neuron, the reader's notes for the log and the layout decided (recording.json)."""

    n_neurons: int
    n_frames: int
    n_filled: int
    labels: list[str]
    notes: list[str]
    layout: dict


def store_traces(
    source: Path,
    settings: InputSettings,
    nwb: NwbSelection,
    traces_path: str | os.PathLike,
    neuropil_path: str | os.PathLike,
) -> StoredInput:
    """Read a session's fluorescence (`open_input`), check it block by block (`checked_block`:
    missing samples interpolated when input.missing_values is interpolate, else refused) and
    write it to traces_path; the neuropil rows, when the input has them, to neuropil_path (else
    an empty (0, frames) array). A plain (neurons x frames) .npy is read by offset: bounded memory.
    """
    allow_missing = settings.missing_values == "interpolate"
    by_offset = source.suffix == ".npy" and not settings.layout.one_row_per_frame
    n_filled = 0
    with open_input(source, settings, nwb) as opened:
        n_neurons, n_frames = opened.rows.shape
        # Suite2p folders and NWB series with a neuropil series: Fneu of the kept ROIs, else no rows.
        neuropil_rows = getattr(opened.rows, "neuropil_rows", None)
        if neuropil_rows is not None and neuropil_rows(slice(0, 1)) is None:
            neuropil_rows = None
        with (
            npy_writer(traces_path, (n_neurons, n_frames)) as out,
            npy_writer(neuropil_path, (n_neurons if neuropil_rows else 0, n_frames)) as neuropil,
        ):
            for first in range(0, n_neurons, BLOCK_NEURONS):
                rows = slice(first, first + BLOCK_NEURONS)
                raw = read_npy_rows(source, rows) if by_offset else opened.rows[rows]
                block, filled = checked_block(raw, first, allow_missing, str(source))
                out.append(block)
                n_filled += filled
                if neuropil_rows:
                    neuropil.append(neuropil_rows(rows))
    layout = dict(opened.layout)
    layout.setdefault("na_cells", n_filled)
    labels = opened.labels or [str(i) for i in range(n_neurons)]
    return StoredInput(n_neurons, n_frames, n_filled, labels, list(opened.notes), layout)


def neuron_table(labels: list[str]) -> pd.DataFrame:
    """The neuron table: neuron (row in the workflow's arrays), label (the input's name for it)."""
    return pd.DataFrame({"neuron": range(len(labels)), "label": labels})


def recording_facts(
    session: str,
    source: Path,
    input_kind: str,
    stored: StoredInput,
    frame_rate_hz: float,
    start_time_s: float,
) -> dict:
    """The facts every later rule reads (recording.json): shape, frame rate, start and duration
    in s, missing samples interpolated (nan_count) and the layout decided."""
    return {
        "session": session,
        "source": str(source),
        "input_kind": input_kind,
        "n_neurons": stored.n_neurons,
        "n_frames": stored.n_frames,
        "frame_rate_hz": frame_rate_hz,
        "start_time_s": start_time_s,
        "duration_s": stored.n_frames / frame_rate_hz,
        "nan_count": stored.n_filled,
        "layout": stored.layout,
    }

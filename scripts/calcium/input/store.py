"""A session's input stored as the workflow's own files: the traces (and the neuropil of a Suite2p
folder or an NWB series with one) as float32 .npy (neurons x frames) written block by block,
the neuron table and the facts of the recording (recording.json). A session given as several
files (its trials, `calcium.input.trial_structure`) is stored as one recording, back to back.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from calcium.errors import InputError
from calcium.input.ingest import InputSettings, InputShape, NwbSelection, checked_block, open_input
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
    frames_per_file: tuple = ()


def combined_shape(shapes: list[InputShape], sources: list[Path]) -> InputShape:
    """The shape of a session's files read back to back (one file: its own shape); files with
    another number of neurons than the first are refused."""
    for shape, path in zip(shapes[1:], sources[1:], strict=True):
        if shape.n_neurons != shapes[0].n_neurons:
            raise InputError(
                f"{path}: {shape.n_neurons} neurons, but {sources[0]} (the session's first file) has "
                f"{shapes[0].n_neurons}; the files of one session hold the same neurons in the same order."
            )
    if len(shapes) == 1:
        return shapes[0]
    return InputShape(shapes[0].n_neurons, sum(shape.n_frames for shape in shapes))


def store_traces(
    source: Path | list[Path],
    settings: InputSettings,
    nwb: NwbSelection,
    traces_path: str | os.PathLike,
    neuropil_path: str | os.PathLike,
) -> StoredInput:
    """Read a session's fluorescence (`open_input`), check it block by block (`checked_block`:
    missing samples interpolated when input.missing_values is interpolate, else refused) and
    write it to traces_path; the neuropil rows, when the input has them, to neuropil_path (else
    an empty (0, frames) array). A plain (neurons x frames) .npy is read by offset: bounded memory.
    source: one input, or a list of inputs of the same neurons (same labels, if they have
    labels), written back to back (each one trial); the neuropil then only if all have one.
    """
    sources = [Path(path) for path in source] if isinstance(source, list | tuple) else [Path(source)]
    allow_missing = settings.missing_values == "interpolate"
    n_filled = 0
    with contextlib.ExitStack() as stack:
        inputs = [stack.enter_context(open_input(path, settings, nwb)) for path in sources]
        opened = inputs[0]
        n_neurons = opened.rows.shape[0]
        frames = tuple(int(each.rows.shape[1]) for each in inputs)
        for each, path in zip(inputs[1:], sources[1:], strict=True):
            if (
                each.labels is not None
                and opened.labels is not None
                and list(each.labels) != list(opened.labels)
            ):
                raise InputError(
                    f"{path}: its neuron labels differ from those of {sources[0]} (the session's first "
                    "file); the files of one session hold the same neurons in the same order."
                )
        # Suite2p folders and NWB series with a neuropil series: Fneu of the kept ROIs, else no rows.
        neuropils = [getattr(each.rows, "neuropil_rows", None) for each in inputs]
        neuropils = [
            rows if rows is not None and rows(slice(0, 1)) is not None else None for rows in neuropils
        ]
        neuropil_rows = neuropils if all(rows is not None for rows in neuropils) else None
        with (
            npy_writer(traces_path, (n_neurons, sum(frames))) as out,
            npy_writer(neuropil_path, (n_neurons if neuropil_rows else 0, sum(frames))) as neuropil,
        ):
            for first in range(0, n_neurons, BLOCK_NEURONS):
                rows = slice(first, first + BLOCK_NEURONS)
                parts = []
                for each, path in zip(inputs, sources, strict=True):
                    by_offset = path.suffix == ".npy" and not settings.layout.one_row_per_frame
                    raw = read_npy_rows(path, rows) if by_offset else each.rows[rows]
                    block, filled = checked_block(raw, first, allow_missing, str(path))
                    parts.append(block)
                    n_filled += filled
                out.append(parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1))
                if neuropil_rows:
                    blocks = [rows_of(rows) for rows_of in neuropil_rows]
                    neuropil.append(blocks[0] if len(blocks) == 1 else np.concatenate(blocks, axis=1))
    layout = dict(opened.layout)
    layout.setdefault("na_cells", n_filled)
    labels = opened.labels or [str(i) for i in range(n_neurons)]
    notes = [note for each in inputs for note in each.notes]
    return StoredInput(n_neurons, sum(frames), n_filled, labels, notes, layout, frames)


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

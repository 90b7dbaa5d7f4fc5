"""Small user tables read before any job: session sheets, stimulus tables, ground truth.

Every problem is an :class:`calcium.errors.InputError` naming the file, the line
(counted from 1, the header being line 1) and the column, and saying what would
fix it.
"""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import numpy as np
import pandas as pd

from calcium.errors import InputError

# The largest user table read (session sheet, stimulus table, ground truth): far above any real one
# (a million spike times are some 20 MB), far below what would exhaust memory.
MAX_TABLE_BYTES = 256 << 20


def check_regular_file(path: str | os.PathLike, what: str) -> None:
    """Refuse a path that is not a regular file (a FIFO would block a reader forever, a device
    such as /dev/zero would be read until memory runs out), without opening it."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except OSError as error:
        raise InputError(f"{path}: the {what} cannot be read ({error.strerror or error}).") from None
    if stat.S_ISDIR(mode):
        raise InputError(f"{path}: the {what} must be a file, but this is a folder.")
    if not stat.S_ISREG(mode):
        kind = "a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "a device or socket"
        raise InputError(f"{path}: the {what} is {kind}, not a regular file; give a file saved on disk.")


def read_user_table(path: str | os.PathLike, what: str, sep: str = ",") -> pd.DataFrame:
    """Read a small delimited text table as strings (cells stripped, no NA guessing).

    what: what the file is, for messages (e.g. "stimulus table").
    Refuses a missing path, a folder, an empty or binary file, and a file whose
    first line uses another delimiter than `sep`; lines starting with '#' are
    comments.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: the {what} does not exist.")
    check_regular_file(path, what)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_TABLE_BYTES + 1)
    except OSError as error:
        raise InputError(f"{path}: the {what} cannot be read ({error.strerror or error}).") from None
    if len(raw) > MAX_TABLE_BYTES:
        raise InputError(
            f"{path}: the {what} is larger than {MAX_TABLE_BYTES >> 20} MiB; a table of this kind is far "
            "smaller (is it the right file?)."
        )
    if not raw.strip():
        raise InputError(f"{path}: the {what} is empty; it needs a header line and one line per row.")
    if b"\x00" in raw[:65536]:
        raise InputError(f"{path}: the {what} holds binary content; it must be a text table.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(
            f"{path}: byte {error.start + 1} of the {what} is not UTF-8 text; save it as UTF-8."
        ) from None
    header = next((line for line in text.splitlines() if line.strip() and not line.startswith("#")), "")
    other = {",": ("\t", "tabs"), "\t": (",", "commas")}.get(sep)
    expected = "tabs" if sep == "\t" else "commas"
    if sep not in header:
        for candidate, name in [other, (";", "semicolons")] if other else [(";", "semicolons")]:
            if candidate in header:
                raise InputError(
                    f"{path}: line 1 of the {what} separates its columns with {name}; this file must "
                    f"use {expected}"
                    + (
                        " (a .tsv/.txt sheet uses tabs, any other name commas)."
                        if what == "session sheet"
                        else "."
                    )
                )
    try:
        table = pd.read_csv(
            io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, comment="#", skip_blank_lines=True
        )
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: the {what} has no header line.") from None
    except pd.errors.ParserError as error:
        raise InputError(f"{path}: the {what} is not a well-formed table ({error}).") from None
    table.columns = [str(c).strip() for c in table.columns]
    return table.apply(lambda column: column.str.strip())


def numeric_column(table: pd.DataFrame, column: str, source: str, what: str = "number") -> np.ndarray:
    """A column as float64, refusing cells that are not finite numbers (naming the line)."""
    values = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise InputError(
            f"{source}: line {bad[0] + 2}, column {column}: {table[column].iloc[bad[0]]!r} is not a "
            f"finite {what}."
        )
    return values


# Ground truth larger than any recording could hold (a neuron fires at most ~1 kHz; 1e7 spikes are
# 80 MB of times): counts beyond are typing errors, and 1e12 or 1e30 would exhaust memory.
MAX_SPIKES_PER_ROW = 1000
MAX_SPIKES = 10_000_000
MAX_NEURON_ID = 2**31 - 1
# Stimulus labels longer than this are not labels (they become figure legends and NWB names).
MAX_LABEL_CHARS = 200


def parse_ground_truth(
    table: pd.DataFrame, source: str, n_neurons: int | None = None
) -> dict[int, np.ndarray]:
    """Ground-truth spike times per neuron id from a table of strings.

    Layouts: columns neuron,time_s (optionally n_spikes: several spikes at one
    time), or a single column spike_time_s for a one-neuron session (neuron 0).
    Times are seconds on the session's clock. n_neurons: if given, neuron ids must
    lie in 0..n_neurons-1. Returns {neuron id: sorted float64 times}.
    """
    columns = set(table.columns)
    if "spike_time_s" in columns and "neuron" not in columns:
        table = pd.DataFrame({"neuron": "0", "time_s": table["spike_time_s"]})
        columns = {"neuron", "time_s"}
    if not {"neuron", "time_s"} <= columns:
        raise InputError(
            f"{source}: ground truth needs columns neuron,time_s (or spike_time_s for one neuron); "
            f"found {sorted(columns)}."
        )
    times = numeric_column(table, "time_s", source, "time in seconds")
    neurons = numeric_column(table, "neuron", source, "neuron id")
    bad = np.flatnonzero((neurons != np.round(neurons)) | (neurons < 0))
    if bad.size:
        raise InputError(
            f"{source}: line {bad[0] + 2}, column neuron: {table['neuron'].iloc[bad[0]]!r} is not a neuron "
            "id (ids count from 0, as in the output tables)."
        )
    if n_neurons is not None:
        outside = np.flatnonzero(neurons >= n_neurons)
        if outside.size:
            raise InputError(
                f"{source}: line {outside[0] + 2}: neuron id {int(neurons[outside[0]])}, but the session has "
                f"{n_neurons} neuron(s) (ids 0..{n_neurons - 1}, counted from 0)."
            )
    too_large = np.flatnonzero(neurons > MAX_NEURON_ID)
    if too_large.size:
        raise InputError(
            f"{source}: line {too_large[0] + 2}, column neuron: {table['neuron'].iloc[too_large[0]]!r} is "
            f"not a neuron id of any recording (at most {MAX_NEURON_ID})."
        )
    counts = np.ones(len(table), dtype=np.int64)
    if "n_spikes" in columns:
        counts_float = numeric_column(table, "n_spikes", source, "spike count")
        bad = np.flatnonzero((counts_float != np.round(counts_float)) | (counts_float < 0))
        if bad.size:
            raise InputError(
                f"{source}: line {bad[0] + 2}, column n_spikes: {table['n_spikes'].iloc[bad[0]]!r} is not "
                "a whole number of spikes."
            )
        bad = np.flatnonzero(counts_float > MAX_SPIKES_PER_ROW)
        if bad.size:
            raise InputError(
                f"{source}: line {bad[0] + 2}, column n_spikes: {table['n_spikes'].iloc[bad[0]]} spikes "
                f"at one time; more than {MAX_SPIKES_PER_ROW} is beyond any neuron (give one line per "
                "spike time, or check the column)."
            )
        if counts_float.sum() > MAX_SPIKES:
            raise InputError(
                f"{source}: column n_spikes adds up to {counts_float.sum():.4g} spikes, more than the "
                f"{MAX_SPIKES:.0e} ground truth is read for; check the column."
            )
        counts = counts_float.astype(np.int64)
    ids = np.repeat(neurons.astype(np.int64), counts)
    all_times = np.repeat(times, counts)
    order = np.lexsort((all_times, ids))
    ids, all_times = ids[order], all_times[order]
    bounds = np.flatnonzero(np.diff(ids)) + 1
    return {
        int(group[0]): chunk
        for group, chunk in zip(np.split(ids, bounds), np.split(all_times, bounds), strict=True)
        if group.size
    }


STIMULUS_COLUMNS = {"stimulus", "onset_s", "offset_s", "duration_s"}


def parse_stimulus_table(
    table: pd.DataFrame, source: str, duration_s: float, start_time_s: float = 0.0
) -> pd.DataFrame:
    """Check a stimulus table and return it with columns stimulus, onset_s, offset_s, duration_s.

    table: strings, columns `stimulus` (label), `onset_s` and `offset_s` or
        `duration_s`, times in seconds on the session's clock (the recording spans
        [start_time_s, start_time_s + duration_s); start_time_s is 0 unless the
        fluorescence input carries time stamps).
    Raises InputError naming the file, the line and what to fix for unknown or
    missing columns, non-numeric or infinite times, zero or negative durations, or
    onsets outside the recording. Offsets past the end are clipped to the end.
    """
    unknown = set(table.columns) - STIMULUS_COLUMNS
    if unknown:
        raise InputError(
            f"{source}: unknown column(s) {sorted(unknown)}; a stimulus table has columns "
            "stimulus, onset_s and offset_s or duration_s."
        )
    columns = set(table.columns)
    if "stimulus" not in columns or "onset_s" not in columns or not ({"offset_s", "duration_s"} & columns):
        raise InputError(f"{source}: needs columns stimulus, onset_s and offset_s or duration_s.")
    if table.empty:
        raise InputError(
            f"{source}: the stimulus table has no rows; empty the sheet's stimuli column instead."
        )
    out = pd.DataFrame({"stimulus": table["stimulus"].astype(str).str.strip()})
    for column in ("onset_s", "offset_s", "duration_s"):
        if column in columns:
            out[column] = numeric_column(table, column, source, "number of seconds")
    if "offset_s" not in out:
        out["offset_s"] = out.onset_s + out.duration_s
    if "duration_s" not in out:
        out["duration_s"] = out.offset_s - out.onset_s
    elif "offset_s" in columns and not np.allclose(out.offset_s - out.onset_s, out.duration_s, atol=1e-6):
        raise InputError(f"{source}: offset_s - onset_s differs from duration_s; give one of the two.")
    end_s = start_time_s + duration_s
    from calcium.input.csv_text import NA_TOKENS

    for i, row in enumerate(out.itertuples(), start=2):
        if row.stimulus == "":
            raise InputError(f"{source}: line {i}: the stimulus label is empty.")
        if row.stimulus in NA_TOKENS or row.stimulus.lower() in ("nan", "none", "null", "na"):
            raise InputError(
                f"{source}: line {i}: the stimulus label {row.stimulus!r} reads as a missing value in pandas "
                "and R (and would be lost in the tables and NWB file); name the stimulus, e.g. 'blank'."
            )
        if len(row.stimulus) > MAX_LABEL_CHARS or not row.stimulus.isprintable():
            raise InputError(
                f"{source}: line {i}: the stimulus label is longer than {MAX_LABEL_CHARS} characters or "
                "holds control characters; use a short name."
            )
        if row.duration_s <= 0:
            raise InputError(
                f"{source}: line {i}: stimulus {row.stimulus!r} has a duration of {row.duration_s} s; "
                "it must be positive (offset after onset)."
            )
        if row.onset_s < start_time_s or row.onset_s >= end_s:
            raise InputError(
                f"{source}: line {i}: onset {row.onset_s} s is outside the recording "
                f"({start_time_s:g} to {end_s:g} s); times are seconds on the recording's clock "
                "(from its first frame, unless the fluorescence file carries time stamps)."
            )
    repeated = out.duplicated(["stimulus", "onset_s", "offset_s"], keep=False).to_numpy()
    if repeated.any():
        lines = np.flatnonzero(repeated)[:2] + 2
        raise InputError(
            f"{source}: lines {lines[0]} and {lines[1]} give the same stimulus at the same time "
            f"({out.stimulus.iloc[lines[0] - 2]!r} at {out.onset_s.iloc[lines[0] - 2]:g} s); remove the "
            "duplicate line (a presentation counted twice would bias the stimulus-locked averages)."
        )
    out["offset_s"] = np.minimum(out.offset_s, end_s)
    out["duration_s"] = out.offset_s - out.onset_s
    return out[["stimulus", "onset_s", "offset_s", "duration_s"]].reset_index(drop=True)

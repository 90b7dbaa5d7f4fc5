"""The session sheet and the files each session points to, checked before any job runs.

`read_session_sheet` parses and validates the sheet itself; `check_session`
opens what one row points to (the fluorescence input's shape and clock, the
stimulus table, the ground truth) cheaply and refuses anything that would fail
later. Errors are :class:`calcium.errors.InputError` naming the sheet (or file),
the line and the column.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from .errors import InputError, OutputError
from .ingest import InputSettings, check_plausible_shape, probe_input, recording_start_s
from .input_tables import parse_ground_truth, parse_stimulus_table, read_user_table

OPTIONAL_COLUMNS = ("stimuli", "ground_truth")


def schema_errors(instance: dict, schema: dict) -> list[str]:
    """One line per violation of a JSON schema: the key path, what is wrong, and the key's description."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    lines = []
    for error in sorted(validator.iter_errors(instance), key=lambda e: [str(p) for p in e.path]):
        where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        hint = error.schema.get("description", "") if isinstance(error.schema, dict) else ""
        lines.append(f"  {where}: {error.message}" + (f" ({hint})" if hint and error.absolute_path else ""))
    return lines


def read_session_sheet(path: str | os.PathLike, schema: dict) -> pd.DataFrame:
    """Read and validate a session sheet (TSV if the name ends in .tsv/.txt, else CSV).

    schema: the JSON schema of one row (workflow/schemas/sessions.schema.yaml);
    its properties are the allowed columns. Checks: required and unknown columns,
    frame rates that are finite numbers > 0, every row against the schema, unique
    session ids. Returns the sheet indexed by session, optional columns filled
    with "" and frame_rate_hz as float.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(
            f"config key `sessions`: the session sheet {path} does not exist; point it to a "
            "TSV/CSV with columns session, path, frame_rate_hz, indicator, input_kind."
        )
    sep = "\t" if path.suffix in (".tsv", ".txt") else ","
    sheet = read_user_table(path, "session sheet", sep)
    allowed = list(schema["properties"])
    missing = [c for c in schema.get("required", []) if c not in sheet.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {missing}; a session sheet has columns {allowed}.")
    unknown = [c for c in sheet.columns if c not in allowed]
    if unknown:
        raise InputError(f"{path}: unknown column(s) {unknown}; a session sheet has columns {allowed}.")
    if sheet.empty:
        raise InputError(f"{path}: the session sheet lists no sessions.")
    for optional in allowed:
        if optional not in sheet.columns and optional not in schema.get("required", []):
            sheet[optional] = ""
    rates = []
    for line, value in enumerate(sheet["frame_rate_hz"], start=2):
        try:
            rate = float(value)
        except ValueError:
            raise InputError(
                f"{path}: line {line}, column frame_rate_hz: {value!r} is not a number; give the "
                "imaging rate in Hz."
            ) from None
        if not math.isfinite(rate) or rate <= 0:
            raise InputError(
                f"{path}: line {line}, column frame_rate_hz: {value!r} is not a finite rate > 0 Hz."
            )
        rates.append(rate)
    sheet["frame_rate_hz"] = rates
    for line, record in enumerate(sheet.to_dict("records"), start=2):
        errors = schema_errors(record, schema)
        if errors:
            raise InputError(
                f"{path}: line {line} does not match workflow/schemas/sessions.schema.yaml:\n"
                + "\n".join(errors)
            )
    duplicated = sheet.session[sheet.session.duplicated()].tolist()
    if duplicated:
        raise InputError(f"{path}: session ids must be unique; repeated: {duplicated}")
    return sheet.set_index("session", drop=False)


def check_writable(folder: str | os.PathLike) -> None:
    """Refuse an output folder that cannot be created or written to (checked at its nearest parent)."""
    target = Path(folder).resolve()
    existing = next(p for p in [target, *target.parents] if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(
            f"{existing}: no permission to write here, so {folder}/ cannot be created or updated; run the "
            "workflow in a folder you can write to, or fix the folder's permissions."
        )


class SessionInputs(NamedTuple):
    """What a session's input holds, known before any job: shape and clock."""

    n_neurons: int
    n_frames: int
    frame_rate_hz: float
    start_time_s: float

    @property
    def duration_s(self) -> float:
        return self.n_frames / self.frame_rate_hz


def check_session(row: dict, settings: InputSettings, sheet_path: str | os.PathLike) -> SessionInputs:
    """Open the files a sheet row points to (cheaply) and refuse what cannot work.

    row: one sheet row (session, path, frame_rate_hz, ..., stimuli, ground_truth).
    Checks that the fluorescence input exists and is readable, its shape is
    plausible (see `calcium.ingest.check_plausible_shape`) and its time stamps (if
    any) agree with the frame rate; that the stimulus table and ground truth (if
    given) are files with valid headers and values on the recording's clock.
    """
    where = f"{sheet_path}: session {row['session']}"
    data = Path(row["path"])
    if not data.exists():
        raise InputError(
            f"{where}: the fluorescence input {data} does not exist; fix the `path` column "
            "(relative to the working directory)."
        )
    if data.is_file() and data.stat().st_size == 0:
        raise InputError(f"{where}: the fluorescence file {data} is empty.")
    shape = probe_input(data, settings)
    rate = float(row["frame_rate_hz"])
    start_s = recording_start_s(shape, rate, str(data))
    check_plausible_shape(shape, rate, settings, str(data))
    inputs = SessionInputs(shape.n_neurons, shape.n_frames, rate, start_s)
    if row.get("stimuli"):
        table = read_user_table(row["stimuli"], "stimulus table")
        parse_stimulus_table(table, str(row["stimuli"]), inputs.duration_s, start_s)
    if row.get("ground_truth"):
        table = read_user_table(row["ground_truth"], "ground-truth file")
        parse_ground_truth(table, str(row["ground_truth"]), shape.n_neurons)
    return inputs

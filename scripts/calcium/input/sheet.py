"""The session sheet and the files each session points to, checked before any job runs.

`read_session_sheet` parses and validates the sheet itself; `check_session`
opens what one row points to (the fluorescence input's shape and clock, the
stimulus table, the ground truth) cheaply and refuses anything that would fail
later. Errors are :class:`calcium.errors.InputError` naming the sheet (or file),
the line and the column.
"""

from __future__ import annotations

import copy
import math
import os
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from calcium.errors import InputError, OutputError
from calcium.input.ingest import (
    InputSettings,
    InputShape,
    NwbSelection,
    check_plausible_shape,
    input_format,
    probe_input,
    recording_start_s,
)
from calcium.input.tables import parse_ground_truth, parse_stimulus_table, read_user_table
from calcium.input.trial_structure import MIN_TRIAL_FRAMES, parse_file_labels, parse_trial_table, split_paths

# Sheet columns that say what to read from an NWB file (only on NWB sessions).
NWB_INPUT_COLUMNS = ("nwb_series", "nwb_neuropil_series", "nwb_stimulus_intervals")
# A sheet's frame rate may differ from an NWB file's by this fraction (rounding of a written rate).
NWB_RATE_TOLERANCE = 1e-3


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


def fill_defaults(instance: dict, schema: dict) -> dict:
    """Set every key the schema gives a default and `instance` leaves out, recursively (in place).

    A section missing from the config is created from its default ({}), then filled.
    """
    for key, spec in schema.get("properties", {}).items():
        if key not in instance and "default" in spec:
            instance[key] = copy.deepcopy(spec["default"])
        if isinstance(instance.get(key), dict) and spec.get("type") == "object":
            fill_defaults(instance[key], spec)
    return instance


def read_session_sheet(path: str | os.PathLike, schema: dict, extra_columns=()) -> pd.DataFrame:
    """Read and validate a session sheet (TSV if the name ends in .tsv/.txt, else CSV).

    schema: the JSON schema of one row (workflow/schemas/sessions.schema.yaml);
    its properties are the allowed columns. Checks: required and unknown columns,
    frame rates that are finite numbers > 0, every row against the schema, unique
    session ids. Returns the sheet indexed by session, optional columns filled
    with "" and frame_rate_hz as float. extra_columns: more allowed columns (the study's
    grouping columns, config study.group_by), kept as text.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(
            f"config key `sessions`: the session sheet {path} does not exist; point it to a "
            "TSV/CSV with columns session, path, frame_rate_hz, indicator, input_kind."
        )
    sep = "\t" if path.suffix in (".tsv", ".txt") else ","
    sheet = read_user_table(path, "session sheet", sep)
    allowed = list(schema["properties"]) + [c for c in extra_columns if c not in schema["properties"]]
    missing = [c for c in schema.get("required", []) if c not in sheet.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {missing}; a session sheet has columns {allowed}.")
    unknown = [c for c in sheet.columns if c not in allowed]
    if unknown:
        raise InputError(
            f"{path}: unknown column(s) {unknown}; a session sheet has columns {allowed} (name more "
            "grouping columns in config study.group_by)."
        )
    if sheet.empty:
        raise InputError(f"{path}: the session sheet lists no sessions.")
    for optional in schema["properties"]:  # not the extra columns: the study checks those are given
        if optional not in sheet.columns and optional not in schema.get("required", []):
            sheet[optional] = ""
    rates = []
    for line, (value, data) in enumerate(zip(sheet["frame_rate_hz"], sheet["path"], strict=True), start=2):
        if value == "" and input_format(data) == "nwb":
            rates.append(math.nan)  # taken from the NWB file by `check_session` / `nwb_frame_rates`
            continue
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
    _check_nwb_columns(sheet, path)
    return sheet.set_index("session", drop=False)


def _check_nwb_columns(sheet: pd.DataFrame, path: Path) -> None:
    """NWB columns only on NWB sessions, one stimulus source per session, start times with a zone."""
    for line, row in enumerate(sheet.to_dict("records"), start=2):
        where = f"{path}: line {line}: session {row['session']}"
        named = [c for c in NWB_INPUT_COLUMNS if row.get(c)]
        if named and input_format(row["path"]) != "nwb":
            raise InputError(f"{where}: {', '.join(named)} given but {row['path']!r} is not an .nwb file.")
        if row.get("stimuli") and row.get("nwb_stimulus_intervals"):
            raise InputError(
                f"{where}: give the stimulus table either as `stimuli` or as `nwb_stimulus_intervals`."
            )
        if row.get("session_start_time"):
            from calcium.input.nwb_tables import parse_start_time

            try:
                parse_start_time(row["session_start_time"], "session_start_time")
            except InputError as error:
                raise InputError(f"{where}: {error}") from None


def nwb_selection(row: dict) -> NwbSelection:
    """What a sheet row asks to read from its NWB file."""
    return NwbSelection(
        row.get("nwb_series", ""), row.get("nwb_neuropil_series", ""), row.get("input_kind", "raw")
    )


def nwb_frame_rates(sheet: pd.DataFrame, settings: InputSettings) -> None:
    """Fill in, from the files, the frame rates that NWB sessions leave empty (in place)."""
    for session, row in sheet.iterrows():
        if math.isnan(row["frame_rate_hz"]):
            shape = probe_input(row["path"], settings, nwb_selection(row.to_dict()))
            sheet.loc[session, "frame_rate_hz"] = shape.frame_rate_hz


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


def session_place(sheet_path: str | os.PathLike, line: int | None, session: str) -> str:
    """How messages name a sheet row: "<sheet>: line <n>: session <id>"."""
    return f"{sheet_path}: " + (f"line {line}: " if line else "") + f"session {session}"


def check_session(
    row: dict, settings: InputSettings, sheet_path: str | os.PathLike, line: int | None = None
) -> SessionInputs:
    """Open the files a sheet row points to (cheaply) and refuse what cannot work.

    row: one sheet row (session, path, frame_rate_hz, ..., stimuli, ground_truth);
    line: its line in the sheet (for messages).
    Checks that the fluorescence input exists and is readable, its shape is
    plausible (see `calcium.input.ingest.check_plausible_shape`) and its time stamps or
    NWB rate agree with the sheet's frame rate; that the stimulus table (or NWB
    intervals) and ground truth, if given, have valid headers and values on the
    recording's clock. Every message starts with the sheet, line and session.
    """
    try:
        return _check_session(row, settings)
    except InputError as error:
        raise InputError(f"{session_place(sheet_path, line, row['session'])}: {error}") from None


def _check_session(row: dict, settings: InputSettings) -> SessionInputs:
    paths = split_paths(row["path"])
    if len(paths) > 1:
        inputs = _check_files(paths, row, settings)
    else:
        inputs = _check_one_file(row, settings)
    if row.get("trials"):
        table = read_user_table(row["trials"], "trial table")
        if len(paths) > 1:  # the files are the trials: the table only labels them
            parse_file_labels(table, str(row["trials"]), len(paths))
        else:
            parse_trial_table(
                table, str(row["trials"]), inputs.duration_s, inputs.start_time_s, inputs.frame_rate_hz
            )
    return inputs


def _check_files(paths: list[str], row: dict, settings: InputSettings) -> SessionInputs:
    """A session given as several files, each one trial (back to back): CSV, .npy or Suite2p
    folders of the same neurons at the sheet's rate."""
    rate = float(row["frame_rate_hz"])
    shapes = []
    for path in paths:
        data = Path(path)
        if not data.exists():
            raise InputError(
                f"the fluorescence input {data} (one of the files in the path column, separated by ';') "
                "does not exist; fix the `path` column (relative to the working directory)."
            )
        if input_format(data) == "nwb":
            raise InputError(
                f"{data}: an NWB file among several files; a session of several files takes CSV, .npy "
                "or Suite2p folders (give an NWB session as one file with a trial table)."
            )
        if data.is_file() and data.stat().st_size == 0:
            raise InputError(f"the fluorescence file {data} is empty.")
        shape = probe_input(data, settings, nwb_selection(row))
        recording_start_s(shape, rate, str(data))
        if shapes and shape.n_neurons != shapes[0].n_neurons:
            raise InputError(
                f"{data}: {shape.n_neurons} neurons, but {paths[0]} (the session's first file) has "
                f"{shapes[0].n_neurons}; the files of one session must hold the same neurons in the "
                "same order."
            )
        if shape.n_frames < MIN_TRIAL_FRAMES:
            raise InputError(
                f"{data}: {shape.n_frames} frames; a trial needs at least {MIN_TRIAL_FRAMES} frames."
            )
        shapes.append(shape)
    start_s = recording_start_s(shapes[0], rate, paths[0])
    n_frames = sum(shape.n_frames for shape in shapes)
    check_plausible_shape(InputShape(shapes[0].n_neurons, n_frames), rate, settings, paths[0])
    inputs = SessionInputs(shapes[0].n_neurons, n_frames, rate, start_s)
    _check_tables(row, inputs, Path(paths[0]))
    return inputs


def _check_one_file(row: dict, settings: InputSettings) -> SessionInputs:
    data = Path(row["path"])
    if not data.exists():
        raise InputError(
            f"the fluorescence input {data} does not exist; fix the `path` column (relative to the "
            "working directory)."
        )
    if data.is_file() and data.stat().st_size == 0:
        raise InputError(f"the fluorescence file {data} is empty.")
    shape = probe_input(data, settings, nwb_selection(row))
    rate = float(row["frame_rate_hz"])
    if shape.frame_rate_hz is not None:  # an NWB series carries its rate
        if (
            not math.isnan(rate)
            and abs(rate - shape.frame_rate_hz) > NWB_RATE_TOLERANCE * shape.frame_rate_hz
        ):
            raise InputError(
                f"{data}: its series is sampled at {shape.frame_rate_hz:.6g} Hz but the sheet's "
                f"frame_rate_hz says {rate:g}; empty the sheet's frame_rate_hz (the file's rate is used) "
                "or fix it."
            )
        rate = shape.frame_rate_hz
    start_s = recording_start_s(shape, rate, str(data))
    check_plausible_shape(shape, rate, settings, str(data))
    inputs = SessionInputs(shape.n_neurons, shape.n_frames, rate, start_s)
    _check_tables(row, inputs, data)
    return inputs


def _check_tables(row: dict, inputs: SessionInputs, data: Path) -> None:
    """The stimulus table (or NWB intervals) and ground truth a row names, on the recording's clock."""
    start_s = inputs.start_time_s
    if row.get("stimuli"):
        table = read_user_table(row["stimuli"], "stimulus table")
        parse_stimulus_table(table, str(row["stimuli"]), inputs.duration_s, start_s)
    if row.get("nwb_stimulus_intervals"):
        from calcium.input.nwb_tables import read_stimulus_intervals

        table = read_stimulus_intervals(data, row["nwb_stimulus_intervals"]).astype(str)
        parse_stimulus_table(table, f"{data}: {row['nwb_stimulus_intervals']}", inputs.duration_s, start_s)
    if row.get("ground_truth"):
        table = read_user_table(row["ground_truth"], "ground-truth file")
        parse_ground_truth(table, str(row["ground_truth"]), inputs.n_neurons)

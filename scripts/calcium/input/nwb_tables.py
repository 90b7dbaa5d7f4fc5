"""NWB tables beside the traces: stimulus intervals (TimeIntervals), the session metadata carried
over into the workflow's NWB output, and session start times.

Stimulus intervals keep their times on the file's clock (seconds since ``session_start_time``).
Errors are :class:`calcium.errors.InputError` and name the file and the table.
"""

from __future__ import annotations

import math
import os
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from calcium.errors import InputError
from calcium.input.nwb_series import find_series, open_nwb, resolve

# Columns that may hold a stimulus label in an intervals table, in order of preference.
LABEL_COLUMNS = ("stimulus", "stimulus_name", "stimulus_type", "label", "condition", "name")
# Placeholder start of a session whose date is unknown (nwbinspector flags it as a suggestion).
UNKNOWN_START = datetime(1970, 1, 1, tzinfo=UTC)


def _parse_intervals_spec(spec: str) -> tuple[str, str | None]:
    name, _, column = spec.strip().partition(":")
    name = name.strip().strip("/")
    if not name.startswith("intervals/"):
        name = f"intervals/{name}"
    return name, (column.strip() or None)


def read_intervals(nwbfile, path: Path, spec: str) -> pd.DataFrame:
    from pynwb.epoch import TimeIntervals

    name, label_column = _parse_intervals_spec(spec)
    table = resolve(nwbfile, name)
    if not isinstance(table, TimeIntervals):
        available = ", ".join(f"intervals/{k}" for k in (nwbfile.intervals or {})) or "none"
        raise InputError(
            f"{path}: stimulus intervals {name!r} not found (intervals in the file: {available}); fix "
            "the sheet's `nwb_stimulus_intervals` column."
        )
    if len(table) == 0:
        raise InputError(f"{path}: {name} holds no intervals; empty `nwb_stimulus_intervals`.")
    if label_column is None:
        label_column = next((c for c in LABEL_COLUMNS if c in table.colnames), None)
    elif label_column not in table.colnames:
        raise InputError(
            f"{path}: {name} has no column {label_column!r} (columns: {', '.join(table.colnames)}); fix "
            "the part after ':' in `nwb_stimulus_intervals`."
        )
    onsets = np.asarray(table["start_time"].data[:], dtype=np.float64)
    offsets = np.asarray(table["stop_time"].data[:], dtype=np.float64)
    if label_column is None:
        labels = [table.name] * len(onsets)
    else:
        labels = [v.decode() if isinstance(v, bytes) else str(v) for v in table[label_column].data[:]]
    return pd.DataFrame({"stimulus": labels, "onset_s": onsets, "offset_s": offsets})


def read_stimulus_intervals(path: str | os.PathLike, spec: str) -> pd.DataFrame:
    """A stimulus table from an NWB TimeIntervals table.

    spec: "intervals/<name>" (or "<name>"), optionally ":<label column>"; without a
        column, the first of LABEL_COLUMNS present labels the rows, else the
        table's name does.
    Returns columns stimulus, onset_s (start_time), offset_s (stop_time), in seconds
    on the file's clock (since session_start_time, the clock of the recording's
    start_time_s), in the file's row order. Raises InputError naming the file and table.
    """
    path = Path(path)
    with open_nwb(path, f"stimulus intervals {spec}") as nwbfile:
        return read_intervals(nwbfile, path, spec)


def read_nwb_metadata(path: str | os.PathLike, series: str | None, input_kind: str = "raw") -> dict:
    """Session metadata of an NWB input, to carry over into the workflow's NWB output.

    Returns a dict with session_start_time (datetime), subject (dict of the Subject's
    fields that are set), experimenter, institution, lab, experiment_description,
    session_description and imaging_plane (dict: indicator, location,
    excitation_lambda, emission_lambda, description, device, device_description,
    manufacturer) of the series' ROI table, when present.
    """
    path = Path(path)
    with open_nwb(path, "metadata") as nwbfile:
        found, _ = find_series(nwbfile, path, series, input_kind)
        meta: dict = {
            "session_start_time": nwbfile.session_start_time,
            "session_description": nwbfile.session_description,
            "experimenter": list(nwbfile.experimenter or []),
            "institution": nwbfile.institution,
            "lab": nwbfile.lab,
            "experiment_description": nwbfile.experiment_description,
            "subject": {},
            "imaging_plane": {},
        }
        subject = nwbfile.subject
        if subject is not None:
            for key in (
                "subject_id",
                "species",
                "sex",
                "age",
                "date_of_birth",
                "description",
                "strain",
                "genotype",
                "weight",
            ):
                value = getattr(subject, key, None)
                if value is not None:
                    meta["subject"][key] = value
        rois = getattr(found, "rois", None)
        plane = getattr(rois.table, "imaging_plane", None) if rois is not None else None
        if plane is not None:
            channel = plane.optical_channel[0] if plane.optical_channel else None
            meta["imaging_plane"] = {
                "indicator": plane.indicator,
                "location": plane.location,
                "excitation_lambda": _float_or_none(plane.excitation_lambda),
                "emission_lambda": _float_or_none(channel.emission_lambda) if channel is not None else None,
                "description": plane.description,
                "device": plane.device.name if plane.device is not None else None,
                "device_description": plane.device.description if plane.device is not None else None,
                "manufacturer": _manufacturer(plane.device),
            }
    return meta


def _manufacturer(device) -> str | None:
    """A device's manufacturer: its DeviceModel's (pynwb >= 3), else the older Device field."""
    if device is None:
        return None
    model = getattr(device, "model", None)
    if model is not None and getattr(model, "manufacturer", None):
        return model.manufacturer
    return getattr(device, "manufacturer", None)


def _float_or_none(value) -> float | None:
    """A wavelength as float, None when absent or NaN (unknown)."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def parse_start_time(text: str, where: str) -> datetime:
    """An ISO 8601 date-time with a time zone (e.g. 2024-05-01T09:30:00+02:00).

    Raises InputError naming `where` if it does not parse or has no time zone
    (NWB and DANDI require one).
    """
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            f"{where}: {text!r} is not an ISO 8601 date-time; write e.g. 2024-05-01T09:30:00+02:00."
        ) from None
    if value.tzinfo is None:
        raise InputError(
            f"{where}: {text!r} has no time zone; NWB needs one, e.g. 2024-05-01T09:30:00+02:00 or ...Z."
        )
    return value

"""NWB: what the file says about its session.

`session_metadata` gathers the session's metadata (sheet, metadata file, config, NWB input;
nothing invented) and the run's provenance (workflow version, input, parameters as JSON);
`workflow_version` is the version with the git commit of the checkout it runs from.
"""

from __future__ import annotations

import json
import math
import subprocess
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from calcium.input.nwb_tables import UNKNOWN_START, parse_start_time


@dataclass
class SessionMetadata:
    """What the NWB file says about its session (fields as in NWBFile / Subject).

    session_start_time: datetime with a time zone (UNKNOWN_START when nobody gave it:
    NWB requires a value, and start_known is then False); subject: the Subject fields
    given (subject_id, species, sex, age, date_of_birth, genotype, strain, ...), None
    when none is; imaging_plane: indicator, location, excitation_lambda and
    emission_lambda (nm), description, device, device_description, manufacturer, only
    those given. Nothing is invented: what is unknown is absent.
    """

    session_id: str
    session_description: str
    session_start_time: datetime
    subject: dict | None
    imaging_plane: dict
    experimenter: list[str] = field(default_factory=list)
    institution: str | None = None
    lab: str | None = None
    experiment_description: str | None = None
    source_script: str = ""
    data_collection: str = ""
    keywords: list[str] = field(default_factory=list)
    identifier: str = field(default_factory=lambda: str(uuid.uuid4()))
    start_known: bool = True


# Subject fields a session sheet may give (columns), overriding the metadata file and an NWB input.
SUBJECT_FIELDS = ("subject_id", "species", "sex", "age")
# Subject fields of pynwb's Subject that the output carries over.
SUBJECT_KEYS = (
    "subject_id",
    "species",
    "sex",
    "age",
    "age__reference",
    "date_of_birth",
    "genotype",
    "strain",
    "weight",
    "description",
)
# Metadata-file imaging_plane keys -> the names SessionMetadata.imaging_plane uses.
PLANE_KEYS = {
    "indicator": "indicator",
    "excitation_lambda_nm": "excitation_lambda",
    "emission_lambda_nm": "emission_lambda",
    "location": "location",
    "description": "description",
    "device": "device",
    "device_description": "device_description",
    "manufacturer": "manufacturer",
}


def _known(value) -> bool:
    """A value someone gave: not None, "", NaN or the placeholder start."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "unknown")):
        return False
    if isinstance(value, float) and math.isnan(value):
        return False
    return not (isinstance(value, datetime) and value == UNKNOWN_START)


def session_metadata(
    session: dict,
    settings: dict,
    source: dict | None,
    version: str,
    parameters: dict,
    n_neurons: int,
    frame_rate_hz: float,
    user: dict | None = None,
) -> tuple[SessionMetadata, list[str]]:
    """Metadata of a session's NWB output, and what DANDI will ask for that nobody gave.

    session: the sheet row (session, path, indicator, input_kind and the optional
        session_start_time, subject_id, species, sex, age, nwb_series).
    settings: config section `nwb` (institution, lab, experimenter, experiment_description).
    source: :func:`read_nwb_metadata` of an NWB input (None otherwise).
    user: the session's metadata file (`calcium.outputs.nwb_metadata.read_metadata_file`), if any.
    Precedence: sheet columns, then the metadata file, then the config, then the NWB input.
    version: the workflow's version; parameters: the config keys the file records (stored
    as JSON in /general/data_collection with the version and the input).
    Nothing unknown is invented: missing fields are left out; only session_start_time,
    which NWB requires, is then written as 1970-01-01T00:00:00Z with start_known False
    (and said so in the session description). The second value lists the fields of
    `calcium.outputs.nwb_metadata.DANDI_FIELDS` still missing.
    """
    from calcium.outputs.nwb_metadata import dandi_missing

    source = source or {}
    user = user or {}
    session_id = str(session["session"])
    start, start_known = UNKNOWN_START, False
    for text, where in (
        (session.get("session_start_time"), "the sheet's session_start_time"),
        (user.get("session_start_time"), "the metadata file's session_start_time"),
    ):
        if _known(text):
            start, start_known = parse_start_time(str(text), f"session {session_id}: {where}"), True
            break
    else:
        if _known(source.get("session_start_time")):
            start, start_known = source["session_start_time"], True
    subject = {k: v for k, v in source.get("subject", {}).items() if k in SUBJECT_KEYS and _known(v)}
    subject.update({k: v for k, v in user.get("subject", {}).items() if _known(v)})
    for key in SUBJECT_FIELDS:
        if _known(session.get(key)):
            subject[key] = str(session[key])
    if "date_of_birth" in subject and isinstance(subject["date_of_birth"], str):
        subject["date_of_birth"] = parse_start_time(subject["date_of_birth"], "subject.date_of_birth")
    plane = {k: v for k, v in source.get("imaging_plane", {}).items() if _known(v)}
    plane.update({PLANE_KEYS[k]: v for k, v in user.get("imaging_plane", {}).items() if _known(v)})
    if _known(session.get("indicator")) and "indicator" not in user.get("imaging_plane", {}):
        plane["indicator"] = str(session["indicator"])
    description = user.get("session_description") or source.get("session_description") or ""
    description = (description + " " if description else "") + (
        f"Analysed by the calcium-imaging workflow {version}: {n_neurons} ROIs at {frame_rate_hz:g} Hz "
        "(ΔF/F, detrending, wavelet denoising, OASIS deconvolution, spike times, calcium events, "
        "coactivity, ensembles, stimulus regression)."
    )
    if not start_known:
        description += (
            " The session start time is unknown: session_start_time holds the placeholder "
            "1970-01-01T00:00:00Z, which NWB requires."
        )
    provenance = {
        "workflow": "calcium-imaging-workflow",
        "version": version,
        "input": {
            "path": str(session.get("path", "")),
            "input_kind": session.get("input_kind"),
            "nwb_series": session.get("nwb_series") or None,
        },
        "parameters": parameters,
    }

    def first(key):
        return next((v for v in (user.get(key), settings.get(key), source.get(key)) if v), None)

    metadata = SessionMetadata(
        session_id=session_id,
        session_description=description,
        session_start_time=start,
        subject=subject or None,
        imaging_plane=plane,
        experimenter=list(first("experimenter") or []),
        institution=first("institution"),
        lab=first("lab"),
        experiment_description=first("experiment_description"),
        source_script=f"calcium-imaging-workflow {version}",
        data_collection=json_text(provenance),
        keywords=[
            "calcium imaging",
            "ΔF/F",
            "spike inference",
            "calcium events",
            "neuronal ensembles",
            *user.get("keywords", []),
        ],
        start_known=start_known,
    )
    return metadata, dandi_missing(start_known, subject)


def json_text(data) -> str:
    """Compact, key-sorted JSON (for parameters stored in the file's metadata)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


def workflow_version(version: str, repo: str | Path) -> str:
    """The workflow's `version` (pyproject.toml), with the git commit when `repo` is a checkout."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return version
    return f"{version} (git {commit})" if commit else version

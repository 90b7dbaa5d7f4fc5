"""A session's metadata file (YAML) for the NWB output: read, validated, and what DANDI asks for.

The file's keys are described in workflow/schemas/metadata.schema.yaml (subject, session
start time, experimenters, institution, lab, imaging plane, ...). Nothing here invents a
value: what the user does not give stays absent, and :func:`dandi_missing` names what DANDI
will ask for.
"""

from __future__ import annotations

import os
from pathlib import Path

from calcium.errors import InputError

# What DANDI's validation asks of every NWB file (nwbinspector --config dandi, DANDI's upload
# rules): subject id, species, sex, and an age or date of birth; a true session start time.
DANDI_FIELDS = (
    "session_start_time",
    "subject.subject_id",
    "subject.species",
    "subject.sex",
    "subject.age or subject.date_of_birth",
)


def _yaml_loader():
    """A safe YAML loader that keeps date-times as text (PyYAML would drop or shift a time zone)."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.yaml_implicit_resolvers = {
        key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    return Loader


def read_metadata_file(path: str | os.PathLike, schema: dict) -> dict:
    """The metadata YAML at `path`, validated against `schema` (metadata.schema.yaml).

    Date-times stay text and must carry a time zone. Raises InputError naming the file
    and the key. Returns {} for an empty file.
    """
    import yaml

    from calcium.input.nwb_tables import parse_start_time
    from calcium.input.sheet import schema_errors

    path = Path(path)
    if not path.is_file():
        raise InputError(f"metadata file {path} does not exist; fix the sheet's `metadata` column.")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_yaml_loader())  # noqa: S506 - SafeLoader
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: not valid YAML ({error}).") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(
            f"{path}: a metadata file is a YAML mapping (keys subject, session_start_time, ...)."
        )
    data = _drop_empty(data, dicts=False)  # an empty section is kept, so a misspelt one is refused
    errors = schema_errors(data, schema)
    if errors:
        raise InputError(
            f"{path} does not match workflow/schemas/metadata.schema.yaml:\n" + "\n".join(errors)
        )
    for key, where in (
        (data.get("session_start_time"), "session_start_time"),
        (data.get("subject", {}).get("date_of_birth"), "subject.date_of_birth"),
    ):
        if key:
            parse_start_time(str(key), f"{path}: {where}")
    return _drop_empty(data)


def _drop_empty(data, dicts: bool = True):
    """Leave out keys whose value is empty (null, "", [], and {} if `dicts`): not given."""
    if isinstance(data, dict):
        kept = {str(k): _drop_empty(v, dicts) for k, v in data.items()}
        return {k: v for k, v in kept.items() if not (v is None or v == "" or v == [] or (dicts and v == {}))}
    return data


def dandi_missing(start_known: bool, subject: dict | None) -> list[str]:
    """The fields of DANDI_FIELDS a file would lack (start_known: a true session start time)."""
    subject = subject or {}
    missing = [] if start_known else ["session_start_time"]
    for key in ("subject_id", "species", "sex"):
        if not subject.get(key):
            missing.append(f"subject.{key}")
    if not subject.get("age") and not subject.get("date_of_birth"):
        missing.append("subject.age or subject.date_of_birth")
    return missing

"""Documentation that is written from the code stays true to it."""

from __future__ import annotations

import yaml
from conftest import REPO

from calcium.config_reference import SCHEMA, config_reference


def test_configuration_reference_is_written_from_the_current_schema():
    """docs/configuration.md is what scripts/calcium/config_reference.py writes from the schema:
    a key added, removed or re-described in the schema without re-writing it fails here."""
    schema = yaml.safe_load(SCHEMA.read_text(encoding="utf-8"))
    expected = config_reference(schema)
    written = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert written == expected, (
        "docs/configuration.md is stale: cd scripts && ../.venv/bin/python -m calcium.config_reference "
        "> ../docs/configuration.md"
    )
    for section, spec in schema["properties"].items():
        for key in spec.get("properties", {}):
            assert f"`{section}.{key}`" in written


def test_every_key_of_config_yaml_is_in_the_reference():
    config = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    written = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    for section, values in config.items():
        if isinstance(values, dict):
            for key in values:
                assert f"`{section}.{key}`" in written, f"{section}.{key}"
        else:
            assert f"`{section}`" in written

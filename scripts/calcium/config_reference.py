"""The configuration reference (docs/configuration.md), written from the config schema.

The schema (workflow/schemas/config.schema.yaml) is the one place where each key's type,
default, allowed values and meaning are written; this module turns it into the reference
a user reads, so the two cannot drift (tests/test_docs.py fails when the file is stale).

    .venv/bin/python -m calcium.config_reference > docs/configuration.md   # from scripts/
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"

HEADER = """# Configuration reference

Every key of `config.yaml`: its default, what values it takes and what it means. A key left
out of your config takes its default; every value is checked against
`workflow/schemas/config.schema.yaml` before anything runs. This page is written from that
schema by `scripts/calcium/config_reference.py` (`cd scripts && ../.venv/bin/python -m
calcium.config_reference > ../docs/configuration.md`); a test fails when it is stale.
"""


def _value(value) -> str:
    return f"`{json.dumps(value, ensure_ascii=False)}`"


def _allowed(spec: dict) -> str:
    """Type and bounds of a key, as a short phrase."""
    if "enum" in spec:
        options = spec["enum"]
        if len(options) > 8:
            return f"one of {len(options)} values (see the schema)"
        return "one of " + ", ".join(_value(option) for option in options)
    kinds = spec.get("type", "")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    text = " or ".join(str(kind) for kind in kinds if kind)
    bounds = []
    for key, symbol in (
        ("minimum", ">="),
        ("exclusiveMinimum", ">"),
        ("maximum", "<="),
        ("exclusiveMaximum", "<"),
        ("maxLength", "length <="),
    ):
        if key in spec:
            bounds.append(f"{symbol} {spec[key]}")
    if "items" in spec and isinstance(spec["items"], dict):
        item = _allowed(spec["items"])
        if item:
            bounds.append(f"items: {item}")
    return text + (f" ({', '.join(bounds)})" if bounds else "")


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def config_reference(schema: dict) -> str:
    """Markdown: one section per config section, one table row per key."""
    lines = [HEADER]
    top = [(name, spec) for name, spec in schema["properties"].items() if "properties" not in spec]
    sections = [(name, spec) for name, spec in schema["properties"].items() if "properties" in spec]
    if top:
        lines += ["## Top level", "", "| key | default | values | meaning |", "|---|---|---|---|"]
        for name, spec in top:
            lines.append(
                f"| `{name}` | {_value(spec.get('default'))} | {_cell(_allowed(spec))} "
                f"| {_cell(spec.get('description', ''))} |"
            )
        lines.append("")
    for section, spec in sections:
        lines += [f"## `{section}`", ""]
        if spec.get("description"):
            lines += [" ".join(spec["description"].split()), ""]
        lines += ["| key | default | values | meaning |", "|---|---|---|---|"]
        for name, sub in spec["properties"].items():
            lines.append(
                f"| `{section}.{name}` | {_value(sub.get('default'))} | {_cell(_allowed(sub))} "
                f"| {_cell(sub.get('description', ''))} |"
            )
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    sys.stdout.write(config_reference(yaml.safe_load(SCHEMA.read_text(encoding="utf-8"))))


if __name__ == "__main__":
    main()

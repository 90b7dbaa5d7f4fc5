"""Variants: settings compared side by side (config study.variants). Each variant is the
config with a few keys changed; the workflow runs it as its own copy of every rule
(workflow/rules/study.smk) and the study compares it with the default run (calcium.study.tables).
"""

from __future__ import annotations

import copy

from calcium.errors import ConfigError, UserError
from calcium.input.sheet import fill_defaults, schema_errors
from calcium.settings import check_config


def merged_config(config: dict, changes: dict) -> dict:
    """A copy of `config` with a variant's {section: {key: value}} changes on top (a nested
    value replaces the default whole, as a config file would), without the variants."""
    merged = copy.deepcopy(config)
    for section, values in changes.items():
        merged.setdefault(section, {})
        merged[section].update(copy.deepcopy(values))
    merged.setdefault("study", {})["variants"] = {}
    return merged


def flat_changes(changes: dict) -> str:
    """A variant's changes as text: "deconvolution.penalty=l0; events.k_sigma=4"."""
    return "; ".join(
        f"{section}.{key}={value}"
        for section, values in sorted(changes.items())
        for key, value in sorted(values.items())
    )


def variant_configs(config: dict, schema: dict) -> dict[str, dict]:
    """{variant: its config} for config study.variants, each checked like config.yaml: the
    merged config against the schema and check_config, and every key it names must change
    the default run's value. `config`: validated, defaults filled. Raises ConfigError with
    one line naming study.variants.<name>."""
    variants = {}
    for name, changes in config["study"]["variants"].items():
        where = f"config study.variants.{name}"
        merged = merged_config(config, changes)
        errors = schema_errors(merged, schema)
        if errors:
            raise ConfigError(f"{where} gives an invalid config: " + "; ".join(e.strip() for e in errors))
        fill_defaults(merged, schema)
        try:
            check_config(merged)
        except UserError as error:
            raise ConfigError(f"{where}: {error}") from None
        same = [
            f"{section}.{key}"
            for section, values in changes.items()
            for key, value in values.items()
            if config.get(section, {}).get(key) == value
        ]
        if same:
            raise ConfigError(
                f"{where}: {', '.join(same)} is the default run's value already; give the value "
                "the variant changes it to."
            )
        variants[name] = merged
    return variants

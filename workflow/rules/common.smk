"""Config and session sheet: validation, paths and input functions.

The only place that knows how the session sheet and config map to file paths.
"""

import json
import math
import re
import sys
from pathlib import Path

import pandas as pd
from snakemake.utils import validate

sys.path.insert(0, str(Path(workflow.basedir) / "scripts"))

from calcium.deconvolve import default_settings  # noqa: E402
from calcium.indicators import indicator_kinetics  # noqa: E402
from calcium.shards import shard_count, shard_name  # noqa: E402


def _schema_errors(instance, schema_file):
    """One line per violation: where (config key path) and what is wrong."""
    import jsonschema
    import yaml

    with open(workflow.source_path(schema_file)) as handle:
        schema = yaml.safe_load(handle)
    validator = jsonschema.Draft202012Validator(schema)
    lines = []
    for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.path)):
        where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        hint = (
            error.schema.get("description", "")
            if isinstance(error.schema, dict)
            else ""
        )
        if not error.absolute_path:
            hint = ""
        lines.append(f"  {where}: {error.message}" + (f" ({hint})" if hint else ""))
    return lines


_config_errors = _schema_errors(config, "../schemas/config.schema.yaml")
if _config_errors:
    raise ValueError(
        "config is invalid (see workflow/schemas/config.schema.yaml for every key, its unit "
        "and default):\n" + "\n".join(_config_errors)
    )
validate(config, workflow.source_path("../schemas/config.schema.yaml"))


def _read_session_sheet(path):
    path = Path(path)
    if not path.exists():
        raise ValueError(
            f"config key `sessions`: the session sheet {path} does not exist; point it to a "
            "TSV/CSV with columns session, path, frame_rate_hz, indicator, input_kind."
        )
    sep = "\t" if path.suffix in (".tsv", ".txt") else ","
    sheet = pd.read_csv(
        path,
        sep=sep,
        dtype=str,
        keep_default_na=False,
        comment="#",
        skip_blank_lines=True,
    )
    sheet.columns = [c.strip() for c in sheet.columns]
    for optional in ("stimuli", "ground_truth"):
        if optional not in sheet.columns:
            sheet[optional] = ""
    for column in ("frame_rate_hz",):
        if column not in sheet.columns:
            continue
        for i, value in enumerate(sheet[column], start=2):
            try:
                float(value)
            except ValueError:
                raise ValueError(
                    f"{path}: line {i}, column {column}: {value!r} is not a number; give the "
                    "imaging rate in Hz."
                ) from None
        sheet[column] = sheet[column].astype(float)
    if sheet.empty:
        raise ValueError(f"{path}: the session sheet lists no sessions.")
    for line, record in enumerate(sheet.to_dict("records"), start=2):
        errors = _schema_errors(record, "../schemas/sessions.schema.yaml")
        if errors:
            raise ValueError(
                f"{path}: line {line} does not match workflow/schemas/sessions.schema.yaml:\n"
                + "\n".join(errors)
            )
    duplicated = sheet.session[sheet.session.duplicated()].tolist()
    if duplicated:
        raise ValueError(f"{path}: session ids must be unique; repeated: {duplicated}")
    for row in sheet.itertuples():
        data = Path(row.path)
        if not data.exists() or data.stat().st_size == 0:
            raise ValueError(
                f"{path}: session {row.session}: the fluorescence file {data} is missing or "
                "empty; fix the `path` column (relative to the working directory)."
            )
        for column in ("stimuli", "ground_truth"):
            extra = getattr(row, column)
            if extra and not Path(extra).exists():
                raise ValueError(
                    f"{path}: session {row.session}: the {column} file {extra} does not exist; "
                    f"fix or empty the `{column}` column."
                )
        if config["deconvolution"]["tau_decay_s"] is None:
            try:
                indicator_kinetics(row.indicator)
            except KeyError as error:
                raise ValueError(
                    f"{path}: session {row.session}: {error.args[0]}"
                ) from None
    return sheet.set_index("session", drop=False)


sessions = _read_session_sheet(config["sessions"])


def _sorted(value):
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    return value


def settings(section):
    """A config section for params:, with keys sorted so that reordering config.yaml
    (or a tool rewriting it) does not look like a parameter change to Snakemake."""
    return _sorted(config[section])


SIGNAL_STAGES = ["dff", "detrended", "denoised", "calcium", "spikes", "activity"]


wildcard_constraints:
    session="|".join(re.escape(s) for s in sessions.index),
    shard=r"\d{4}",
    stage="|".join(SIGNAL_STAGES),


def session_row(wildcards):
    return sessions.loc[wildcards.session]


def frame_rate_hz(wildcards):
    return float(sessions.loc[wildcards.session, "frame_rate_hz"])


def raw_csv(wildcards):
    return sessions.loc[wildcards.session, "path"]


def shards_of(session):
    """Shard names of a session; known once its ingest checkpoint has run."""
    facts = checkpoints.ingest.get(session=session).output.facts
    with open(facts) as handle:
        n_neurons = json.load(handle)["n_neurons"]
    return [
        shard_name(i)
        for i in range(shard_count(n_neurons, config["neurons_per_shard"]))
    ]


def shard_files(name):
    """Input function: one file `name` per shard of the session."""

    def files(wildcards):
        return expand(
            "results/{session}/shards/{shard}/{name}",
            session=wildcards.session,
            shard=shards_of(wildcards.session),
            name=name,
        )

    return files


def gathered_stage_shards(wildcards):
    return shard_files(f"{wildcards.stage}.npy")(wildcards)


def dff_params(wildcards):
    """ΔF/F parameters; none for sessions that are ΔF/F already (nothing to re-run)."""
    if sessions.loc[wildcards.session, "input_kind"] == "dff":
        return {"input_kind": "dff"}
    return _sorted({"input_kind": "raw", **config["dff"]})


def deconvolution_input(wildcards):
    stage = {"dff": "dff", "detrended": "detrended", "denoised": "denoised"}
    name = stage[config["deconvolution"]["input"]]
    return f"results/{wildcards.session}/shards/{wildcards.shard}/{name}.npy"


EVENT_TRACE = config["events"]["input"]


def event_input(wildcards):
    return f"results/{wildcards.session}/shards/{wildcards.shard}/{EVENT_TRACE}.npy"


def deconvolution_params(wildcards):
    """OASIS settings from the session's indicator and frame rate
    (calcium.deconvolve.default_settings; config values other than auto/null win)."""
    overrides = dict(config["deconvolution"])
    overrides.pop("input")
    return _sorted(
        default_settings(
            sessions.loc[wildcards.session, "indicator"],
            frame_rate_hz(wildcards),
            overrides,
        )
    )


def ground_truth(wildcards):
    return sessions.loc[wildcards.session, "ground_truth"]


def stimulus_table(wildcards):
    return sessions.loc[wildcards.session, "stimuli"]


def stimulus_trace(wildcards):
    return f"results/{wildcards.session}/{config['stimulus']['input']}.npy"


def stimulus_kernel(wildcards):
    """Regressor kernel with its time constants resolved from the session's indicator."""
    settings = config["stimulus"]
    kinetics = indicator_kinetics(sessions.loc[wildcards.session, "indicator"])
    return {
        "shape": settings["kernel"],
        "tau_decay_s": settings["tau_decay_s"] or kinetics.tau_decay_s,
        "tau_rise_s": settings["tau_rise_s"] or kinetics.tau_rise_s,
    }


def shard_mem_mb(wildcards, input):
    """Memory for one shard job: a few copies of the shard (float64 work arrays)."""
    per_neuron_mb = 0
    facts = Path(f"results/{wildcards.session}/ingest/recording.json")
    if facts.exists():
        with open(facts) as handle:
            per_neuron_mb = json.load(handle)["n_frames"] * 8 / 1e6
    return int(max(500, 500 + 6 * per_neuron_mb * config["neurons_per_shard"]))


def get_final_output():
    outputs = []
    for session in sessions.index:
        outputs += expand(
            "results/{session}/{stage}.npy", session=session, stage=SIGNAL_STAGES
        )
        outputs += expand(
            "results/{session}/{name}",
            session=session,
            name=[
                "deconvolution.tsv",
                "spike_times.csv",
                "spike_times.npz",
                "figures/traces.png",
                "events/features_summary.csv",
                "ensembles/ensembles.csv",
                "figures/events.png",
                "figures/raster.png",
                "figures/features.png",
                "figures/coactivity.png",
                "figures/similarity.png",
                "figures/ensembles.png",
            ],
        )
        outputs += expand(
            "results/{session}/evaluation/{name}",
            session=session,
            name=["expected_accuracy.csv", "expected_accuracy.png"],
        )
        if sessions.loc[session, "ground_truth"]:
            outputs += expand(
                "results/{session}/evaluation/{name}",
                session=session,
                name=["evaluation.csv", "summary.csv", "evaluation.png"],
            )
        if sessions.loc[session, "stimuli"]:
            outputs += expand(
                "results/{session}/stimulus/{name}",
                session=session,
                name=["regression.csv", "stimulus_responses.csv", "regressors.png"],
            )
    return outputs

"""Config and session sheet: validation, paths and input functions.

The only place that knows how the session sheet and config map to file paths.
"""

import json
import re
import sys
from pathlib import Path

import yaml
from snakemake.exceptions import WorkflowError

sys.path.insert(0, str(Path(workflow.basedir) / "scripts"))

from calcium.errors import UserError  # noqa: E402
from calcium.input.ingest import InputSettings  # noqa: E402
from calcium.settings import (  # noqa: E402
    check_config,
    check_session_settings,
    deconvolution_settings,
    event_settings,
    spike_time_settings,
    stimulus_kernel,
)
from calcium.blocks import block_memory_mb  # noqa: E402
from calcium.study.tables import (  # noqa: E402
    check_session_ids,
    grouping_columns,
    session_groups,
)
from calcium.study.variants import flat_changes, variant_configs  # noqa: E402
from calcium.outputs.nwb_metadata import read_metadata_file  # noqa: E402
from calcium.input.trial_structure import split_paths  # noqa: E402
from calcium.input.sheet import (  # noqa: E402
    check_session,
    fill_defaults,
    check_writable,
    nwb_frame_rates,
    nwb_selection,
    read_session_sheet,
    schema_errors,
    session_place,
)


def _report_json_html_safe():
    """`snakemake --report` places rule params, wildcards, labels and captions as JSON inside
    <script> elements without escaping them for HTML: a user string holding "</script>" (an
    indicator, a path, a subject id) would end the element and run as HTML. Escape <, > and &
    in that JSON (calcium.outputs.htmlsafe.script_safe_json: the same strings for JavaScript).
    """
    try:
        from snakemake.report.html_reporter import data as report_data
    except ImportError:  # another Snakemake layout: nothing to patch
        return
    from calcium.outputs.htmlsafe import script_safe_json

    for name in [n for n in dir(report_data) if n.startswith("render_")]:
        render = getattr(report_data, name)
        if callable(render) and not getattr(render, "html_safe", False):

            def safe(*args, _render=render, **kwargs):
                return script_safe_json(_render(*args, **kwargs))

            safe.html_safe = True
            setattr(report_data, name, safe)


_report_json_html_safe()


def _schema(name):
    with open(workflow.source_path(f"../schemas/{name}.schema.yaml")) as handle:
        return yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


# What each session's input holds (calcium.input.sheet.SessionInputs), found before any job runs.
SESSION_INPUTS = {}
# The session sheet's columns that group sessions at the study level (calcium.study.tables).
STUDY_GROUPS = []
# Each session's metadata file (calcium.outputs.nwb_metadata.read_metadata_file), if the sheet names one.
SESSION_METADATA = {}


def _load_sessions():
    """Validate config and session sheet, and (in the main process) every session's inputs.

    Problems stop the run before any job with one message naming the file, line or key.
    """
    schema = _schema("config")
    errors = schema_errors(config, schema)
    if errors:
        raise UserError(
            "config is invalid (see workflow/schemas/config.schema.yaml for every key, its unit "
            "and default):\n" + "\n".join(errors)
        )
    fill_defaults(config, schema)
    check_config(config)
    sheet = read_session_sheet(
        config["sessions"], _schema("sessions"), config["study"]["group_by"] or ()
    )
    check_session_ids(sheet.index, config["sessions"])
    STUDY_GROUPS.extend(
        grouping_columns(sheet, config["study"]["group_by"], config["sessions"])
    )
    settings = InputSettings.from_config(config["input"])
    metadata_schema = _schema("metadata")
    for line, row in enumerate(sheet.to_dict("records"), start=2):
        if row["metadata"]:
            try:
                SESSION_METADATA[row["session"]] = read_metadata_file(
                    row["metadata"], metadata_schema
                )
            except UserError as error:
                where = session_place(config["sessions"], line, row["session"])
                raise UserError(f"{where}: {error}") from None
    if (
        not workflow.is_main_process
    ):  # a job on a cluster node: the checks ran at submission
        nwb_frame_rates(sheet, settings)
        return sheet
    check_writable("results")
    for line, row in enumerate(sheet.to_dict("records"), start=2):
        inputs = check_session(row, settings, config["sessions"], line)
        # An NWB session's rate is the file's.
        sheet.loc[row["session"], "frame_rate_hz"] = inputs.frame_rate_hz
        SESSION_INPUTS[row["session"]] = inputs
        where = session_place(config["sessions"], line, row["session"])
        try:
            check_session_settings(
                config,
                inputs.frame_rate_hz,
                inputs.n_neurons,
                inputs.n_frames,
                row["input_kind"],
            )
            deconvolution_settings(
                config["deconvolution"], row["indicator"], inputs.frame_rate_hz
            )
            if row["stimuli"] or row["nwb_stimulus_intervals"]:
                stimulus_kernel(config["stimulus"], row["indicator"])
        except UserError as error:
            raise UserError(f"{where}: {error}") from None
    return sheet


def _check_dandi_names():
    """nwb.dandi_layout names files by subject: every session needs a subject id."""
    if not config["nwb"]["dandi_layout"]:
        return
    names = {}
    for session in sessions.index:
        if not nwb_subject_id(session):
            raise UserError(
                f"{config['sessions']}: session {session}: nwb.dandi_layout is true but the session "
                "has no subject id; give the sheet's subject_id column or subject.subject_id in its "
                "metadata file, or set nwb.dandi_layout: false."
            )
        path = dandi_path(session)
        if path in names:
            raise UserError(
                f"{config['sessions']}: sessions {names[path]} and {session} get the same DANDI name "
                f"{path} (DANDI labels keep letters, digits and '-' only); rename one session."
            )
        names[path] = session


try:
    sessions = _load_sessions()
except UserError as error:
    raise SystemExit(f"Error: {error}") from None


def sorted_keys(value):
    """`value` with the keys of every dict in it sorted (recursively): params that do not change
    when config.yaml is reordered."""
    if isinstance(value, dict):
        return {key: sorted_keys(value[key]) for key in sorted(value)}
    return value


def settings(section, keys=None):
    """A config section (or only its `keys`) for params:, keys sorted, so that reordering
    config.yaml does not look like a parameter change to Snakemake, and a rule re-runs
    only when a key it reads changes."""
    values = config[section]
    if keys is not None:
        values = {key: values[key] for key in keys}
    return sorted_keys(values)


SIGNAL_STAGES = ["dff", "detrended", "denoised", "calcium", "spikes", "activity"]


wildcard_constraints:
    session="|".join(re.escape(s) for s in sessions.index),


def frame_rate_hz(wildcards):
    return float(sessions.loc[wildcards.session, "frame_rate_hz"])


def raw_csv(wildcards):
    """The session's fluorescence input: one file, or several (its trials, separated by ';')."""
    return split_paths(sessions.loc[wildcards.session, "path"])


def has_trials(session):
    """The session is cut into trials: a trial table, or several files (docs/trials.md)."""
    row = sessions.loc[session]
    return bool(row["trials"]) or len(split_paths(row["path"])) > 1


def trial_table_input(wildcards):
    """The sheet's trial table, an input of ingest (none otherwise)."""
    table = sessions.loc[wildcards.session, "trials"]
    return {"trials": table} if table else {}


def trial_input(wildcards):
    """The trial table ingest writes, for the stages that respect trial boundaries; none for a
    continuous session (its outputs are then exactly those of a session without trials).
    """
    if not has_trials(wildcards.session):
        return {}
    return {"trials": f"results/{wildcards.session}/ingest/trials.csv"}


def dff_params(wildcards):
    """ΔF/F parameters; none for sessions that are ΔF/F already (nothing to re-run)."""
    if sessions.loc[wildcards.session, "input_kind"] == "dff":
        return {"input_kind": "dff"}
    return sorted_keys({"input_kind": "raw", **config["dff"]})


def dff_rule_params(wildcards):
    """The ΔF/F rule's: `dff_params`, and scale_check False for a session whose sheet says
    scale_check: no (absent otherwise, so that the column changes nothing for the others).
    """
    params = dff_params(wildcards)
    if sessions.loc[wildcards.session].get("scale_check", "") == "no":
        params = {**params, "scale_check": False}
    return params


def stage_traces(session, trace):
    """What a stage given `trace` (dff, detrended or denoised, schema-checked) reads: the traces,
    and for denoised ones the detrended traces they came from (noise_traces), where the scan's
    noise and rates are read (the wavelet shrinkage is no band limit of the scan)."""
    files = {"traces": f"results/{session}/{trace}.npy"}
    if trace == "denoised":
        files["noise_traces"] = f"results/{session}/detrended.npy"
    return files


def deconvolution_input(wildcards):
    return stage_traces(wildcards.session, config["deconvolution"]["input"])


def denoise_of_input(trace):
    """The denoise settings a stage given `trace` needs ({} unless it is denoised): a change re-runs it."""
    if trace != "denoised":
        return {}
    return {key: config["denoise"][key] for key in ("wavelet", "level")}


EVENT_TRACE = config["events"]["input"]


def event_input(wildcards):
    return stage_traces(wildcards.session, EVENT_TRACE)


def event_params(wildcards):
    """Event settings with min_fwhm_s resolved from the session's kinetics and frame rate."""
    row = sessions.loc[wildcards.session]
    return event_settings(
        config["events"],
        config["deconvolution"],
        row.indicator,
        float(row.frame_rate_hz),
    )


def deconvolution_params(wildcards):
    """OASIS settings from the session's indicator and frame rate (config values win)."""
    row = sessions.loc[wildcards.session]
    return deconvolution_settings(
        config["deconvolution"], row.indicator, float(row.frame_rate_hz)
    )


def ground_truth(wildcards):
    return sessions.loc[wildcards.session, "ground_truth"]


def has_stimuli(session):
    """A stimulus table is given: a CSV, or intervals of the session's NWB file."""
    row = sessions.loc[session]
    return bool(row["stimuli"] or row["nwb_stimulus_intervals"])


def stimulus_table(wildcards):
    if sessions.loc[wildcards.session, "nwb_stimulus_intervals"]:
        return f"results/{wildcards.session}/ingest/nwb_stimuli.csv"
    return sessions.loc[wildcards.session, "stimuli"]


def stimulus_trace(wildcards):
    return f"results/{wildcards.session}/{config['stimulus']['input']}.npy"


def ensemble_stimulus_inputs(wildcards):
    """The stimulus table of a session that has one, when ensembles leave presentations out."""
    if not (has_stimuli(wildcards.session) and config["ensembles"]["exclude_stimuli"]):
        return {}
    return {"stimuli": stimulus_table(wildcards)}


def browser_stimulus_inputs(wildcards):
    """The stimulus tables of sessions that have stimuli (none otherwise)."""
    if not has_stimuli(wildcards.session):
        return {}
    return {
        "stimuli": f"results/{wildcards.session}/stimulus/stimuli.csv",
        "regressors": f"results/{wildcards.session}/stimulus/regressors.csv",
        "regression": f"results/{wildcards.session}/stimulus/regression.csv",
        "trial_responses": f"results/{wildcards.session}/stimulus/trial_responses.csv",
    }


def session_shape(session):
    """(neurons, frames) of a session: from its checked input, or (in a job on a cluster
    node, where the checks do not run) from the ingested recording."""
    if session in SESSION_INPUTS:
        inputs = SESSION_INPUTS[session]
        return inputs.n_neurons, inputs.n_frames
    facts = Path(f"results/{session}/ingest/recording.json")
    if facts.exists():
        with open(facts) as handle:
            recorded = json.load(handle)
        return recorded["n_neurons"], recorded["n_frames"]
    return 1, 1


def block_threads(samples_per_process):
    """threads: of a per-neuron rule: one process per `samples_per_process` samples of the
    session (small sessions run in one process, leaving the other cores to other jobs), at
    most the cores given (or 8 per job on a cluster)."""

    def threads(wildcards):
        n_neurons, n_frames = session_shape(wildcards.session)
        try:
            cores = workflow.cores
        except WorkflowError:  # no --cores: a report, a cluster run without it
            cores = None
        cap = cores if isinstance(cores, int) else 8
        return int(max(1, min(cap, n_neurons * n_frames // samples_per_process)))

    return threads


def block_mem_mb(arrays):
    """resources: mem_mb of a per-neuron rule: `arrays` float32 copies of one block of
    neurons per process (calcium.blocks.block_memory_mb)."""

    def mem_mb(wildcards, threads):
        n_neurons, n_frames = session_shape(wildcards.session)
        return block_memory_mb(n_neurons, n_frames, threads, arrays)

    return mem_mb


def ensemble_mem_mb(wildcards, input):
    """resources: mem_mb of the ensembles rule: the neurons x bins activity (float32, its
    z-scored float64 copies, the boolean windows) and the neurons x neurons correlation,
    eigenvectors and LAPACK workspace of the ICA methods (measured: 5.3 GB peak for the ICA
    step at 10^4 neurons x 6000 bins; this gives 5.7 GB there)."""
    n_neurons, n_frames = session_shape(wildcards.session)
    try:
        rate = float(sessions.loc[wildcards.session, "frame_rate_hz"]) or 1.0
    except (KeyError, ValueError):
        rate = 1.0
    n_bins = n_frames / rate / config["coactivity"]["bin_s"] + 1
    dense = n_neurons * n_bins * 29 + 5 * 8 * n_neurons**2
    return max(1000, int(500 + 2 * input.size_mb + dense / 1e6))


def block_runtime(us_per_sample):
    """resources: runtime (minutes) of a per-neuron rule at `us_per_sample` µs per sample."""

    def runtime(wildcards, threads):
        n_neurons, n_frames = session_shape(wildcards.session)
        return max(
            10,
            int(n_neurons * n_frames * us_per_sample * 1e-6 / max(threads, 1) / 60 * 3),
        )

    return runtime


FIGURES = [
    "figures/traces.png",
    "figures/events.png",
    "figures/raster.png",
    "figures/features.png",
    "figures/coactivity.png",
    "figures/similarity.png",
    "figures/ensembles.png",
    "figures/roi_map.png",
]
STIMULUS_FIGURES = [
    "regressors.png",
    "r2.png",
    "heatmaps.png",
    "response_types.png",
    "trial_responses.png",
]


def session_figures(session):
    """Every figure of a session (what `snakemake figures` makes)."""
    figures = [f"results/{session}/{name}" for name in FIGURES]
    figures.append(f"results/{session}/evaluation/expected_accuracy.png")
    if sessions.loc[session, "ground_truth"]:
        figures.append(f"results/{session}/evaluation/evaluation.png")
    if has_stimuli(session):
        figures += [f"results/{session}/stimulus/{name}" for name in STIMULUS_FIGURES]
    return figures


def get_final_output():
    """Every result of every session: arrays, tables, figures, the browser page, the NWB file."""
    outputs = []
    for session in sessions.index:
        outputs += session_figures(session)
        outputs += [f"results/{session}/{stage}.npy" for stage in SIGNAL_STAGES]
        outputs += [
            f"results/{session}/{name}"
            for name in [
                "deconvolution.tsv",
                "spike_times.csv",
                "spike_times.npz",
                "events/features_summary.csv",
                "ensembles/ensembles.csv",
                "browser.html",
                f"{session}.nwb",
                "evaluation/expected_accuracy.csv",
            ]
        ]
        if config["nwb"]["dandi_layout"]:
            outputs.append(dandi_path(session))
        if sessions.loc[session, "ground_truth"]:
            outputs += [
                f"results/{session}/evaluation/{name}"
                for name in ("evaluation.csv", "summary.csv")
            ]
        if has_stimuli(session):
            outputs += [
                f"results/{session}/stimulus/{name}"
                for name in (
                    "regression.csv",
                    "stimulus_responses.csv",
                    "trial_responses.csv",
                )
            ]
    return outputs


# Study level and variants (workflow/rules/study.smk)


try:
    VARIANT_CONFIGS = variant_configs(config, _schema("config"))
except UserError as error:
    raise SystemExit(f"Error: {error}") from None

VARIANTS = list(VARIANT_CONFIGS)


STUDY_TABLES = [
    "sessions",
    "events",
    "neurons",
    "spikes",
    "coactivity",
    "ensembles",
    "ensemble_sizes",
    "response_types",
    "expected_accuracy",
    "evaluation",
]
# Each session's results the study reads (results/<session>/...).
STUDY_SESSION_FILES = {
    "recording": "ingest/recording.json",
    "features_summary": "events/features_summary.csv",
    "features": "events/features.csv",
    "spike_times": "spike_times.csv",
    "coactivity": "population/coactivity.csv",
    "null": "population/null_threshold.json",
    "ensemble_events": "population/ensemble_events.csv",
    "ensembles": "ensembles/ensembles.csv",
    "expected_accuracy": "evaluation/expected_accuracy.csv",
    "expected_accuracy_neurons": "evaluation/expected_accuracy_neurons.csv",
    "browser": "browser.html",
}
# What the study compares between a variant's run and the default run, per session.
VARIANT_FILES = {
    "spike_times": "spike_times.csv",
    "features_summary": "events/features_summary.csv",
    "ensemble_events": "population/ensemble_events.csv",
    "ensembles": "ensembles/ensembles.csv",
    "activity": "activity.npy",
}


def study_inputs(wildcards):
    """Every session's results the study reads, in sheet order; variants' per (variant, session)."""
    inputs = {
        name: [f"results/{session}/{path}" for session in sessions.index]
        for name, path in STUDY_SESSION_FILES.items()
    }
    inputs["regression"] = [
        f"results/{s}/stimulus/regression.csv" for s in sessions.index if has_stimuli(s)
    ]
    inputs["evaluation"] = [
        f"results/{s}/evaluation/summary.csv"
        for s in sessions.index
        if sessions.loc[s, "ground_truth"]
    ]
    if VARIANTS:
        inputs["activity"] = [f"results/{s}/activity.npy" for s in sessions.index]
        for name, path in VARIANT_FILES.items():
            inputs[f"variant_{name}"] = [
                f"results/variants/{variant}/{session}/{path}"
                for variant in VARIANTS
                for session in sessions.index
            ]
        inputs["variant_evaluation"] = [
            f"results/variants/{variant}/{session}/evaluation/summary.csv"
            for variant in VARIANTS
            for session in sessions.index
            if sessions.loc[session, "ground_truth"]
        ]
    return inputs


def study_outputs():
    """The study's tables, figures and page (the variants' comparison when there are variants)."""
    outputs = {
        "tables": [f"results/study/{name}.csv" for name in STUDY_TABLES],
        "sessions_figure": report(
            "results/study/figures/sessions.png",
            caption="../report/study_sessions.rst",
            category="7. Study",
            labels={"figure": "sessions by group"},
        ),
        "neurons_figure": report(
            "results/study/figures/neurons.png",
            caption="../report/study_neurons.rst",
            category="7. Study",
            labels={"figure": "neurons per session"},
        ),
        "page": report(
            "results/study/study.html",
            caption="../report/study_page.rst",
            category="7. Study",
            labels={"figure": "study page"},
        ),
    }
    if VARIANTS:
        outputs["variant_tables"] = [
            "results/study/variants.csv",
            "results/study/variant_neurons.csv",
        ]
        outputs["variants_figure"] = report(
            "results/study/figures/variants.png",
            caption="../report/study_variants.rst",
            category="7. Study",
            labels={"figure": "variants against the default run"},
        )
    return outputs


def study_mem_mb(wildcards, input):
    """Every session's tables in pandas, and (variants) the activity of 256 neurons of the
    default run and of a variant in float64 with their temporaries (calcium.study.tables
    block_correlations)."""
    tables = sum(
        Path(name).stat().st_size
        for name in input
        if name.endswith((".csv", ".json")) and Path(name).exists()
    )
    frames = max(session_shape(s)[1] for s in sessions.index) if VARIANTS else 0
    return int(1000 + 5 * tables / 1e6 + 6 * 256 * frames * 8 / 1e6)


# NWB output (rule nwb, workflow/rules/nwb.smk)


def _workflow_version():
    """The workflow's version from pyproject.toml (the NWB rule adds the git commit)."""
    import tomllib

    pyproject = Path(workflow.basedir) / "pyproject.toml"
    if pyproject.exists():
        with open(pyproject, "rb") as handle:
            return tomllib.load(handle)["project"]["version"]
    return "unknown"


WORKFLOW_VERSION = _workflow_version()


def nwb_inputs(wildcards):
    """Every result of a session that goes into its NWB file."""
    base = f"results/{wildcards.session}"
    row = sessions.loc[wildcards.session]
    inputs = {
        "facts": f"{base}/ingest/recording.json",
        "neurons": f"{base}/ingest/neurons.tsv",
        "footprints": f"{base}/ingest/footprints.npz",
        "deconvolution": f"{base}/deconvolution.tsv",
        "spike_times": f"{base}/spike_times.csv",
        "events": f"{base}/events/events.csv",
        "thresholds": f"{base}/events/event_thresholds.tsv",
        "features": f"{base}/events/features.csv",
        "coactivity": f"{base}/population/coactivity.csv",
        "null_threshold": f"{base}/population/null_threshold.json",
        "null_histogram": f"{base}/population/null_histogram.csv",
        "null_shuffles": f"{base}/population/null_shuffles.csv",
        "ensemble_event_neurons": f"{base}/population/ensemble_event_neurons.csv",
        "ensemble_events": f"{base}/ensembles/ensemble_activations.csv",
        "ensembles": f"{base}/ensembles/ensembles.csv",
        "activation_times": f"{base}/ensembles/ensemble_activation_times.csv",
        "members": f"{base}/ensembles/ensemble_members.csv",
        "similarity": f"{base}/ensembles/similarity.npy",
        "clustering": f"{base}/ensembles/clustering.json",
        "expected_accuracy": f"{base}/evaluation/expected_accuracy.csv",
        "expected_accuracy_neurons": f"{base}/evaluation/expected_accuracy_neurons.csv",
    }
    inputs.update({stage: f"{base}/{stage}.npy" for stage in SIGNAL_STAGES})
    inputs.update(trial_input(wildcards))
    if row["input_kind"] != "dff":
        inputs["fluorescence"] = f"{base}/ingest/fluorescence.npy"
        inputs["neuropil"] = f"{base}/ingest/neuropil.npy"
    if row["ground_truth"]:
        inputs["evaluation"] = f"{base}/evaluation/evaluation.csv"
        inputs["evaluation_summary"] = f"{base}/evaluation/summary.csv"
    if has_stimuli(wildcards.session):
        inputs.update(
            {
                "stimuli": f"{base}/stimulus/stimuli.csv",
                "regressors": f"{base}/stimulus/regressors.csv",
                "regression": f"{base}/stimulus/regression.csv",
                "responses": f"{base}/stimulus/stimulus_responses.csv",
            }
        )
    if row["metadata"]:
        inputs["metadata"] = row["metadata"]
    if Path(row["path"]).suffix.lower() == ".nwb":
        inputs["source"] = row["path"]
    return inputs


# Config keys the NWB file records (in /general/data_collection and its descriptions): the
# analysis whose results it holds; not how figures, the browser, the study or the file itself are made.
NWB_NOT_RECORDED = {
    "figures": None,
    "browser": None,
    "nwb": None,
    "study": None,
    "stimulus": ("heatmap_bin_s", "examples_per_type"),
    "evaluation": ("example_s",),
}


def nwb_parameters():
    """The config keys the NWB file records, keys sorted (see NWB_NOT_RECORDED)."""
    recorded = {}
    for section, values in config.items():
        if not isinstance(values, dict) or (
            section in NWB_NOT_RECORDED and NWB_NOT_RECORDED[section] is None
        ):
            continue
        left_out = NWB_NOT_RECORDED.get(section) or ()
        recorded[section] = {k: v for k, v in values.items() if k not in left_out}
    return sorted_keys(recorded)


NWB_METADATA_KEYS = [
    "institution",
    "lab",
    "experimenter",
    "experiment_description",
    "gzip_level",
]


def nwb_session_fields(wildcards):
    """The sheet's fields that the NWB file records (metadata, input)."""
    row = sessions.loc[wildcards.session]
    return {
        key: str(row[key])
        for key in (
            "session",
            "path",
            "indicator",
            "input_kind",
            "nwb_series",
            "session_start_time",
            "subject_id",
            "species",
            "sex",
            "age",
        )
    }


def _dandi_name(text):
    """A DANDI file-name label: letters, digits and '-' only (others become '-')."""
    return re.sub(r"[^A-Za-z0-9-]+", "-", str(text)).strip("-")


def nwb_subject_id(session):
    """The session's subject id for DANDI names: the sheet's, else its metadata file's, else the
    NWB input's; None if none is given."""
    row = sessions.loc[session]
    if row["subject_id"]:
        return row["subject_id"]
    if row["metadata"]:
        subject = SESSION_METADATA[session].get("subject", {})
        if subject.get("subject_id"):
            return subject["subject_id"]
    if Path(row["path"]).suffix.lower() == ".nwb":
        from calcium.input.nwb_tables import read_nwb_metadata

        found = read_nwb_metadata(
            row["path"], row["nwb_series"] or None, row["input_kind"]
        )
        return found["subject"].get("subject_id") or None
    return None


# DANDI session labels (letters, digits, '-') -> session ids.
DANDI_SESSIONS = {_dandi_name(s): s for s in sessions.index}


def dandi_path(session):
    """results/dandi/sub-<subject>/sub-<subject>_ses-<session>_ophys.nwb (DANDI's layout)."""
    subject = _dandi_name(nwb_subject_id(session))
    return f"results/dandi/sub-{subject}/sub-{subject}_ses-{_dandi_name(session)}_ophys.nwb"


def ingest_mem_mb(wildcards, input):
    """Memory of the ingest job: a CSV is parsed whole (text and float32 traces); arrays and
    NWB series are copied 256 neurons at a time (whatever else an NWB file holds, e.g. raw
    movies, is never read)."""
    inputs = SESSION_INPUTS.get(wildcards.session)
    frames = inputs.n_frames if inputs else 0
    if Path(input.data[0]).suffix.lower() in (".csv", ".txt", ""):
        return int(max(1000, 500 + 3 * input.size_mb))
    return int(max(1000, 500 + 4 * 4 * 256 * frames / 1e6))


def ingest_runtime(wildcards, input):
    """Minutes: text parsing at some 20 MB/s."""
    inputs = SESSION_INPUTS.get(wildcards.session)
    size_mb = 4 * inputs.n_neurons * inputs.n_frames / 1e6 if inputs else input.size_mb
    return max(10, int(size_mb / 20))


def _result_sizes_mb(input):
    """MB of a job's (.npy, table) inputs, leaving out an NWB input file."""
    arrays = tables = 0.0
    for name in input:
        size = Path(name).stat().st_size / 1e6 if Path(name).exists() else 0.0
        if name.endswith(".npy"):
            arrays += size
        elif name.endswith((".csv", ".tsv", ".json")):
            tables += size
    return arrays, tables


def nwb_mem_mb(wildcards, input):
    """Memory of the nwb job: one 64 MB buffer of traces and the tables in pandas."""
    return int(1000 + 5 * _result_sizes_mb(input)[1])


def nwb_runtime(wildcards, input):
    """Minutes: gzip compresses some 20 MB/s on one core."""
    return int(10 + _result_sizes_mb(input)[0] / 20 / 60)


try:
    _check_dandi_names()
except UserError as error:
    raise SystemExit(f"Error: {error}") from None

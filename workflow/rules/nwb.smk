import tomllib


def _workflow_version():
    """The workflow's version from pyproject.toml (the NWB rule adds the git commit)."""
    pyproject = Path(workflow.basedir) / "pyproject.toml"
    if pyproject.exists():
        with open(pyproject, "rb") as handle:
            return tomllib.load(handle)["project"]["version"]
    return "unknown"


WORKFLOW_VERSION = _workflow_version()


def nwb_inputs(wildcards):
    """Every result of a session that goes into its NWB file."""
    base = f"results/{wildcards.session}"
    inputs = {
        "facts": f"{base}/ingest/recording.json",
        "neurons": f"{base}/ingest/neurons.tsv",
        "deconvolution": f"{base}/deconvolution.tsv",
        "spike_times": f"{base}/spike_times.csv",
        "events": f"{base}/events/events.csv",
        "thresholds": f"{base}/events/event_thresholds.tsv",
        "features": f"{base}/events/features.csv",
        "coactivity": f"{base}/population/coactivity.csv",
        "null_threshold": f"{base}/population/null_threshold.json",
        "ensemble_event_neurons": f"{base}/population/ensemble_event_neurons.csv",
        "ensemble_events": f"{base}/ensembles/ensemble_events.csv",
        "ensembles": f"{base}/ensembles/ensembles.csv",
        "members": f"{base}/ensembles/ensemble_members.csv",
    }
    inputs.update({stage: f"{base}/{stage}.npy" for stage in SIGNAL_STAGES})
    if has_stimuli(wildcards.session):
        inputs.update(
            {
                "stimuli": f"{base}/stimulus/stimuli.csv",
                "regressors": f"{base}/stimulus/regressors.csv",
                "regression": f"{base}/stimulus/regression.csv",
                "responses": f"{base}/stimulus/stimulus_responses.csv",
            }
        )
    if is_nwb(sessions.loc[wildcards.session, "path"]):
        inputs["source"] = sessions.loc[wildcards.session, "path"]
    return inputs


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


rule nwb:
    input:
        unpack(nwb_inputs),
    output:
        "results/{session}/{session}.nwb",
    log:
        "results/logs/{session}/nwb.log",
    benchmark:
        "results/benchmarks/{session}/nwb.tsv"
    conda:
        "../../envs/nwb.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, input: max(1000, 500 + int(0.05 * input.size_mb)),
        runtime=lambda wc, input: max(10, int(input.size_mb / 20)),
    params:
        session=nwb_session_fields,
        metadata=settings("nwb"),
        parameters=_sorted(config),
        version=WORKFLOW_VERSION,
    script:
        "../../scripts/write_nwb.py"


rule nwb_stimuli:
    input:
        raw_csv,
    output:
        "results/{session}/ingest/nwb_stimuli.csv",
    log:
        "results/logs/{session}/nwb_stimuli.log",
    benchmark:
        "results/benchmarks/{session}/nwb_stimuli.tsv"
    conda:
        "../../envs/nwb.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        intervals=lambda wc: sessions.loc[wc.session, "nwb_stimulus_intervals"],
    script:
        "../../scripts/nwb_stimuli.py"

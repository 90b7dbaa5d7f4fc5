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
    threads: block_threads(20_000_000)  # threads that gzip the traces' chunks
    resources:
        mem_mb=nwb_mem_mb,
        runtime=nwb_runtime,
    params:
        session=nwb_session_fields,
        metadata=settings("nwb", NWB_METADATA_KEYS),
        parameters=nwb_parameters(),
        oasis=deconvolution_params,
        version=WORKFLOW_VERSION,
    script:
        "../../scripts/write_nwb.py"


rule nwb_dandi:
    """nwb.dandi_layout: the session's NWB file under DANDI's name (a hard link if possible)."""
    input:
        lambda wc: f"results/{DANDI_SESSIONS[wc.dandi_session]}/{DANDI_SESSIONS[wc.dandi_session]}.nwb",
    output:
        "results/dandi/sub-{subject}/sub-{subject}_ses-{dandi_session}_ophys.nwb",
    log:
        "results/logs/dandi/sub-{subject}_ses-{dandi_session}.log",
    benchmark:
        "results/benchmarks/dandi/sub-{subject}_ses-{dandi_session}.tsv"
    wildcard_constraints:
        subject="[A-Za-z0-9-]+",
        dandi_session="[A-Za-z0-9-]+",
    localrule: True
    conda:
        "../../envs/nwb.yaml"
    threads: 1
    resources:
        mem_mb=100,
        runtime=10,
    script:
        "../../scripts/dandi_name.py"


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

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
        metadata=settings("nwb"),
        parameters=_sorted(config),
        oasis=deconvolution_params,
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

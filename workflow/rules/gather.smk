rule gather_traces:
    input:
        shards=gathered_stage_shards,
        facts="results/{session}/ingest/recording.json",
    output:
        "results/{session}/{stage}.npy",
    log:
        "results/logs/{session}/gather_{stage}.log",
    benchmark:
        "results/benchmarks/{session}/gather_{stage}.tsv"
    conda:
        "../../envs/signal.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    script:
        "../../scripts/gather_traces.py"


rule gather_deconvolution:
    input:
        table=shard_files("deconvolution.tsv"),
    output:
        table="results/{session}/deconvolution.tsv",
    log:
        "results/logs/{session}/gather_deconvolution.log",
    benchmark:
        "results/benchmarks/{session}/gather_deconvolution.tsv"
    conda:
        "../../envs/signal.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../../scripts/gather_tables.py"


rule gather_spike_times:
    input:
        shards=shard_files("spike_times.csv"),
        facts="results/{session}/ingest/recording.json",
    output:
        table="results/{session}/spike_times.csv",
        arrays="results/{session}/spike_times.npz",
    log:
        "results/logs/{session}/gather_spike_times.log",
    benchmark:
        "results/benchmarks/{session}/gather_spike_times.tsv"
    conda:
        "../../envs/signal.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        lag_s=lambda wildcards: deconvolution_params(wildcards)["lag_s"],
    script:
        "../../scripts/gather_spike_times.py"

rule deconvolve:
    input:
        traces=deconvolution_input,
        facts="results/{session}/ingest/recording.json",
    output:
        calcium="results/{session}/shards/{shard}/calcium.npy",
        spikes="results/{session}/shards/{shard}/spikes.npy",
        activity="results/{session}/shards/{shard}/activity.npy",
        table="results/{session}/shards/{shard}/deconvolution.tsv",
    log:
        "results/logs/{session}/shards/{shard}/deconvolve.log",
    benchmark:
        "results/benchmarks/{session}/shards/{shard}/deconvolve.tsv"
    conda:
        "../../envs/deconvolution.yaml"
    threads: 1
    resources:
        mem_mb=shard_mem_mb,
        runtime=60,
    params:
        oasis=deconvolution_params,
        frame_rate_hz=frame_rate_hz,
        neurons_per_shard=settings("neurons_per_shard"),
    script:
        "../../scripts/deconvolve.py"


rule spike_times:
    input:
        spikes="results/{session}/shards/{shard}/spikes.npy",
        table="results/{session}/shards/{shard}/deconvolution.tsv",
        facts="results/{session}/ingest/recording.json",
    output:
        "results/{session}/shards/{shard}/spike_times.csv",
    log:
        "results/logs/{session}/shards/{shard}/spike_times.log",
    benchmark:
        "results/benchmarks/{session}/shards/{shard}/spike_times.tsv"
    conda:
        "../../envs/signal.yaml"
    threads: 1
    resources:
        mem_mb=shard_mem_mb,
        runtime=30,
    params:
        thresholds=settings("spike_times"),
        lag_s=lambda wildcards: deconvolution_params(wildcards)["lag_s"],
        frame_rate_hz=frame_rate_hz,
        neurons_per_shard=settings("neurons_per_shard"),
    script:
        "../../scripts/spike_times.py"

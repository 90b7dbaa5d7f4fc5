rule dff:
    input:
        traces="results/{session}/ingest/fluorescence.npy",
        facts="results/{session}/ingest/recording.json",
    output:
        "results/{session}/shards/{shard}/dff.npy",
    log:
        "results/logs/{session}/shards/{shard}/dff.log",
    benchmark:
        "results/benchmarks/{session}/shards/{shard}/dff.tsv"
    conda:
        "../../envs/signal.yaml"
    threads: 1
    resources:
        mem_mb=shard_mem_mb,
        runtime=30,
    params:
        dff=dff_params,
        frame_rate_hz=frame_rate_hz,
        neurons_per_shard=settings("neurons_per_shard"),
    script:
        "../../scripts/dff.py"


rule detrend:
    input:
        "results/{session}/shards/{shard}/dff.npy",
    output:
        "results/{session}/shards/{shard}/detrended.npy",
    log:
        "results/logs/{session}/shards/{shard}/detrend.log",
    benchmark:
        "results/benchmarks/{session}/shards/{shard}/detrend.tsv"
    conda:
        "../../envs/signal.yaml"
    threads: 1
    resources:
        mem_mb=shard_mem_mb,
        runtime=30,
    params:
        detrend=settings("detrend"),
        frame_rate_hz=frame_rate_hz,
    script:
        "../../scripts/detrend.py"


rule denoise:
    input:
        "results/{session}/shards/{shard}/detrended.npy",
    output:
        "results/{session}/shards/{shard}/denoised.npy",
    log:
        "results/logs/{session}/shards/{shard}/denoise.log",
    benchmark:
        "results/benchmarks/{session}/shards/{shard}/denoise.tsv"
    conda:
        "../../envs/signal.yaml"
    threads: 1
    resources:
        mem_mb=shard_mem_mb,
        runtime=30,
    params:
        denoise=settings("denoise"),
    script:
        "../../scripts/denoise.py"

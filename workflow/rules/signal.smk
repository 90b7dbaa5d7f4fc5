rule dff:
    input:
        unpack(trial_input),
        traces=rules.ingest.output.traces,
        facts=rules.ingest.output.facts,
    output:
        "results/{session}/dff.npy",
    log:
        "results/logs/{session}/dff.log",
    benchmark:
        "results/benchmarks/{session}/dff.tsv"
    conda:
        "../../envs/signal.yaml"
    threads: block_threads(10_000_000)
    resources:
        mem_mb=block_mem_mb(4),
        runtime=block_runtime(0.05),
    params:
        dff=dff_rule_params,
    script:
        "../../scripts/dff.py"


rule detrend:
    input:
        unpack(trial_input),
        traces=rules.dff.output[0],
        facts=rules.ingest.output.facts,
    output:
        traces="results/{session}/detrended.npy",
        scan="results/{session}/scan_rate.json",
    log:
        "results/logs/{session}/detrend.log",
    benchmark:
        "results/benchmarks/{session}/detrend.tsv"
    conda:
        "../../envs/signal.yaml"
    threads: block_threads(5_000_000)
    resources:
        mem_mb=block_mem_mb(8),
        runtime=block_runtime(0.1),
    params:
        detrend=settings("detrend"),
    script:
        "../../scripts/detrend.py"


rule denoise:
    input:
        unpack(trial_input),
        traces=rules.detrend.output[0],
        facts=rules.ingest.output.facts,
    output:
        "results/{session}/denoised.npy",
    log:
        "results/logs/{session}/denoise.log",
    benchmark:
        "results/benchmarks/{session}/denoise.tsv"
    priority: 1  # before the leaf jobs: the trace figures wait for it
    conda:
        "../../envs/signal.yaml"
    threads: block_threads(5_000_000)
    resources:
        mem_mb=block_mem_mb(8),
        runtime=block_runtime(0.1),
    params:
        denoise=settings("denoise"),
    script:
        "../../scripts/denoise.py"

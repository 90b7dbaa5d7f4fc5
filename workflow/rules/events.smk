rule events:
    input:
        unpack(trial_input),
        unpack(event_input),
        scan=rules.detrend.output.scan,
        facts=rules.ingest.output.facts,
    output:
        events="results/{session}/events/events.csv",
        thresholds="results/{session}/events/event_thresholds.tsv",
    log:
        "results/logs/{session}/events.log",
    benchmark:
        "results/benchmarks/{session}/events.tsv"
    priority: 10
    conda:
        "../../envs/signal.yaml"
    threads: block_threads(3_000_000)
    resources:
        mem_mb=block_mem_mb(4),
        runtime=block_runtime(0.2),
    params:
        events=event_params,
    script:
        "../../scripts/events.py"

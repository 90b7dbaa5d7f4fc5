rule events:
    input:
        traces=event_input,
        facts="results/{session}/ingest/recording.json",
    output:
        events="results/{session}/shards/{shard}/events.csv",
        thresholds="results/{session}/shards/{shard}/event_thresholds.tsv",
    log:
        "results/logs/{session}/shards/{shard}/events.log",
    benchmark:
        "results/benchmarks/{session}/shards/{shard}/events.tsv"
    conda:
        "../../envs/signal.yaml"
    threads: 1
    resources:
        mem_mb=shard_mem_mb,
        runtime=30,
    params:
        events=event_params,
        frame_rate_hz=frame_rate_hz,
        neurons_per_shard=settings("neurons_per_shard"),
    script:
        "../../scripts/events.py"


rule gather_events:
    input:
        events=shard_files("events.csv"),
        thresholds=shard_files("event_thresholds.tsv"),
    output:
        events="results/{session}/events/events.csv",
        thresholds="results/{session}/events/event_thresholds.tsv",
    log:
        "results/logs/{session}/gather_events.log",
    benchmark:
        "results/benchmarks/{session}/gather_events.tsv"
    conda:
        "../../envs/signal.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../../scripts/gather_tables.py"

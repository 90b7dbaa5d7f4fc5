rule coactivity:
    input:
        events="results/{session}/events/events.csv",
        facts="results/{session}/ingest/recording.json",
    output:
        "results/{session}/population/coactivity.csv",
    log:
        "results/logs/{session}/coactivity.log",
    benchmark:
        "results/benchmarks/{session}/coactivity.tsv"
    conda:
        "../../envs/signal.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        coactivity=settings("coactivity"),
    script:
        "../../scripts/coactivity.py"


rule coactivity_null:
    input:
        events="results/{session}/events/events.csv",
        facts="results/{session}/ingest/recording.json",
    output:
        shuffles="results/{session}/population/null_shuffles.csv",
        histogram="results/{session}/population/null_histogram.csv",
        threshold="results/{session}/population/null_threshold.json",
    log:
        "results/logs/{session}/coactivity_null.log",
    benchmark:
        "results/benchmarks/{session}/coactivity_null.tsv"
    conda:
        "../../envs/signal.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        coactivity=settings("coactivity"),
        null=settings("coactivity_null"),
    script:
        "../../scripts/coactivity_null.py"

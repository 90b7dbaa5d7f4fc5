rule ensemble_events:
    input:
        coactivity="results/{session}/population/coactivity.csv",
        threshold="results/{session}/population/null_threshold.json",
        events="results/{session}/events/events.csv",
        facts="results/{session}/ingest/recording.json",
    output:
        events="results/{session}/population/ensemble_events.csv",
        neurons="results/{session}/population/ensemble_event_neurons.csv",
    log:
        "results/logs/{session}/ensemble_events.log",
    benchmark:
        "results/benchmarks/{session}/ensemble_events.tsv"
    conda:
        "../../envs/signal.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        coactivity=settings("coactivity"),
    script:
        "../../scripts/ensemble_events.py"


rule ensembles:
    input:
        events="results/{session}/population/ensemble_events.csv",
        neurons="results/{session}/population/ensemble_event_neurons.csv",
        calcium_events="results/{session}/events/events.csv",
        threshold="results/{session}/population/null_threshold.json",
        facts="results/{session}/ingest/recording.json",
    output:
        labels="results/{session}/ensembles/ensemble_events.csv",
        members="results/{session}/ensembles/ensemble_members.csv",
        summary="results/{session}/ensembles/ensembles.csv",
        similarity="results/{session}/ensembles/similarity.npy",
        clustering="results/{session}/ensembles/clustering.json",
    log:
        "results/logs/{session}/ensembles.log",
    benchmark:
        "results/benchmarks/{session}/ensembles.tsv"
    conda:
        "../../envs/signal.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        ensembles=settings("ensembles"),
        coactivity=settings("coactivity"),
    script:
        "../../scripts/ensembles.py"

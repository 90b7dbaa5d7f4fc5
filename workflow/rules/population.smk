rule coactivity:
    input:
        unpack(trial_input),
        events=rules.events.output.events,
        facts=rules.ingest.output.facts,
    output:
        coactivity="results/{session}/population/coactivity.csv",
        shuffles="results/{session}/population/null_shuffles.csv",
        histogram="results/{session}/population/null_histogram.csv",
        threshold="results/{session}/population/null_threshold.json",
        ensemble_events="results/{session}/population/ensemble_events.csv",
        event_neurons="results/{session}/population/ensemble_event_neurons.csv",
    log:
        "results/logs/{session}/coactivity.log",
    benchmark:
        "results/benchmarks/{session}/coactivity.tsv"
    priority: 10
    conda:
        "../../envs/signal.yaml"
    threads: block_threads(50_000_000)  # processes sharing the null's shuffles
    resources:
        mem_mb=lambda wc, input, threads: max(
            1000, int(500 + 3 * threads * input.size_mb)
        ),
        runtime=30,
    params:
        coactivity=settings("coactivity"),
        null=settings("coactivity_null"),
    script:
        "../../scripts/coactivity.py"


rule features:
    input:
        unpack(trial_input),
        events=rules.events.output.events,
        ensemble_events=rules.coactivity.output.ensemble_events,
        facts=rules.ingest.output.facts,
    output:
        features="results/{session}/events/features.csv",
        summary="results/{session}/events/features_summary.csv",
    log:
        "results/logs/{session}/features.log",
    benchmark:
        "results/benchmarks/{session}/features.tsv"
    conda:
        "../../envs/signal.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, input: max(1000, int(500 + 4 * input.size_mb)),
        runtime=10,
    params:
        coactivity=settings("coactivity"),
        burst_iei_s=config["events"]["burst_iei_s"],
    script:
        "../../scripts/features.py"


rule ensembles:
    input:
        unpack(trial_input),
        unpack(ensemble_stimulus_inputs),
        events=rules.events.output.events,
        ensemble_events=rules.coactivity.output.ensemble_events,
        event_neurons=rules.coactivity.output.event_neurons,
        facts=rules.ingest.output.facts,
    output:
        activations="results/{session}/ensembles/ensemble_activations.csv",
        members="results/{session}/ensembles/ensemble_members.csv",
        ensembles="results/{session}/ensembles/ensembles.csv",
        similarity="results/{session}/ensembles/similarity.npy",
        clustering="results/{session}/ensembles/clustering.json",
        activation_times="results/{session}/ensembles/ensemble_activation_times.csv",
        strength="results/{session}/ensembles/activation_strength.npy",
    log:
        "results/logs/{session}/ensembles.log",
    benchmark:
        "results/benchmarks/{session}/ensembles.tsv"
    priority: 10
    conda:
        "../../envs/signal.yaml"
    threads: 1
    resources:
        mem_mb=ensemble_mem_mb,
        runtime=30,
    params:
        ensembles=settings("ensembles"),
        coactivity=settings("coactivity"),
        min_active=config["coactivity_null"]["min_active"],
    script:
        "../../scripts/ensembles.py"

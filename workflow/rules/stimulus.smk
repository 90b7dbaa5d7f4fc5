rule regressors:
    input:
        stimuli=stimulus_table,
        facts="results/{session}/ingest/recording.json",
    output:
        regressors="results/{session}/stimulus/regressors.csv",
        table="results/{session}/stimulus/stimuli.csv",
    log:
        "results/logs/{session}/regressors.log",
    benchmark:
        "results/benchmarks/{session}/regressors.tsv"
    conda:
        "../../envs/stimulus.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        kernel=stimulus_kernel_params,
        method=config["stimulus"]["regressor"],
    script:
        "../../scripts/regressors.py"


rule regression:
    input:
        traces=stimulus_trace,
        regressors="results/{session}/stimulus/regressors.csv",
        table="results/{session}/stimulus/stimuli.csv",
        facts="results/{session}/ingest/recording.json",
    output:
        regression="results/{session}/stimulus/regression.csv",
        responses="results/{session}/stimulus/stimulus_responses.csv",
    log:
        "results/logs/{session}/regression.log",
    benchmark:
        "results/benchmarks/{session}/regression.tsv"
    conda:
        "../../envs/stimulus.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, input: max(1000, int(3 * input.size_mb)),
        runtime=30,
    params:
        stimulus=settings("stimulus"),
    script:
        "../../scripts/regression.py"


rule stimulus_figures:
    input:
        traces=stimulus_trace,
        regressors="results/{session}/stimulus/regressors.csv",
        table="results/{session}/stimulus/stimuli.csv",
        regression="results/{session}/stimulus/regression.csv",
        facts="results/{session}/ingest/recording.json",
    output:
        regressors=report(
            "results/{session}/stimulus/regressors.png",
            caption="../report/regressors.rst",
            category="4. Stimulus-locked",
            subcategory="{session}",
            labels={"session": "{session}", "figure": "regressors"},
        ),
        r2=report(
            "results/{session}/stimulus/r2.png",
            caption="../report/r2.rst",
            category="4. Stimulus-locked",
            subcategory="{session}",
            labels={"session": "{session}", "figure": "R² histogram"},
        ),
        heatmaps=report(
            "results/{session}/stimulus/heatmaps.png",
            caption="../report/heatmaps.rst",
            category="4. Stimulus-locked",
            subcategory="{session}",
            labels={"session": "{session}", "figure": "clustered heat maps"},
        ),
        examples=report(
            "results/{session}/stimulus/response_types.png",
            caption="../report/response_types.rst",
            category="4. Stimulus-locked",
            subcategory="{session}",
            labels={"session": "{session}", "figure": "response types"},
        ),
    log:
        "results/logs/{session}/stimulus_figures.log",
    benchmark:
        "results/benchmarks/{session}/stimulus_figures.tsv"
    conda:
        "../../envs/stimulus.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, input: max(1000, int(3 * input.size_mb)),
        runtime=30,
    params:
        stimulus=settings("stimulus"),
        max_neurons=config["figures"]["max_neurons"],
    script:
        "../../scripts/stimulus_figures.py"

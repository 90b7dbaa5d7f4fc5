rule regression:
    input:
        unpack(trial_input),
        stimuli=stimulus_table,
        traces=stimulus_trace,
        facts=rules.ingest.output.facts,
    output:
        stimuli="results/{session}/stimulus/stimuli.csv",
        regressors="results/{session}/stimulus/regressors.csv",
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
        mem_mb=lambda wc, input: max(1000, int(800 + 0.05 * input.size_mb)),
        runtime=30,
    params:
        # the regressor kernel, its time constants from the session's indicator
        kernel=lambda wc: stimulus_kernel(
            config["stimulus"], sessions.loc[wc.session, "indicator"]
        ),
        regression=settings(
            "stimulus",
            [
                "regressor",
                "min_r2",
                "response_type",
                "response_window_s",
                "baseline_window_s",
            ],
        ),
    script:
        "../../scripts/regression.py"


rule stimulus_figures:
    input:
        unpack(trial_input),
        traces=stimulus_trace,
        regressors=rules.regression.output.regressors,
        stimuli=rules.regression.output.stimuli,
        regression=rules.regression.output.regression,
        facts=rules.ingest.output.facts,
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
        figures={
            **settings("stimulus", ["min_r2", "heatmap_bin_s", "examples_per_type"]),
            "max_neurons": config["figures"]["max_neurons"],
        },
    script:
        "../../scripts/stimulus_figures.py"


rule trial_responses:
    input:
        unpack(trial_input),
        traces=stimulus_trace,
        stimuli=rules.regression.output.stimuli,
        regression=rules.regression.output.regression,
        facts=rules.ingest.output.facts,
    output:
        table="results/{session}/stimulus/trial_responses.csv",
        figure=report(
            "results/{session}/stimulus/trial_responses.png",
            caption="../report/trial_responses.rst",
            category="4. Stimulus-locked",
            subcategory="{session}",
            labels={"session": "{session}", "figure": "trial-aligned responses"},
        ),
    log:
        "results/logs/{session}/trial_responses.log",
    benchmark:
        "results/benchmarks/{session}/trial_responses.tsv"
    conda:
        "../../envs/stimulus.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, input: max(1000, int(800 + 0.05 * input.size_mb)),
        runtime=30,
    params:
        stimulus=settings(
            "stimulus",
            [
                "response_window_s",
                "baseline_window_s",
                "trial_window_s",
                "examples_per_type",
            ],
        ),
        trace=config["stimulus"]["input"],
    script:
        "../../scripts/trial_responses.py"

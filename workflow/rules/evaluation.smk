rule evaluate:
    input:
        unpack(trial_input),
        spikes=rules.deconvolve.output.spikes,
        activity=rules.deconvolve.output.activity,
        spike_times=rules.spike_times.output.table,
        calcium=rules.deconvolve.output.calcium,
        traces=rules.detrend.output[0],
        truth=ground_truth,
        facts=rules.ingest.output.facts,
    output:
        table="results/{session}/evaluation/evaluation.csv",
        summary="results/{session}/evaluation/summary.csv",
        figure=report(
            "results/{session}/evaluation/evaluation.png",
            caption="../report/evaluation.rst",
            category="5. Ground truth",
            subcategory="{session}",
            labels={"session": "{session}", "figure": "inferred vs true spikes"},
        ),
    log:
        "results/logs/{session}/evaluate.log",
    benchmark:
        "results/benchmarks/{session}/evaluate.tsv"
    conda:
        "../../envs/evaluation.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, input: max(1000, int(500 + 0.05 * input.size_mb)),
        runtime=30,
    params:
        evaluation=settings("evaluation"),
    script:
        "../../scripts/evaluate.py"


rule expected_accuracy:
    input:
        unpack(trial_input),
        dff=rules.dff.output[0],
        scan=rules.detrend.output.scan,
        facts=rules.ingest.output.facts,
    output:
        table="results/{session}/evaluation/expected_accuracy.csv",
        neurons="results/{session}/evaluation/expected_accuracy_neurons.csv",
        references="results/{session}/evaluation/expected_accuracy_references.csv",
        figure=report(
            "results/{session}/evaluation/expected_accuracy.png",
            caption="../report/expected_accuracy.rst",
            category="5. Ground truth",
            subcategory="{session}",
            labels={"session": "{session}", "figure": "expected accuracy"},
        ),
    log:
        "results/logs/{session}/expected_accuracy.log",
    benchmark:
        "results/benchmarks/{session}/expected_accuracy.tsv"
    conda:
        "../../envs/evaluation.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    params:
        expected_accuracy=settings("expected_accuracy"),
        indicator=lambda wildcards: sessions.loc[wildcards.session, "indicator"],
        deconvolution=deconvolution_params,
        spike_times=sorted_keys(spike_time_settings(config["spike_times"])),
        evaluation=settings("evaluation", ["bin_s", "tolerance_s"]),
        trace=config["deconvolution"]["input"],
        # the steps between ΔF/F and the trace deconvolved, and only those
        detrend=settings("detrend") if config["deconvolution"]["input"] != "dff" else {},
        denoise=(
            settings("denoise")
            if config["deconvolution"]["input"] == "denoised"
            else {}
        ),
    script:
        "../../scripts/expected_accuracy.py"


rule deconvolution_table:
    input:
        settings=rules.deconvolve.output.table,
        quality=rules.expected_accuracy.output.neurons,
    output:
        "results/{session}/deconvolution.tsv",
    log:
        "results/logs/{session}/deconvolution_table.log",
    benchmark:
        "results/benchmarks/{session}/deconvolution_table.tsv"
    conda:
        "../../envs/evaluation.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, input: max(500, int(200 + 5 * input.size_mb)),
        runtime=5,
    script:
        "../../scripts/deconvolution_table.py"

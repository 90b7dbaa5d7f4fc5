rule evaluate:
    input:
        spikes="results/{session}/spikes.npy",
        activity="results/{session}/activity.npy",
        spike_times="results/{session}/spike_times.csv",
        calcium="results/{session}/calcium.npy",
        traces="results/{session}/detrended.npy",
        truth=ground_truth,
        facts="results/{session}/ingest/recording.json",
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
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, input: max(1000, int(2 * input.size_mb)),
        runtime=30,
    params:
        evaluation=settings("evaluation"),
    script:
        "../../scripts/evaluate.py"

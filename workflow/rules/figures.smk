rule trace_figure:
    input:
        raw="results/{session}/ingest/fluorescence.npy",
        dff="results/{session}/dff.npy",
        detrended="results/{session}/detrended.npy",
        denoised="results/{session}/denoised.npy",
        calcium="results/{session}/calcium.npy",
        spike_times="results/{session}/spike_times.csv",
        facts="results/{session}/ingest/recording.json",
    output:
        report(
            "results/{session}/figures/traces.png",
            caption="../report/traces.rst",
            category="1. Signal chain",
            subcategory="{session}",
            labels={"session": "{session}", "figure": "traces across steps"},
        ),
    log:
        "results/logs/{session}/trace_figure.log",
    benchmark:
        "results/benchmarks/{session}/trace_figure.tsv"
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        figures=config["figures"],
        frame_rate_hz=frame_rate_hz,
        input_kind=lambda wc: sessions.loc[wc.session, "input_kind"],
    script:
        "../../scripts/trace_figure.py"

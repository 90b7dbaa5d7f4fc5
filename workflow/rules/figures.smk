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
        figures=settings("figures"),
        frame_rate_hz=frame_rate_hz,
        input_kind=lambda wc: sessions.loc[wc.session, "input_kind"],
    script:
        "../../scripts/trace_figure.py"


rule events_figure:
    input:
        traces=lambda wc: f"results/{wc.session}/{EVENT_TRACE}.npy",
        events="results/{session}/events/events.csv",
        thresholds="results/{session}/events/event_thresholds.tsv",
        facts="results/{session}/ingest/recording.json",
    output:
        report(
            "results/{session}/figures/events.png",
            caption="../report/events.rst",
            category="2. Events",
            subcategory="{session}",
            labels={"session": "{session}", "figure": "events on traces"},
        ),
    log:
        "results/logs/{session}/events_figure.log",
    benchmark:
        "results/benchmarks/{session}/events_figure.tsv"
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        figures=settings("figures"),
        trace=config["events"]["input"],
    script:
        "../../scripts/events_figure.py"


rule raster_figure:
    input:
        events="results/{session}/events/events.csv",
        ensemble_events="results/{session}/ensembles/ensemble_events.csv",
        facts="results/{session}/ingest/recording.json",
    output:
        report(
            "results/{session}/figures/raster.png",
            caption="../report/raster.rst",
            category="2. Events",
            subcategory="{session}",
            labels={"session": "{session}", "figure": "raster"},
        ),
    log:
        "results/logs/{session}/raster_figure.log",
    benchmark:
        "results/benchmarks/{session}/raster_figure.tsv"
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        max_neurons=config["figures"]["max_neurons"],
    script:
        "../../scripts/raster_figure.py"


rule features_figure:
    input:
        "results/{session}/events/features.csv",
    output:
        report(
            "results/{session}/figures/features.png",
            caption="../report/features.rst",
            category="2. Events",
            subcategory="{session}",
            labels={"session": "{session}", "figure": "feature distributions"},
        ),
    log:
        "results/logs/{session}/features_figure.log",
    benchmark:
        "results/benchmarks/{session}/features_figure.tsv"
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../../scripts/features_figure.py"


rule coactivity_figure:
    input:
        coactivity="results/{session}/population/coactivity.csv",
        threshold="results/{session}/population/null_threshold.json",
        histogram="results/{session}/population/null_histogram.csv",
        facts="results/{session}/ingest/recording.json",
    output:
        report(
            "results/{session}/figures/coactivity.png",
            caption="../report/coactivity.rst",
            category="3. Coactivity and ensembles",
            subcategory="{session}",
            labels={"session": "{session}", "figure": "coactivity and null"},
        ),
    log:
        "results/logs/{session}/coactivity_figure.log",
    benchmark:
        "results/benchmarks/{session}/coactivity_figure.tsv"
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../../scripts/coactivity_figure.py"


rule similarity_figure:
    input:
        similarity="results/{session}/ensembles/similarity.npy",
        clustering="results/{session}/ensembles/clustering.json",
        labels="results/{session}/ensembles/ensemble_events.csv",
    output:
        report(
            "results/{session}/figures/similarity.png",
            caption="../report/similarity.rst",
            category="3. Coactivity and ensembles",
            subcategory="{session}",
            labels={"session": "{session}", "figure": "ensemble-event similarity"},
        ),
    log:
        "results/logs/{session}/similarity_figure.log",
    benchmark:
        "results/benchmarks/{session}/similarity_figure.tsv"
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../../scripts/similarity_figure.py"


rule membership_figure:
    input:
        members="results/{session}/ensembles/ensemble_members.csv",
        clustering="results/{session}/ensembles/clustering.json",
        facts="results/{session}/ingest/recording.json",
    output:
        report(
            "results/{session}/figures/ensembles.png",
            caption="../report/ensembles.rst",
            category="3. Coactivity and ensembles",
            subcategory="{session}",
            labels={"session": "{session}", "figure": "ensemble membership"},
        ),
    log:
        "results/logs/{session}/membership_figure.log",
    benchmark:
        "results/benchmarks/{session}/membership_figure.tsv"
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../../scripts/membership_figure.py"

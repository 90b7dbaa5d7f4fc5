rule figures:
    input:
        [figure for session in sessions.index for figure in session_figures(session)],
    localrule: True


rule trace_figures:
    input:
        # sessions with stimuli: the regression table (example neurons per response type)
        unpack(
            lambda wc: (
                {"regression": f"results/{wc.session}/stimulus/regression.csv"}
                if has_stimuli(wc.session)
                else {}
            )
        ),
        raw="results/{session}/ingest/fluorescence.npy",
        dff="results/{session}/dff.npy",
        detrended="results/{session}/detrended.npy",
        denoised="results/{session}/denoised.npy",
        calcium="results/{session}/calcium.npy",
        spike_times="results/{session}/spike_times.csv",
        event_traces=lambda wc: f"results/{wc.session}/{EVENT_TRACE}.npy",
        events="results/{session}/events/events.csv",
        thresholds="results/{session}/events/event_thresholds.tsv",
        features="results/{session}/events/features.csv",
        members="results/{session}/ensembles/ensemble_members.csv",
        facts="results/{session}/ingest/recording.json",
    output:
        traces=report(
            "results/{session}/figures/traces.png",
            caption="../report/traces.rst",
            category="1. Signal chain",
            subcategory="{session}",
            labels={"session": "{session}", "figure": "traces across steps"},
        ),
        events=report(
            "results/{session}/figures/events.png",
            caption="../report/events.rst",
            category="2. Events",
            subcategory="{session}",
            labels={"session": "{session}", "figure": "events on traces"},
        ),
    log:
        "results/logs/{session}/trace_figures.log",
    benchmark:
        "results/benchmarks/{session}/trace_figures.tsv"
    priority: 1
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        figures=settings("figures"),
        event_trace=config["events"]["input"],
    script:
        "../../scripts/trace_figures.py"


rule population_figures:
    input:
        events="results/{session}/events/events.csv",
        features="results/{session}/events/features.csv",
        coactivity="results/{session}/population/coactivity.csv",
        threshold="results/{session}/population/null_threshold.json",
        histogram="results/{session}/population/null_histogram.csv",
        activations="results/{session}/ensembles/ensemble_activations.csv",
        members="results/{session}/ensembles/ensemble_members.csv",
        similarity="results/{session}/ensembles/similarity.npy",
        clustering="results/{session}/ensembles/clustering.json",
        facts="results/{session}/ingest/recording.json",
    output:
        raster=report(
            "results/{session}/figures/raster.png",
            caption="../report/raster.rst",
            category="2. Events",
            subcategory="{session}",
            labels={"session": "{session}", "figure": "raster"},
        ),
        features=report(
            "results/{session}/figures/features.png",
            caption="../report/features.rst",
            category="2. Events",
            subcategory="{session}",
            labels={"session": "{session}", "figure": "feature distributions"},
        ),
        coactivity=report(
            "results/{session}/figures/coactivity.png",
            caption="../report/coactivity.rst",
            category="3. Coactivity and ensembles",
            subcategory="{session}",
            labels={"session": "{session}", "figure": "coactivity and null"},
        ),
        similarity=report(
            "results/{session}/figures/similarity.png",
            caption="../report/similarity.rst",
            category="3. Coactivity and ensembles",
            subcategory="{session}",
            labels={"session": "{session}", "figure": "ensemble-event similarity"},
        ),
        membership=report(
            "results/{session}/figures/ensembles.png",
            caption="../report/ensembles.rst",
            category="3. Coactivity and ensembles",
            subcategory="{session}",
            labels={"session": "{session}", "figure": "ensemble membership"},
        ),
    log:
        "results/logs/{session}/population_figures.log",
    benchmark:
        "results/benchmarks/{session}/population_figures.tsv"
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        max_neurons=config["figures"]["max_neurons"],
    script:
        "../../scripts/population_figures.py"


rule roi_map:
    input:
        footprints="results/{session}/ingest/footprints.npz",
        members="results/{session}/ensembles/ensemble_members.csv",
        facts="results/{session}/ingest/recording.json",
    output:
        report(
            "results/{session}/figures/roi_map.png",
            caption="../report/roi_map.rst",
            category="3. Coactivity and ensembles",
            subcategory="{session}",
            labels={"session": "{session}", "figure": "ROI map"},
        ),
    log:
        "results/logs/{session}/roi_map.log",
    benchmark:
        "results/benchmarks/{session}/roi_map.tsv"
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../../scripts/roi_map.py"

rule figures:
    input:
        [figure for session in sessions.index for figure in session_figures(session)],
    localrule: True


rule trace_figures:
    input:
        unpack(trial_input),
        # sessions with stimuli: the regression table (example neurons per response type)
        unpack(
            lambda wc: (
                {"regression": f"results/{wc.session}/stimulus/regression.csv"}
                if has_stimuli(wc.session)
                else {}
            )
        ),
        raw=rules.ingest.output.traces,
        dff=rules.dff.output[0],
        detrended=rules.detrend.output[0],
        denoised=rules.denoise.output[0],
        calcium=rules.deconvolve.output.calcium,
        spike_times=rules.spike_times.output.table,
        event_traces=lambda wc: f"results/{wc.session}/{EVENT_TRACE}.npy",
        events=rules.events.output.events,
        thresholds=rules.events.output.thresholds,
        features=rules.features.output.features,
        members=rules.ensembles.output.members,
        facts=rules.ingest.output.facts,
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
        unpack(trial_input),
        events=rules.events.output.events,
        features=rules.features.output.features,
        coactivity=rules.coactivity.output.coactivity,
        threshold=rules.coactivity.output.threshold,
        histogram=rules.coactivity.output.histogram,
        activations=rules.ensembles.output.activations,
        members=rules.ensembles.output.members,
        similarity=rules.ensembles.output.similarity,
        clustering=rules.ensembles.output.clustering,
        facts=rules.ingest.output.facts,
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
        footprints=rules.ingest.output.footprints,
        members=rules.ensembles.output.members,
        facts=rules.ingest.output.facts,
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

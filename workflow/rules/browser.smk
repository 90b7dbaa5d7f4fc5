BROWSER_ASSETS = "workflow/resources/browser"


rule browser:
    input:
        unpack(browser_stimulus_inputs),
        unpack(trial_input),
        facts=rules.ingest.output.facts,
        neurons=rules.ingest.output.neurons,
        footprints=rules.ingest.output.footprints,
        raw=rules.ingest.output.traces,
        dff=rules.dff.output[0],
        detrended=rules.detrend.output[0],
        denoised=rules.denoise.output[0],
        calcium=rules.deconvolve.output.calcium,
        spikes=rules.deconvolve.output.spikes,
        spike_times=rules.spike_times.output.table,
        deconvolution=rules.deconvolve.output.table,
        quality=rules.expected_accuracy.output.neurons,
        events=rules.events.output.events,
        thresholds=rules.events.output.thresholds,
        features=rules.features.output.features,
        coactivity=rules.coactivity.output.coactivity,
        null_threshold=rules.coactivity.output.threshold,
        null_histogram=rules.coactivity.output.histogram,
        ensembles=rules.ensembles.output.ensembles,
        ensemble_events=rules.ensembles.output.activations,
        ensemble_activation_times=rules.ensembles.output.activation_times,
        ensemble_members=rules.ensembles.output.members,
        template=f"{BROWSER_ASSETS}/page.html",
        js=f"{BROWSER_ASSETS}/browser.js",
        css=f"{BROWSER_ASSETS}/browser.css",
        uplot_js=f"{BROWSER_ASSETS}/uPlot.iife.min.js",
        uplot_css=f"{BROWSER_ASSETS}/uPlot.min.css",
    output:
        report(
            "results/{session}/browser.html",
            caption="../report/browser.rst",
            category="6. Session browser",
            subcategory="{session}",
            labels={"session": "{session}", "page": "session browser"},
        ),
    log:
        "results/logs/{session}/browser.log",
    benchmark:
        "results/benchmarks/{session}/browser.tsv"
    conda:
        "../../envs/figures.yaml"
    threads: block_threads(50_000_000)  # threads decimating the traces
    resources:
        mem_mb=3000,
        runtime=60,
    params:
        browser=settings("browser"),
        dff=dff_params,
        roles={
            "events": config["events"]["input"],
            "stimulus": config["stimulus"]["input"],
            "deconvolution": config["deconvolution"]["input"],
            "event_time": config["coactivity"]["event_time"],
        },
        trial_window_s=config["stimulus"]["trial_window_s"],
    script:
        "../../scripts/browser.py"

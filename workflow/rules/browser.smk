BROWSER_ASSETS = "workflow/resources/browser"


rule browser:
    input:
        unpack(browser_stimulus_inputs),
        facts="results/{session}/ingest/recording.json",
        neurons="results/{session}/ingest/neurons.tsv",
        footprints="results/{session}/ingest/footprints.npz",
        raw="results/{session}/ingest/fluorescence.npy",
        dff="results/{session}/dff.npy",
        detrended="results/{session}/detrended.npy",
        denoised="results/{session}/denoised.npy",
        calcium="results/{session}/calcium.npy",
        spikes="results/{session}/spikes.npy",
        spike_times="results/{session}/spike_times.csv",
        deconvolution="results/{session}/deconvolution.tsv",
        quality="results/{session}/evaluation/expected_accuracy_neurons.csv",
        events="results/{session}/events/events.csv",
        thresholds="results/{session}/events/event_thresholds.tsv",
        features="results/{session}/events/features.csv",
        coactivity="results/{session}/population/coactivity.csv",
        null_threshold="results/{session}/population/null_threshold.json",
        null_histogram="results/{session}/population/null_histogram.csv",
        ensembles="results/{session}/ensembles/ensembles.csv",
        ensemble_events="results/{session}/ensembles/ensemble_activations.csv",
        ensemble_members="results/{session}/ensembles/ensemble_members.csv",
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

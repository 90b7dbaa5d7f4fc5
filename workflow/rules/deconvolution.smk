rule deconvolve:
    input:
        unpack(trial_input),
        unpack(deconvolution_input),
        scan=rules.detrend.output.scan,
        facts=rules.ingest.output.facts,
    output:
        calcium="results/{session}/calcium.npy",
        spikes="results/{session}/spikes.npy",
        activity="results/{session}/activity.npy",
        table="results/{session}/deconvolution_settings.tsv",
    log:
        "results/logs/{session}/deconvolve.log",
    benchmark:
        "results/benchmarks/{session}/deconvolve.tsv"
    priority: 5
    conda:
        "../../envs/deconvolution.yaml"
    threads: block_threads(5_000_000)
    resources:
        mem_mb=block_mem_mb(10),
        runtime=block_runtime(2),
    params:
        oasis=deconvolution_params,
        denoise=denoise_of_input(config["deconvolution"]["input"]),
    script:
        "../../scripts/deconvolve.py"


rule spike_times:
    input:
        unpack(trial_input),
        spikes=rules.deconvolve.output.spikes,
        table=rules.deconvolve.output.table,
        facts=rules.ingest.output.facts,
    output:
        table="results/{session}/spike_times.csv",
        arrays="results/{session}/spike_times.npz",
    log:
        "results/logs/{session}/spike_times.log",
    benchmark:
        "results/benchmarks/{session}/spike_times.tsv"
    conda:
        "../../envs/signal.yaml"
    threads: block_threads(20_000_000)
    resources:
        mem_mb=block_mem_mb(3),
        runtime=block_runtime(0.05),
    params:
        thresholds=sorted_keys(spike_time_settings(config["spike_times"])),
    script:
        "../../scripts/spike_times.py"

rule ingest:
    input:
        unpack(trial_table_input),
        data=raw_csv,
    output:
        traces="results/{session}/ingest/fluorescence.npy",
        facts="results/{session}/ingest/recording.json",
        neurons="results/{session}/ingest/neurons.tsv",
        footprints="results/{session}/ingest/footprints.npz",
        neuropil="results/{session}/ingest/neuropil.npy",
        trials="results/{session}/ingest/trials.csv",
    log:
        "results/logs/{session}/ingest.log",
    benchmark:
        "results/benchmarks/{session}/ingest.tsv"
    conda:
        "../../envs/nwb.yaml"
    threads: 1
    resources:
        mem_mb=ingest_mem_mb,
        runtime=ingest_runtime,
    params:
        input_settings=settings("input"),
        frame_rate_hz=frame_rate_hz,
        input_kind=lambda wc: sessions.loc[wc.session, "input_kind"],
        nwb=lambda wc: nwb_selection(sessions.loc[wc.session].to_dict())._asdict(),
    script:
        "../../scripts/ingest.py"

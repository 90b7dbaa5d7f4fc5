"""The session browser's data: a session's results folder read into `SessionData`.

`read_session` takes the paths of the browser rule's inputs (by name) and the config keys the
page shows, reads the traces (as row readers: a block of neurons at a time), tables and null,
and returns what `calcium.outputs.browser.build_page` draws. `raw_traces` gives the raw
trace with its resting fluorescence F0, computed as the dff stage computes it
(`calcium.signal.dff.baseline_f0`: the workflow keeps ΔF/F, not F0).
"""

from __future__ import annotations

import numpy as np

from calcium.input.trial_structure import blank_gaps, bounds_from_table, frame_trials, gap_spans_s
from calcium.io import NpyRows, load_json, read_table
from calcium.outputs.browser import DenseTrace, SessionData

MAX_BLOCK_SAMPLES = 8_000_000  # samples read and decimated at a time (bounds memory: ~0.4 GB)


def block_neurons(n_frames: int) -> int:
    """Neurons read (and decimated) at a time: at most 256, at most MAX_BLOCK_SAMPLES samples."""
    return max(1, min(256, MAX_BLOCK_SAMPLES // n_frames))


def raw_traces(
    raw_path, dff: dict, frame_rate_hz: float, trials: np.ndarray | None = None
) -> tuple[list[DenseTrace], np.ndarray | None]:
    """The input's trace and its F0: (dense traces, F0 per neuron or None).

    dff: the dff rule's settings (input_kind, percentile, window_s). Input ΔF/F: one trace, no
    F0. Raw F: F0 of the whole recording is one value per neuron (returned, computed a block
    of neurons at a time); a sliding F0 is a second trace "f0", computed as its rows are read.
    trials: a session cut into trials ((trials, 2) first and one-past-last frames): F0 is each
    trial's own, as the dff stage computes it, a trace "f0" (NaN in gaps).
    """
    raw = NpyRows(raw_path)
    if dff["input_kind"] == "dff":
        return [DenseTrace("raw", "input ΔF/F", "ΔF/F", raw)], None
    from calcium.signal.dff import baseline_f0

    def f0_of(block):
        return baseline_f0(block, dff["percentile"], dff["window_s"], frame_rate_hz)

    traces = [DenseTrace("raw", "raw F", "F (a.u.)", raw)]
    if trials is not None:
        from calcium.input.trial_structure import per_trial

        def f0_per_trial(block):
            return per_trial(f0_of, block, trials, fill=np.nan)

        return traces + [
            DenseTrace("f0", "F0 (each trial's)", "F (a.u.)", NpyRows(raw_path, f0_per_trial))
        ], None
    if dff["window_s"] is not None:
        return traces + [DenseTrace("f0", "F0 (sliding)", "F (a.u.)", NpyRows(raw_path, f0_of))], None
    n_neurons, step = raw.shape[0], block_neurons(raw.shape[1])
    f0 = np.concatenate([f0_of(raw[a : min(a + step, n_neurons)])[:, 0] for a in range(0, n_neurons, step)])
    return traces, f0


def null_view(coactivity, histogram, null: dict) -> dict:
    """The null as the coactivity figure shows it: the tested statistic per bin, each bin's
    threshold, the pooled null distribution (fraction of bins with 0..k-1 active neurons) and
    each bin's P(null >= observed)."""
    from calcium.population.coactivity import window_frames
    from calcium.population.null import null_exceedance
    from calcium.population.steps import effective_thresholds

    tested = coactivity["n_active_window"].to_numpy()
    pooled = histogram.groupby("n_active").n_bins.sum()
    null_fraction = np.zeros(int(pooled.index.max()) + 1 if len(pooled) else 0)
    null_fraction[pooled.index.to_numpy(dtype=int)] = pooled.to_numpy() / max(pooled.sum(), 1)
    p_values = null_exceedance(
        tested,
        window_frames(coactivity["n_frames"].to_numpy(), null.get("jitter_bins", 0)),
        histogram.frames.to_numpy(),
        histogram.n_active.to_numpy(),
        histogram.n_bins.to_numpy(),
    )
    return {
        "coactivity": tested,
        "coactivity_start_s": coactivity["start_s"].to_numpy(),
        "coactivity_bin_s": float(null.get("bin_s", 0.0)) or None,
        "coactivity_threshold": null.get("threshold_n_active"),
        "coactivity_thresholds": effective_thresholds(coactivity, null),
        "coactivity_p": p_values,
        "null_fraction": null_fraction,
        "coactivity_label": f"neurons active within ± {null.get('jitter_bins', 0)} bins",
        "coactivity_n_shuffles": null.get("n_shuffles"),
    }


def read_session(
    paths: dict, session: str, dff: dict, roles: dict, trial_window_s
) -> tuple[SessionData, tuple[int, int]]:
    """A session's results (the browser rule's inputs by name) as the page's `SessionData`,
    and the shape (neurons, frames) of its traces.

    dff: the dff rule's settings; roles: which trace the events, the regression and OASIS
    used, and the event time of the coactivity bins; trial_window_s: stimulus.trial_window_s.
    """
    from calcium.outputs.roimap import read_footprints
    from calcium.population.ordering import raster_orders
    from calcium.stimulus.regressors import regressors_from_table

    facts = load_json(paths["facts"])
    fs = float(facts["frame_rate_hz"])
    # a session cut into trials (ingest/trials.csv): the stages' gap frames (0) shown as breaks (NaN)
    bounds = bounds_from_table(read_table(paths["trials"])) if "trials" in paths else None
    gap = None if bounds is None else frame_trials(bounds, int(facts["n_frames"])) < 0

    def stage(path):
        return NpyRows(path) if gap is None else NpyRows(path, lambda block: blank_gaps(block, gap))

    traces, f0 = raw_traces(paths["raw"], dff, fs, bounds)
    traces += [
        DenseTrace("dff", "ΔF/F", "ΔF/F", stage(paths["dff"])),
        DenseTrace("detrended", "detrended ΔF/F", "ΔF/F", stage(paths["detrended"])),
        DenseTrace("denoised", "wavelet-denoised ΔF/F", "ΔF/F", stage(paths["denoised"])),
        DenseTrace("calcium", "OASIS calcium c", "ΔF/F", stage(paths["calcium"])),
        DenseTrace("spikes", "OASIS spike amplitude s", "s (ΔF/F)", stage(paths["spikes"])),
    ]
    shape = traces[0].rows.shape
    events = read_table(paths["events"])
    null = load_json(paths["null_threshold"])
    regression = read_table(paths["regression"]) if "regression" in paths else None
    start_s = float(facts.get("start_time_s", 0.0))
    orders = raster_orders(
        shape[0],
        events.neuron.to_numpy(),
        events[f"{roles['event_time']}_s"].to_numpy(),
        start_s,
        float(facts["duration_s"]),
        float(null.get("bin_s", 0.0)) or 1.0,
        read_table(paths["ensemble_members"]),
        regression,
    )
    quality = read_table(paths["quality"])
    data = SessionData(
        session=session,
        frame_rate_hz=fs,
        start_time_s=start_s,
        traces=traces,
        labels=read_table(paths["neurons"]).sort_values("neuron")["label"].astype(str).tolist(),
        spikes=read_table(paths["spike_times"])[["neuron", "frame"]],
        events=events,
        f0=f0,
        neuron_tables={
            "features": read_table(paths["features"]),
            "thresholds": read_table(paths["thresholds"]),
            "deconvolution": read_table(paths["deconvolution"]),
            "expected accuracy": quality[
                ["neuron", "nu", "expected_correlation", "quality_flag", "quality_reason"]
            ],
        },
        roles=dict(roles),
        ensembles=read_table(paths["ensembles"]),
        ensemble_events=read_table(paths["ensemble_events"]),
        ensemble_activation_times=read_table(paths["ensemble_activation_times"]),
        ensemble_members=read_table(paths["ensemble_members"]),
        raster_orders=orders,
        footprints=read_footprints(paths["footprints"]),
        trial_gaps_s=None if bounds is None else gap_spans_s(bounds, shape[1], fs, start_s),
        trial_bounds=bounds,
        **null_view(read_table(paths["coactivity"]), read_table(paths["null_histogram"]), null),
    )
    if "stimuli" in paths:
        data.stimuli = read_table(paths["stimuli"])[["stimulus", "onset_s", "offset_s"]]
        labels, _, regressors = regressors_from_table(read_table(paths["regressors"]))
        data.regressors = {label: regressors[k] for k, label in enumerate(labels)}
        data.regression = regression
        data.trials = read_table(paths["trial_responses"])
        data.trial_window_s = tuple(trial_window_s)
    return data, shape

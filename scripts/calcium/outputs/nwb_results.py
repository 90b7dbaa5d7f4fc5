"""NWB: a session's results folder into the file, each result with its description.

The rule script hands over the paths of the session's results (the nwb rule's inputs, by
name) and the config keys the file records; `session_writer` opens the file with its
metadata and ROI masks, `add_session_traces` adds the traces and `add_session_tables` the
spikes, events, population, ensemble, stimulus and evaluation tables.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pandas as pd

from calcium.io import load_json, load_npy, read_table


def session_writer(
    paths: dict,
    session: dict,
    settings: dict,
    nwb_settings: dict,
    version: str,
    workers: int,
    metadata_schema: str | Path,
    open_files: contextlib.ExitStack,
):
    """The session's `SessionNwbWriter`, what DANDI will still ask for, and its ROI masks.

    paths: the nwb rule's inputs by name; session: the sheet's fields (rule param session);
    settings: the config keys the file records; nwb_settings: config section nwb (metadata
    and gzip_level); metadata_schema: path of the schema of the sheet's metadata files (read
    when `paths` names one). An NWB input stays open in `open_files` while its ROI masks are copied.
    """
    from calcium.input.footprints import load_footprints
    from calcium.input.nwb import open_roi_masks
    from calcium.input.nwb_series import is_nwb
    from calcium.input.nwb_tables import read_nwb_metadata
    from calcium.outputs.nwb import SessionNwbWriter
    from calcium.outputs.nwb_file import footprint_masks
    from calcium.outputs.nwb_metadata import read_metadata_file
    from calcium.outputs.nwb_session import session_metadata

    facts = load_json(paths["facts"])
    rate = float(facts["frame_rate_hz"])
    neurons = read_table(paths["neurons"])
    labels = neurons.label.astype(str).tolist()
    footprints = load_footprints(paths["footprints"])
    masks = footprint_masks(footprints, len(labels))
    source = None
    if is_nwb(session["path"]):
        series = session.get("nwb_series") or None
        source = read_nwb_metadata(session["path"], series, session["input_kind"])
        # the input's own masks, copied as they are (pixel, voxel or image masks)
        masks = open_files.enter_context(
            open_roi_masks(
                session["path"], series, session["input_kind"], settings["input"]["suite2p_cells_only"]
            )
        )
    user = {}
    if "metadata" in paths:
        import yaml

        user = read_metadata_file(paths["metadata"], yaml.safe_load(Path(metadata_schema).read_text()))
    metadata, missing = session_metadata(
        session, nwb_settings, source, version, settings, len(labels), rate, user
    )
    writer = SessionNwbWriter(
        metadata,
        rate,
        float(facts.get("start_time_s", 0.0)),
        labels,
        gzip_level=nwb_settings["gzip_level"],
        masks=masks,
        workers=workers,
        mean_image=footprints.mean_image if footprints.mean_image.size else None,
        roi_columns=neurons.drop(columns=["neuron", "label"]),
    )
    return writer, missing, masks


def add_session_traces(writer, paths: dict, input_kind: str, settings: dict, oasis: dict) -> str:
    """Raw F (and neuropil) unless the input was ΔF/F, the three ΔF/F series and the three
    deconvolved series; oasis: the session's resolved deconvolution settings. Returns a note
    on their size."""
    facts = load_json(paths["facts"])
    trace_note = f"{writer.n_neurons} ROIs x {facts['n_frames']} frames at {writer.frame_rate_hz:g} Hz"
    if input_kind == "dff":
        dff_text = "ΔF/F as given in the input (input_kind dff)"
    else:
        neuropil = settings["input"]["neuropil_coefficient"]
        neuropil_given = load_npy(paths["neuropil"]).shape[0] > 0
        writer.add_traces(
            "Fluorescence",
            "Fluorescence",
            "fluorescence",
            paths["fluorescence"],
            "fluorescence F as the workflow read it, in the input's units"
            + (f" (neuropil-corrected: raw F - {neuropil} x neuropil)" if neuropil_given else "")
            + f"; {trace_note}",
            unit="a.u.",
        )
        if neuropil_given:
            writer.add_traces(
                "Fluorescence",
                "Fluorescence",
                "neuropil",
                paths["neuropil"],
                f"neuropil fluorescence Fneu of each ROI as in the input (raw F = fluorescence + "
                f"{neuropil} x neuropil); {trace_note}",
                unit="a.u.",
            )
        dff = settings["dff"]
        window = f"a {dff['window_s']} s sliding window" if dff["window_s"] else "the whole recording"
        dff_text = f"ΔF/F = (F - F0) / F0, F0 the {dff['percentile']}th percentile of F over {window}"
    detrend, denoise = settings["detrend"], settings["denoise"]
    for name, text in (
        ("dff", dff_text),
        (
            "detrended",
            f"ΔF/F with drifts slower than {detrend['slow_drift_s']} s removed ({detrend['method']})",
        ),
        (
            "denoised",
            f"detrended ΔF/F, wavelet-denoised ({denoise['wavelet']}, level {denoise['level']}, "
            f"{denoise['threshold_rule']} {denoise['threshold_mode']} threshold)",
        ),
    ):
        writer.add_traces("DfOverF", "DfOverF", name, paths[name], f"{text}; {trace_note}")
    for name, unit, text in (
        (
            "calcium",
            "dF/F",
            f"OASIS inferred calcium c of the {settings['deconvolution']['input']} trace (ΔF/F)",
        ),
        ("spikes", "dF/F", "OASIS inferred spike amplitudes s: the jump of c at each frame (ΔF/F)"),
        (
            "activity",
            "dF/F per frame",
            "spike-rate estimate, not ΔF/F: s smoothed by a Gaussian (weights summing to 1) of each ROI's "
            "smoothing_s and moved its lag_s earlier (deconvolution.tsv; session values "
            f"{oasis['smoothing_s']:.4g} s and {oasis['lag_s']:.4g} s) - inferred spike amplitude per frame",
        ),
    ):
        writer.add_traces("Deconvolved", "Fluorescence", name, paths[name], f"{text}; {trace_note}", unit)
    return trace_note


def add_session_tables(writer, paths: dict, settings: dict, oasis: dict) -> list[str]:
    """Every table of the session's results (the ones `paths` names); returns the names of
    those written (empty tables are left out)."""
    written = []

    def add(name, table, text, **options):
        if writer.add_table(name, table, text, **options):
            written.append(name)

    deconvolved = read_table(paths["deconvolution"])  # per ROI: its rate, smoothing and timing correction
    spike_settings = settings["spike_times"]
    if writer.add_spikes(
        read_table(paths["spike_times"]),
        "spikes inferred from the calcium traces: frames where OASIS's s passes the "
        f"{spike_settings['method']} "
        "threshold (spike_times.method); times in s since session_start_time, moved lag_s earlier as in "
        "spike_times.csv; one row per ROI",
        lag_s=deconvolved.lag_s.to_numpy(float) if "lag_s" in deconvolved else float(oasis["lag_s"]),
    ):
        written.append("InferredSpikes")
    if writer.add_events(
        "calcium_events",
        read_table(paths["events"]),
        f"calcium events on the {settings['events']['input']} trace, one row per event (events.csv): "
        "timestamp = onset_s, duration = end_s - onset_s",
        time_column="onset_s",
        end_column="end_s",
    ):
        written.append("events")
    for name, key, text in (
        (
            "deconvolution",
            "deconvolution",
            "OASIS model per ROI (time constants, noise, the rate it was deconvolved at, smoothing and "
            "timing correction lag_s)",
        ),
        ("event_thresholds", "thresholds", "event detection threshold per ROI"),
        ("event_features", "features", "event features per ROI (rates, amplitudes, widths, coupling)"),
    ):
        add(name, read_table(paths[key]), text, where="ophys")
    _add_population_tables(add, paths, settings)
    _add_ensemble_tables(add, paths)
    if "trials" in paths:  # a session cut into trials (continuous sessions have no trials input)
        import pandas as pd

        writer.add_trials(pd.read_csv(paths["trials"], dtype=str, keep_default_na=False))
        written.append("trials")
    if "stimuli" in paths:
        from calcium.stimulus.regressors import regressors_from_table

        writer.add_stimuli(
            read_table(paths["stimuli"]), "stimulus presentations (s since session_start_time)"
        )
        stimulus_labels, boxcars, regressors = regressors_from_table(read_table(paths["regressors"]))
        writer.add_regressors(
            stimulus_labels, regressors, boxcars, f"{settings['stimulus']['kernel']} kernel"
        )
        for name, key, text in (
            (
                "stimulus_regression",
                "regression",
                "per-ROI linear regression of the trace on the regressors; response_type: the ROI's "
                "response type (stimulus with the largest coefficient, or not stimulus-locked)",
            ),
            ("stimulus_responses", "responses", "mean stimulus-locked response per ROI and stimulus"),
        ):
            add(name, read_table(paths[key]), text, where="analysis")
        written.append("stimuli")
    for key, text, neuron_columns in EVALUATION_TABLES:
        if key in paths:
            add(key, read_table(paths[key]), text, where="analysis", neuron_columns=neuron_columns)
    return written


def _add_population_tables(add, paths: dict, settings: dict) -> None:
    """Coactivity per bin and the circular-shift null (thresholds, distribution, shuffles)."""
    null = load_json(paths["null_threshold"])
    coactivity = settings["coactivity"]
    threshold = null.get("threshold_n_active")
    null_text = (
        f"circular-shift null: each neuron's event frames shifted by its own random offset, "
        f"{null['n_shuffles']} shuffles (seed {null['seed']}), {null['percentile']}th percentile of the "
        f"{null['statistic']} statistic; threshold "
        + (f"{threshold:.6g}" if isinstance(threshold, int | float) else "none")
        + " active neurons (bins of the most common length; per bin length in "
        "analysis/coactivity_null_thresholds)"
    )
    if null.get("note"):
        null_text += f"; {null['note']}"
    add(
        "coactivity",
        read_table(paths["coactivity"]),
        f"neurons with an event {coactivity['event_time']} in each {coactivity['bin_s']} s bin; {null_text}",
        where="analysis",
        descriptions=BIN_DESCRIPTIONS,
    )
    for name, table, text in (
        (
            "coactivity_null_thresholds",
            pd.DataFrame(null.get("thresholds", [])),
            f"the null's threshold for bins of each length (frames per bin); {null_text}",
        ),
        (
            "coactivity_null_distribution",
            read_table(paths["null_histogram"]),
            "distribution of the number of active neurons per bin under the circular-shift null, per bin "
            "length (frames): n_bins of the shuffled bins had n_active active neurons (fraction of them)",
        ),
        (
            "coactivity_null_shuffles",
            read_table(paths["null_shuffles"]),
            "per shuffle of the null: the largest and mean number of active neurons per bin",
        ),
    ):
        add(name, table, text, where="analysis", neuron_columns=())


def _add_ensemble_tables(add, paths: dict) -> None:
    """Ensemble events with their neurons, ensembles with their members and activations,
    membership, similarity."""
    pairs = read_table(paths["ensemble_event_neurons"])
    ensemble_events = read_table(paths["ensemble_events"])
    by_event = {e: g.neuron.to_numpy() for e, g in pairs.groupby("event")}
    add(
        "ensemble_events",
        ensemble_events,
        "bins whose coactivity passes the null threshold; ensemble: the event's ensemble (-1: none)",
        where="analysis",
        neuron_columns=(),
        ragged_neurons={"neurons": [by_event.get(e, np.array([], int)) for e in ensemble_events.event]},
        descriptions=BIN_DESCRIPTIONS,
    )
    members = read_table(paths["members"])
    ensembles = read_table(paths["ensembles"]).drop(columns=["members"])
    member_lists = [
        members.neuron[(members.ensemble == e) & members.member.astype(bool)].to_numpy()
        for e in ensembles.ensemble
    ]
    clustering = load_json(paths["clustering"])
    method = clustering.get("method", "jaccard")
    keys = ("linkage", "cutoff", "cut_distance", "null_percentile") if method == "jaccard" else ("alpha",)
    cluster_text = ", ".join(f"{k} {clustering[k]}" for k in keys if k in clustering)
    add(
        "ensembles",
        ensembles,
        f"ensembles ({method}): {METHOD_TEXT.get(method, method)} ({cluster_text}); each tested against "
        "the circular-shift null (p_value); members: rows of the ROI table",
        where="analysis",
        neuron_columns=(),
        ragged_neurons={"members": member_lists},
    )
    if paths.get("activation_times"):
        add(
            "ensemble_activation_times",
            read_table(paths["activation_times"]),
            "one row per (ensemble, activation), as many as the ensemble's n_events in the ensembles "
            "table: bin (peak), first_bin-last_bin, peak_s, start_s-end_s (its window), "
            "n_members_active, threshold_n_members, strength (R at the peak)",
            where="analysis",
            neuron_columns=(),
            descriptions={
                "start_s": "start of the activation's window (s)",
                "end_s": "end of the activation's window (s)",
                "peak_s": "start of the activation's peak bin (s)",
            },
        )
    add(
        "ensemble_membership",
        members,
        "participation of each neuron in each ensemble's events",
        where="analysis",
    )
    similarity = np.load(paths["similarity"])
    if similarity.size:
        add(
            "ensemble_event_similarity",
            pd.DataFrame({"event": np.arange(len(similarity))}),
            "Jaccard similarity between the neuron sets of the ensemble events "
            "(row i, column j: events i, j)",
            where="analysis",
            neuron_columns=(),
            matrices={"similarity": similarity},
        )


BIN_DESCRIPTIONS = {"start_s": "start of the bin (s)", "end_s": "end of the bin (s)"}
METHOD_TEXT = {
    "refined": "ICA patterns refined against the circular-shift null (members join the activations "
    "more often than their own rate predicts)",
    "ica": "ICA assemblies (Lopes-dos-Santos et al. 2013: Marchenko-Pastur count, members above "
    "mean + 2 SD of the pattern)",
    "jaccard": "clusters of ensemble events by the Jaccard similarity of their neurons",
}
# Evaluation tables (input name = table name), their descriptions and neuron columns.
EVALUATION_TABLES = (
    (
        "expected_accuracy",
        "expected accuracy of spike inference for this session's noise "
        "levels, from ground-truth recordings of its indicator (per noise band)",
        (),
    ),
    (
        "expected_accuracy_neurons",
        "noise level nu, skewness, band, expected spike-inference r and quality flag (expected r below 0.2, "
        "with the reason) of each ROI",
        ("neuron",),
    ),
    ("evaluation", "spike inference scored against the session's ground truth, per ROI", ("neuron",)),
    ("evaluation_summary", "spike inference scored against the ground truth, session summary", ()),
)

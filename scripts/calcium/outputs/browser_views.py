"""What the session browser stores of its optional views: the ROI map's manifest and the trial
table (each presentation's responses and, in a session cut into trials, the frames of its trial).
Pure: tables and arrays in, dicts out (`calcium.outputs.browser.build_page` packs them).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def roi_map_manifest(footprints) -> dict:
    """What the page says about its ROI map: the field's shape and source, or why there is none."""
    from calcium.outputs.roimap import NO_DATA_NOTE, field_shape

    if footprints is None or footprints.empty:
        return {"height": 0, "width": 0, "source": "none", "note": NO_DATA_NOTE}
    height, width = field_shape(footprints)
    note = "" if footprints.mean_image.size else "no mean image in the input: ROIs on black"
    return {"height": height, "width": width, "source": footprints.source, "note": note}


def trial_parts(
    trials: pd.DataFrame,
    n_neurons: int,
    bounds: np.ndarray | None = None,
    n_frames: int = 0,
    frame_rate_hz: float = 1.0,
    start_time_s: float = 0.0,
) -> dict:
    """The trial table as the page stores it: the presentations (stimulus, trial, onset_s; in
    the table's order) and "arrays": response_dff and baseline_dff, (neurons x presentations)
    float32 each, row-major, NaN where the table has no row.

    bounds: a session cut into trials ((trials, 2) first and one-past-last frames; n_frames,
    frame_rate_hz in Hz, start_time_s the time of frame 0): each presentation's "within" [first,
    stop) frames, those of the trial holding its onset's frame (the frame ceil((onset_s -
    start_time_s) * frame_rate_hz), as `calcium.stimulus.trial_responses.peri_stimulus`), the
    only frames the trial view draws of its window; None: no such limit."""
    keys = trials[["stimulus", "trial", "onset_s"]].drop_duplicates(["stimulus", "trial"])
    column = {(str(s), int(t)): k for k, (s, t) in enumerate(zip(keys.stimulus, keys.trial, strict=True))}
    where = np.array(
        [column[(str(s), int(t))] for s, t in zip(trials.stimulus, trials.trial, strict=True)], dtype=np.int64
    )
    arrays = []
    for name in ("response_dff", "baseline_dff"):
        values = np.full((n_neurons, len(keys)), np.nan, dtype=np.float32)
        values[trials.neuron.to_numpy(dtype=np.int64), where] = trials[name].to_numpy(dtype=np.float32)
        arrays.append(values.ravel())
    within = None
    if bounds is not None and n_frames:
        from calcium.input.trial_structure import frame_trials

        onset = np.ceil((keys.onset_s.to_numpy(dtype=np.float64) - start_time_s) * frame_rate_hz)
        own = frame_trials(bounds, n_frames)[np.clip(onset.astype(np.int64), 0, n_frames - 1)]
        ranges = np.where(own[:, None] >= 0, np.asarray(bounds, dtype=np.int64)[np.maximum(own, 0)], 0)
        within = ranges.tolist()  # [0, 0] for an onset in a gap: nothing drawn
    shown = {
        "stimulus": [str(s) for s in keys.stimulus],
        "trial": [int(t) for t in keys.trial],
        "onset_s": [float(t) for t in keys.onset_s],
        "arrays": arrays,
    }
    return shown if within is None else {**shown, "within": within}

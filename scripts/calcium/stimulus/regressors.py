"""Stimulus regressors: per stimulus label a boxcar convolved with the indicator's response kernel.

After Miri et al. 2011: each stimulus gives a boxcar (1 while it is on) that is
convolved with the indicator's response kernel; every neuron's ΔF/F is regressed
on all regressors at once. R² says how much of the trace the stimuli explain,
and the coefficient largest in magnitude says which stimulus drives (or, when
negative, suppresses) the neuron.

Regressors are computed in continuous time by default ("integrated"): the
boxcar convolved with the kernel analytically, averaged over each frame's
interval [t_k, t_k + 1/rate). A response therefore rises within the frame of
the onset at any frame rate. "sampled" is the discrete recipe of Miri et al.
and of the seed analysis: frame boxcar convolved with the kernel sampled once
per frame (a double exponential is 0 at lag 0, so at ~1 Hz that response starts
one frame late). Both scale the kernel to unit area, so a regressor is 1 at the
plateau of a long stimulus and a coefficient is the ΔF/F of that plateau.

A session cut into trials (docs/trials.md) gets its regressors trial by trial
(`trial_regressors`): each trial as a recording of its own, the presentations clipped to it,
so that a response never rings on across a boundary; gap frames hold 0 (and are left out of
the fit).

The regression of each neuron on them is in `calcium.stimulus.regression`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from calcium.signal.kernels import calcium_kernel, ramp_response

REGRESSOR_METHODS = ("integrated", "sampled")


def _presentations(table: pd.DataFrame, label: str) -> np.ndarray:
    """(n, 2) [onset, offset) of one stimulus, overlapping presentations merged, in time order."""
    times = table.loc[table.stimulus == label, ["onset_s", "offset_s"]].to_numpy(dtype=np.float64)
    times = times[np.argsort(times[:, 0], kind="stable")]
    merged: list[list[float]] = []
    for onset, offset in times:
        if merged and onset <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], offset)
        else:
            merged.append([onset, offset])
    return np.array(merged, dtype=np.float64).reshape(-1, 2)


def stimulus_boxcars(
    table: pd.DataFrame, n_frames: int, frame_rate_hz: float, start_time_s: float = 0.0
) -> tuple[list[str], np.ndarray]:
    """One boxcar per stimulus label: the fraction of each frame's interval during which it is on.

    Frame k covers [t_k, t_k + 1/frame_rate_hz), t_k = start_time_s + k / frame_rate_hz
    (s); the boxcar is 1 for frames entirely inside a presentation, between 0 and 1 for
    frames an onset or offset cuts.
    Returns (labels in order of first appearance, (stimuli, frames) float64).
    """
    labels = list(dict.fromkeys(table.stimulus))
    start = start_time_s + np.arange(n_frames) / frame_rate_hz
    end = start + 1.0 / frame_rate_hz
    boxcars = np.zeros((len(labels), n_frames))
    for k, label in enumerate(labels):
        for onset, offset in _presentations(table, label):
            first = max(int(np.floor((onset - start_time_s) * frame_rate_hz)) - 1, 0)
            last = min(int(np.ceil((offset - start_time_s) * frame_rate_hz)) + 1, n_frames)
            covered = np.minimum(end[first:last], offset) - np.maximum(start[first:last], onset)
            boxcars[k, first:last] += np.clip(covered, 0.0, None) * frame_rate_hz
    return labels, np.minimum(boxcars, 1.0)


def convolve_regressors(boxcars: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Causal convolution of each boxcar with the kernel, truncated to the recording."""
    boxcars = np.atleast_2d(boxcars)
    from scipy.signal import fftconvolve

    return fftconvolve(boxcars, np.asarray(kernel)[None, :], axes=1)[:, : boxcars.shape[1]]


def integrated_regressor(
    presentations: np.ndarray,
    n_frames: int,
    frame_rate_hz: float,
    shape: str = "double_exponential",
    tau_decay_s: float = 1.25,
    tau_rise_s: float = 0.1,
    start_time_s: float = 0.0,
) -> np.ndarray:
    """Boxcar of the presentations convolved with the kernel in continuous time, averaged per frame.

    Model: r(t) = sum_p H(t − onset_p) − H(t − offset_p), H the unit-area kernel's
    step response (`calcium.signal.kernels.step_response`); frame k's value is the mean of
    r over [t_k, t_k + 1/rate), t_k = start_time_s + k/rate, computed exactly from the
    integral G of H. r rises within the frame of an onset and is 1 at the plateau of a
    long presentation. presentations: (n, 2) onset, offset in s. Returns (n_frames,).
    The tail of each presentation is followed for 40 decay time constants (exp(-40):
    below float precision), so the cost is the presentations' frames, not n_frames each.
    """
    frame_s = 1.0 / frame_rate_hz
    regressor = np.zeros(n_frames)
    tail_s = 40.0 * max(tau_decay_s, tau_rise_s)
    for onset, offset in np.asarray(presentations, dtype=np.float64).reshape(-1, 2):
        first = max(int(np.floor((onset - start_time_s) * frame_rate_hz)), 0)
        last = min(int(np.ceil((offset + tail_s - start_time_s) * frame_rate_hz)) + 1, n_frames)
        if first >= last:
            continue
        t0 = start_time_s + np.arange(first, last) * frame_s
        t1 = t0 + frame_s
        integral = ramp_response(shape, t1 - onset, tau_decay_s, tau_rise_s) - ramp_response(
            shape, t0 - onset, tau_decay_s, tau_rise_s
        )
        integral -= ramp_response(shape, t1 - offset, tau_decay_s, tau_rise_s) - ramp_response(
            shape, t0 - offset, tau_decay_s, tau_rise_s
        )
        regressor[first:last] += integral / frame_s
    return regressor


def stimulus_regressors(
    table: pd.DataFrame,
    n_frames: int,
    frame_rate_hz: float,
    shape: str = "double_exponential",
    tau_decay_s: float = 1.25,
    tau_rise_s: float = 0.1,
    method: str = "integrated",
    start_time_s: float = 0.0,
    trials: np.ndarray | None = None,
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Boxcars and regressors of every stimulus label, each (stimuli, frames) float64.

    method: "integrated" (default) - `integrated_regressor`; boxcars are the fraction of
        each frame a stimulus is on.
        "sampled" - the discrete recipe (Miri et al. 2011; the seed analysis): boxcar 1
        in every frame a presentation overlaps, convolved causally with the kernel
        sampled at lags 0, 1/rate, 2/rate, ... over the whole recording and scaled to
        sum 1 (`calcium.signal.kernels.calcium_kernel(..., normalize="sum")`).
    shape, tau_decay_s, tau_rise_s: the kernel ("exponential" or "double_exponential";
        time constants in s). start_time_s: time of frame 0 (s), in the stimulus clock.
    trials: a session cut into trials, (trials, 2) first and one-past-last frames: made within
        each trial (`trial_regressors`); None: one continuous recording.
    Returns (labels in order of first appearance, boxcars, regressors).
    """
    if trials is not None:
        return trial_regressors(
            table, trials, n_frames, frame_rate_hz, shape, tau_decay_s, tau_rise_s, method, start_time_s
        )
    labels, boxcars = stimulus_boxcars(table, n_frames, frame_rate_hz, start_time_s)
    if method == "integrated":
        regressors = np.stack(
            [
                integrated_regressor(
                    _presentations(table, label),
                    n_frames,
                    frame_rate_hz,
                    shape,
                    tau_decay_s,
                    tau_rise_s,
                    start_time_s,
                )
                for label in labels
            ]
        ).reshape(len(labels), n_frames)
        return labels, boxcars, regressors
    if method == "sampled":
        boxcars = (boxcars > 0).astype(np.float64)
        kernel = calcium_kernel(
            shape, frame_rate_hz, tau_decay_s, tau_rise_s, width_s=n_frames / frame_rate_hz, normalize="sum"
        )
        return labels, boxcars, convolve_regressors(boxcars, kernel)
    raise ValueError(f"unknown regressor method {method!r}; choose one of {REGRESSOR_METHODS}")


def trial_regressors(
    table: pd.DataFrame,
    trials: np.ndarray,
    n_frames: int,
    frame_rate_hz: float,
    shape: str = "double_exponential",
    tau_decay_s: float = 1.25,
    tau_rise_s: float = 0.1,
    method: str = "integrated",
    start_time_s: float = 0.0,
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """`stimulus_regressors` of a session cut into trials, made within each trial.

    trials: (trials, 2) first and one-past-last frame of each trial. Each trial is a recording
    of its own (frames a..b-1, frame a at start_time_s + a / frame_rate_hz): the presentations
    are clipped to its frames' intervals [t_a, t_b), and their responses start and end within
    it (a kernel never rings on across a boundary, nor into the next trial). Gap frames hold 0.
    Returns (labels in order of first appearance in `table`, boxcars, regressors), each
    (stimuli, n_frames) float64.
    """
    labels = list(dict.fromkeys(table.stimulus))
    boxcars = np.zeros((len(labels), n_frames))
    regressors = np.zeros((len(labels), n_frames))
    for first, stop in np.asarray(trials, dtype=np.int64).reshape(-1, 2):
        begin, end = start_time_s + first / frame_rate_hz, start_time_s + stop / frame_rate_hz
        clipped = table.assign(
            onset_s=table.onset_s.clip(lower=begin), offset_s=table.offset_s.clip(upper=end)
        )
        clipped = clipped[clipped.offset_s > clipped.onset_s]
        if clipped.empty:
            continue
        names, box, reg = stimulus_regressors(
            clipped, int(stop - first), frame_rate_hz, shape, tau_decay_s, tau_rise_s, method, begin
        )
        rows = [labels.index(name) for name in names]
        boxcars[rows, first:stop] = box
        regressors[rows, first:stop] = reg
    return labels, boxcars, regressors


def regressor_table(
    labels: list[str],
    boxcars: np.ndarray,
    regressors: np.ndarray,
    frame_rate_hz: float,
    start_time_s: float = 0.0,
) -> pd.DataFrame:
    """One row per frame: frame, time_s, then boxcar_<stimulus> and regressor_<stimulus> per stimulus."""
    frames = np.arange(boxcars.shape[1])
    columns = {"frame": frames, "time_s": start_time_s + frames / frame_rate_hz}
    columns |= {f"boxcar_{label}": boxcars[k] for k, label in enumerate(labels)}
    columns |= {f"regressor_{label}": regressors[k] for k, label in enumerate(labels)}
    return pd.DataFrame(columns)


def regressors_from_table(table: pd.DataFrame) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(labels, boxcars, regressors) from a `regressor_table`."""
    labels = [c.removeprefix("regressor_") for c in table.columns if c.startswith("regressor_")]
    boxcars = (
        np.stack([table[f"boxcar_{label}"].to_numpy() for label in labels]) if labels else np.zeros((0, 0))
    )
    regressors = np.stack([table[f"regressor_{label}"].to_numpy() for label in labels]) if labels else boxcars
    return labels, boxcars, regressors

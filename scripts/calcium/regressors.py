"""Stimulus-locked analysis: stimulus regressors and per-neuron linear regression.

After Miri et al. 2011: each stimulus gives a boxcar (1 while it is on) that is
convolved with the indicator's response kernel; every neuron's ΔF/F is regressed
on all regressors at once. R² says how much of the trace the stimuli explain,
and the largest coefficient says which stimulus drives the neuron.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.signal import fftconvolve
from sklearn.linear_model import LinearRegression


def stimulus_boxcars(
    table: pd.DataFrame, n_frames: int, frame_rate_hz: float
) -> tuple[list[str], np.ndarray]:
    """One boxcar per stimulus label: 1 at frames whose time (frame / rate) is in [onset, offset).

    Returns (labels in order of first appearance, (stimuli, frames) float64).
    """
    labels = list(dict.fromkeys(table.stimulus))
    time_s = np.arange(n_frames) / frame_rate_hz
    boxcars = np.zeros((len(labels), n_frames))
    for k, label in enumerate(labels):
        for onset, offset in table.loc[table.stimulus == label, ["onset_s", "offset_s"]].to_numpy():
            boxcars[k, (time_s >= onset) & (time_s < offset)] = 1.0
    return labels, boxcars


def convolve_regressors(boxcars: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Causal convolution of each boxcar with the kernel, truncated to the recording."""
    boxcars = np.atleast_2d(boxcars)
    return fftconvolve(boxcars, np.asarray(kernel)[None, :], axes=1)[:, : boxcars.shape[1]]


class Regression(NamedTuple):
    """Per-neuron fit of ΔF/F on the regressors.

    r2: (neurons,) coefficient of determination.
    coefficients: (neurons, stimuli) ΔF/F per unit regressor.
    intercept: (neurons,).
    """

    r2: np.ndarray
    coefficients: np.ndarray
    intercept: np.ndarray


def fit_regressors(traces: np.ndarray, regressors: np.ndarray) -> Regression:
    """Multiple linear regression (scikit-learn, ordinary least squares) of every neuron.

    traces: (neurons, frames) ΔF/F; regressors: (stimuli, frames).
    All neurons are fitted in one multi-output solve. A neuron with a constant
    trace gets R² = 0.
    """
    traces = np.asarray(traces, dtype=np.float64)
    design = np.asarray(regressors, dtype=np.float64).T
    model = LinearRegression().fit(design, traces.T)
    predicted = model.predict(design).T
    residual = ((traces - predicted) ** 2).sum(axis=1)
    total = ((traces - traces.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    r2 = np.divide(total - residual, total, out=np.zeros_like(total), where=total > 0)
    coefficients = np.atleast_2d(model.coef_).reshape(traces.shape[0], design.shape[1])
    return Regression(r2, coefficients, np.atleast_1d(model.intercept_))


def response_types(
    regression: Regression, labels: list[str], min_r2: float = 0.05
) -> tuple[np.ndarray, list[str]]:
    """(selected, response type) per neuron.

    Selected if R² >= min_r2; the type is the stimulus with the largest coefficient.

    Neurons that are not selected get the type "not stimulus-locked".
    """
    selected = regression.r2 >= min_r2
    best = np.argmax(regression.coefficients, axis=1)
    types = [labels[b] if ok else "not stimulus-locked" for b, ok in zip(best, selected, strict=True)]
    return selected, types


def stimulus_responses(
    traces: np.ndarray,
    table: pd.DataFrame,
    frame_rate_hz: float,
    window_s: tuple[float, float] = (0.0, 3.0),
    baseline_s: tuple[float, float] | None = (-2.0, 0.0),
) -> pd.DataFrame:
    """Mean stimulus-locked response per neuron and stimulus.

    For each presentation, the mean ΔF/F over [onset + window_s[0], onset + window_s[1])
    minus (if baseline_s) the mean over [onset + baseline_s[0], onset + baseline_s[1]);
    averaged over the presentations that fit inside the recording.
    Returns a tidy table: neuron, stimulus, n_presentations, mean_response_dff, sem_response_dff.
    """
    traces = np.asarray(traces, dtype=np.float64)
    n_neurons, n_frames = traces.shape
    rows = []
    for label in dict.fromkeys(table.stimulus):
        per_trial = []
        for onset in table.onset_s[table.stimulus == label]:
            start = int(np.ceil((onset + window_s[0]) * frame_rate_hz))
            stop = int(np.ceil((onset + window_s[1]) * frame_rate_hz))
            if start < 0 or stop > n_frames or stop <= start:
                continue
            response = traces[:, start:stop].mean(axis=1)
            if baseline_s is not None:
                b0 = int(np.ceil((onset + baseline_s[0]) * frame_rate_hz))
                b1 = int(np.ceil((onset + baseline_s[1]) * frame_rate_hz))
                if b0 < 0 or b1 <= b0:
                    continue
                response = response - traces[:, b0:b1].mean(axis=1)
            per_trial.append(response)
        trials = np.array(per_trial).reshape(len(per_trial), n_neurons)
        n = trials.shape[0]
        mean = trials.mean(axis=0) if n else np.full(n_neurons, np.nan)
        sem = trials.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.full(n_neurons, np.nan)
        rows.append(
            pd.DataFrame(
                {
                    "neuron": np.arange(n_neurons),
                    "stimulus": label,
                    "n_presentations": n,
                    "mean_response_dff": mean,
                    "sem_response_dff": sem,
                }
            )
        )
    return pd.concat(rows, ignore_index=True).sort_values(["neuron", "stimulus"], kind="stable")


def cluster_order(traces: np.ndarray, method: str = "average") -> np.ndarray:
    """Leaf order of hierarchical clustering of z-scored traces with correlation distance.

    Constant traces are placed last. Returns row indices.
    """
    from scipy.cluster.hierarchy import leaves_list, linkage

    traces = np.asarray(traces, dtype=np.float64)
    sd = traces.std(axis=1)
    varying = np.flatnonzero(sd > 0)
    constant = np.flatnonzero(sd == 0)
    if varying.size < 2:
        return np.concatenate([varying, constant])
    z = (traces[varying] - traces[varying].mean(axis=1, keepdims=True)) / sd[varying, None]
    tree = linkage(z, method=method, metric="correlation")
    return np.concatenate([varying[leaves_list(tree)], constant])


def downsample(traces: np.ndarray, factor: int) -> np.ndarray:
    """Mean over consecutive blocks of `factor` frames (the last partial block dropped)."""
    if factor <= 1:
        return np.asarray(traces)
    n = traces.shape[1] // factor
    if n == 0:
        return np.asarray(traces)
    return np.asarray(traces)[:, : n * factor].reshape(traces.shape[0], n, factor).mean(axis=2)


def stimulus_table_from_channel(
    time_s: np.ndarray,
    values: np.ndarray,
    threshold: float | None = None,
    label: str = "stimulus",
    min_duration_s: float = 0.0,
    merge_gap_s: float = 0.0,
) -> pd.DataFrame:
    """Stimulus presentations from a recorded trigger/voltage channel, by threshold crossings.

    time_s: sample times (s, increasing); values: the channel (e.g. volts).
    threshold: level separating off from on; default halfway between the 0.1th and
        99.9th percentiles of the channel (robust to pulses that are on for only a
        few percent of the time).
    A presentation starts at the first sample above the threshold and ends at the
    first sample back at or below it (or the last sample). Presentations separated
    by less than merge_gap_s are merged into one (trains of sync pulses); those
    shorter than min_duration_s (glitches) are then dropped.
    Returns a stimulus table: stimulus, onset_s, offset_s, duration_s.
    """
    time_s = np.asarray(time_s, dtype=float)
    values = np.asarray(values, dtype=float)
    if time_s.shape != values.shape or time_s.ndim != 1:
        raise ValueError("time_s and values must be 1-D arrays of the same length")
    if threshold is None:
        low, high = np.percentile(values, [0.1, 99.9])
        threshold = (low + high) / 2.0
    on = (values > threshold).astype(np.int8)
    edges = np.diff(np.concatenate([[0], on, [0]]))
    starts = np.flatnonzero(edges == 1)
    stops = np.flatnonzero(edges == -1)
    onset = time_s[starts]
    offset = np.where(stops < time_s.size, time_s[np.minimum(stops, time_s.size - 1)], time_s[-1])
    if merge_gap_s > 0 and onset.size > 1:
        keep = np.concatenate([[True], onset[1:] - offset[:-1] >= merge_gap_s])
        group = np.cumsum(keep) - 1
        onset = onset[keep]
        offset = np.maximum.reduceat(offset, np.flatnonzero(keep))[: group.max() + 1]
    table = pd.DataFrame(
        {"stimulus": label, "onset_s": onset, "offset_s": offset, "duration_s": offset - onset}
    )
    return table[table.duration_s >= max(min_duration_s, 0.0) + 1e-12].reset_index(drop=True)

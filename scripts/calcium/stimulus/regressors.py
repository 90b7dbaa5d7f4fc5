"""Stimulus-locked analysis: stimulus regressors and per-neuron linear regression.

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
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from calcium.signal.kernels import calcium_kernel, ramp_response

REGRESSOR_METHODS = ("integrated", "sampled")
RESPONSE_TYPE_RULES = ("largest_magnitude", "largest_coefficient")
NOT_LOCKED = "not stimulus-locked"


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
    Returns (labels in order of first appearance, boxcars, regressors).
    """
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
    """Multiple linear regression (ordinary least squares with an intercept) of every neuron.

    Model: trace_t = intercept + Σ_k coefficient_k · regressor_k,t + residual_t.
    traces: (neurons, frames) ΔF/F; regressors: (stimuli, frames).
    All neurons are fitted in one multi-output least-squares solve of the centred data
    (numpy.linalg.lstsq, the solution scikit-learn's LinearRegression gives, which the
    seed analysis used; tests check that they agree). A neuron with a constant trace
    gets R² = 0.
    """
    traces = np.asarray(traces, dtype=np.float64)
    design = np.asarray(regressors, dtype=np.float64).reshape(-1, traces.shape[1]).T
    design_mean = design.mean(axis=0)
    trace_mean = traces.mean(axis=1)
    coefficients, *_ = np.linalg.lstsq(design - design_mean, (traces - trace_mean[:, None]).T, rcond=None)
    intercept = trace_mean - design_mean @ coefficients
    predicted = (design @ coefficients).T + intercept[:, None]
    residual = ((traces - predicted) ** 2).sum(axis=1)
    total = ((traces - trace_mean[:, None]) ** 2).sum(axis=1)
    r2 = np.divide(total - residual, total, out=np.zeros_like(total), where=total > 0)
    return Regression(r2, coefficients.T.reshape(traces.shape[0], design.shape[1]), intercept)


def response_types(
    regression: Regression, labels: list[str], min_r2: float = 0.05, rule: str = "largest_magnitude"
) -> tuple[np.ndarray, list[str]]:
    """(selected, response type) per neuron.

    Selected if R² > min_r2 (as in the seed analysis; others are "not stimulus-locked").
    rule: "largest_magnitude" (default) - the type is the stimulus whose coefficient is
        largest in absolute value, written `<stimulus>` when that coefficient is
        positive and `suppressed:<stimulus>` when it is negative (a neuron silenced by
        a stimulus is not typed by its least negative coefficient);
        "largest_coefficient" - the stimulus with the largest (signed) coefficient, as
        the seed analysis does (a suppressed neuron gets the stimulus it is least
        suppressed by).
    """
    selected = regression.r2 > min_r2
    coefficients = np.asarray(regression.coefficients)
    if rule == "largest_coefficient":
        best = np.argmax(coefficients, axis=1)
        names = [labels[b] for b in best]
    elif rule == "largest_magnitude":
        best = np.argmax(np.abs(coefficients), axis=1)
        value = coefficients[np.arange(coefficients.shape[0]), best]
        names = [labels[b] if v >= 0 else f"suppressed:{labels[b]}" for b, v in zip(best, value, strict=True)]
    else:
        raise ValueError(f"unknown response-type rule {rule!r}; choose one of {RESPONSE_TYPE_RULES}")
    types = [name if ok else NOT_LOCKED for name, ok in zip(names, selected, strict=True)]
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


def regression_tables(
    blocks,
    labels: list[str],
    regressors: np.ndarray,
    stimuli: pd.DataFrame,
    frame_rate_hz: float,
    min_r2: float = 0.05,
    response_type: str = "largest_magnitude",
    response_window_s: tuple[float, float] = (0.0, 3.0),
    baseline_window_s: tuple[float, float] | None = (-2.0, 0.0),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Regression of every neuron on the regressors, and its stimulus-locked mean responses.

    blocks: iterable of (first neuron id, (neurons, frames) traces) covering the session
        in order (blocks of neurons keep memory bounded).
    stimuli: the presentations, times in seconds from the first frame.
    Returns (regression: one row per neuron with r2, intercept_dff, coef_<stimulus>,
    selected, response_type; responses: one row per (neuron, stimulus), see
    `stimulus_responses`).
    """
    fits, responses = [], []
    for first, block in blocks:
        fits.append(fit_regressors(block, regressors))
        part = stimulus_responses(block, stimuli, frame_rate_hz, response_window_s, baseline_window_s)
        part["neuron"] += first
        responses.append(part)
    fit = Regression(*(np.concatenate(parts) for parts in zip(*fits, strict=True)))
    selected, types = response_types(fit, labels, min_r2, response_type)
    table = pd.DataFrame({"neuron": np.arange(fit.r2.size), "r2": fit.r2, "intercept_dff": fit.intercept})
    for k, label in enumerate(labels):
        table[f"coef_{label}"] = fit.coefficients[:, k]
    table["selected"] = selected
    table["response_type"] = types
    return table, pd.concat(responses, ignore_index=True)


def zscored(traces: np.ndarray) -> np.ndarray:
    """Each row minus its mean, divided by its SD (constant rows become 0)."""
    traces = np.asarray(traces, dtype=np.float64)
    sd = traces.std(axis=1, keepdims=True)
    return (traces - traces.mean(axis=1, keepdims=True)) / np.where(sd > 0, sd, 1)


def model_prediction(
    regression: pd.DataFrame, labels: list[str], regressors: np.ndarray, neuron: int
) -> np.ndarray:
    """The fitted trace of one neuron: intercept + Σ coefficient · regressor (ΔF/F per frame)."""
    row = regression.loc[regression.neuron == neuron].iloc[0]
    coefficients = np.array([row[f"coef_{label}"] for label in labels])
    return row["intercept_dff"] + coefficients @ regressors


def response_kinds(labels: list[str], types) -> list[str]:
    """Response types present, excited ones in stimulus order, then suppressed:<stimulus>."""
    present = set(types)
    return [k for k in labels if k in present] + [
        f"suppressed:{k}" for k in labels if f"suppressed:{k}" in present
    ]


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

"""Stimulus-locked regression: every neuron's ΔF/F regressed on all stimulus regressors at once.

After Miri et al. 2011: R² says how much of the trace the stimuli explain, and the coefficient
largest in magnitude says which stimulus drives (or, when negative, suppresses) the neuron (its
response type). Also each neuron's mean stimulus-locked response per stimulus. The regressors
are made in `calcium.stimulus.regressors`.

A session cut into trials (docs/trials.md): the fit uses the trials' frames only (gap frames,
0 in the traces, are left out), and a presentation counts only when its response (and
baseline) window lies within one trial (`window_in_one_trial`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

RESPONSE_TYPE_RULES = ("largest_magnitude", "largest_coefficient")
NOT_LOCKED = "not stimulus-locked"


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


def window_in_one_trial(frame_trial: np.ndarray | None, *windows: tuple[int, int]) -> bool:
    """Whether the frames [start, stop) of every window lie in one and the same trial.

    frame_trial: the trial of each frame (`calcium.input.trial_structure.frame_trials`, -1 in
    gaps), or None (a continuous recording: always True; the caller checks the recording's
    ends). With trials, a window reaching outside the recording gives False."""
    if frame_trial is None:
        return True
    first = min(start for start, _ in windows)
    last = max(stop for _, stop in windows) - 1
    if first < 0 or last >= frame_trial.size:
        return False
    # trials are runs of consecutive frames: the span's ends in one trial means all its frames are
    return bool(frame_trial[first] >= 0 and frame_trial[first] == frame_trial[last])


def stimulus_responses(
    traces: np.ndarray,
    table: pd.DataFrame,
    frame_rate_hz: float,
    window_s: tuple[float, float] = (0.0, 3.0),
    baseline_s: tuple[float, float] | None = (-2.0, 0.0),
    frame_trial: np.ndarray | None = None,
) -> pd.DataFrame:
    """Mean stimulus-locked response per neuron and stimulus.

    For each presentation, the mean ΔF/F over [onset + window_s[0], onset + window_s[1])
    minus (if baseline_s) the mean over [onset + baseline_s[0], onset + baseline_s[1]);
    averaged over the presentations that fit inside the recording (and, with trials,
    frame_trial the trial of each frame, whose windows lie within one trial).
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
            windows = [(start, stop)]
            response = traces[:, start:stop].mean(axis=1)
            if baseline_s is not None:
                b0 = int(np.ceil((onset + baseline_s[0]) * frame_rate_hz))
                b1 = int(np.ceil((onset + baseline_s[1]) * frame_rate_hz))
                if b0 < 0 or b1 <= b0:
                    continue
                windows.append((b0, b1))
                response = response - traces[:, b0:b1].mean(axis=1)
            if not window_in_one_trial(frame_trial, *windows):
                continue
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
    trials: np.ndarray | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Regression of every neuron on the regressors, and its stimulus-locked mean responses.

    blocks: iterable of (first neuron id, (neurons, frames) traces) covering the session
        in order (blocks of neurons keep memory bounded).
    stimuli: the presentations, times in seconds from the first frame.
    trials: None (continuous) or (trials, 2) first and one-past-last frame of each trial: the
        fit over the trials' frames only, responses from windows within one trial.
    Returns (regression: one row per neuron with r2, intercept_dff, coef_<stimulus>,
    selected, response_type; responses: one row per (neuron, stimulus), see
    `stimulus_responses`).
    """
    fits, responses = [], []
    frame_trial = fit_frames = None
    for first, block in blocks:
        if trials is not None and frame_trial is None:
            from calcium.input.trial_structure import frame_trials

            frame_trial = frame_trials(trials, np.shape(block)[1])
            fit_frames = np.flatnonzero(frame_trial >= 0)
            regressors = np.asarray(regressors).reshape(-1, frame_trial.size)[:, fit_frames]
        fits.append(
            fit_regressors(block if fit_frames is None else np.asarray(block)[:, fit_frames], regressors)
        )
        part = stimulus_responses(
            block, stimuli, frame_rate_hz, response_window_s, baseline_window_s, frame_trial
        )
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


def session_regression(
    traces_path,
    n_neurons: int,
    n_frames: int,
    labels: list[str],
    regressors: np.ndarray,
    stimuli: pd.DataFrame,
    frame_rate_hz: float,
    settings: dict,
    trials: np.ndarray | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`regression_tables` of a session's traces .npy (neurons x frames), read in blocks of ~0.1 GB
    of float32 (bounded memory), with progress in the log.

    stimuli: presentations, times in seconds from the first frame; settings: the config's
    regression section (min_r2, response_type, response_window_s, baseline_window_s);
    trials: a session cut into trials (see `regression_tables`), None: continuous.
    """
    from calcium.io import load_npy
    from calcium.progress import Progress, track

    block = max(1, 25_000_000 // n_frames)  # neurons at a time
    firsts = range(0, n_neurons, block)
    baseline = tuple(settings["baseline_window_s"]) if settings["baseline_window_s"] else None
    with Progress(len(firsts), f"regression ({n_neurons} neurons)", "blocks") as progress:
        return regression_tables(
            (
                (first, load_npy(traces_path, slice(first, first + block)))
                for first in track(firsts, progress)
            ),
            labels,
            regressors,
            stimuli,
            frame_rate_hz,
            settings["min_r2"],
            settings["response_type"],
            tuple(settings["response_window_s"]),
            baseline,
            trials,
        )


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

"""A trace's own decay time constant, for the neurons whose decay is taken from their data: OASIS's
AR(1) estimate from the autocovariance (`estimated_decay_s`, config estimate_time_constants), the
default rule's longer decay where the trace shows one (`longer_decay_s`), and the decay a
deconvolution used (`model_decay_s`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from calcium.signal.deconvolve import Deconvolution


def longer_decay_s(
    trace: np.ndarray,
    frame_rate_hz: float,
    noise_sd_value: float,
    tau_decay_s: float,
    max_decay_s: float,
    min_decay_frames: float | None = None,
) -> float:
    """The model's decay (s) for one trace: the indicator's, or longer where the trace shows it.

    Where the indicator's decay tau_decay_s spans at least min_decay_frames frames at
    frame_rate_hz (the decay is resolved: the floor of `default_settings` does not bind),
    OASIS's default estimate (`oasis.functions.estimate_time_constant`: the AR(1) fit to the
    trace's autocovariance at lags 1-10, with the noise variance sn² taken out of lag 0,
    g shrunk by 0.98 as `oasis.functions.deconvolve` does) replaces it where it is longer,
    at most max_decay_s. Decays are that much longer than an indicator's table value in
    some cells (GCaMP6f: 2.5 s in parvalbumin interneurons firing at 14 Hz, fitted to their
    recorded spikes, against 0.4 s); a shorter estimate is never taken (it scored lower on
    the ground truth; docs/accuracy.md). Where the floor binds (a slow frame rate), the
    frame-to-frame decay is not resolved (a longer model scored lower there on 29 of 32
    ground-truth sets at 7.5 Hz): the floored decay is kept.
    Returns max(tau_decay_s, min_decay_frames / frame_rate_hz) or the longer estimate.
    """
    from oasis.functions import ar1_to_tau, estimate_time_constant

    floor_s = float(min_decay_frames) / frame_rate_hz if min_decay_frames else 0.0
    tau = max(float(tau_decay_s), floor_s)
    # the floor binds: the indicator's decay below it, or already floored to it (the workflow's
    # settings pass the session's floored decay; the ground-truth benchmark the indicator's)
    if floor_s >= float(tau_decay_s) or not max_decay_s or max_decay_s <= tau:
        return tau
    try:
        g = float(np.atleast_1d(estimate_time_constant(trace, 1, noise_sd_value, fudge_factor=0.98))[0])
    except (np.linalg.LinAlgError, ValueError):
        return tau
    if not (0 < g < 1 and np.isfinite(g)):
        return tau
    return float(np.clip(ar1_to_tau(g, frame_rate_hz), tau, max_decay_s))


def estimated_decay_s(
    trace: np.ndarray,
    frame_rate_hz: float,
    noise_sd_value: float,
    fallback_s: float | None,
    bounds_s: tuple[float, float] | None = None,
) -> float:
    """Decay time constant (s) of one trace from its autocovariance (OASIS's AR(1) estimate).

    The estimate is kept within bounds_s = (shortest, longest) in s; where it is no
    decaying exponential (root outside (0, 1)), fallback_s (the indicator's value) is
    used. OASIS replaces such roots by random values; here they are detected first.
    """
    from oasis.functions import ar1_to_tau, estimate_time_constant

    lo, hi = bounds_s if bounds_s is not None else (0.0, np.inf)
    try:
        g = float(np.atleast_1d(estimate_time_constant(trace, p=1, sn=noise_sd_value))[0])
    except (np.linalg.LinAlgError, ValueError):
        g = np.nan
    if 0 < g < 1 and np.isfinite(g):
        tau = float(ar1_to_tau(g, frame_rate_hz))
    elif fallback_s is not None:
        tau = float(fallback_s)
    else:
        tau = hi if np.isfinite(hi) else 1.0
    return float(np.clip(tau, lo, hi))


def model_decay_s(result: Deconvolution) -> np.ndarray:
    """(neurons,) the AR(1) decay (s) each row of a `deconvolve_traces` result was deconvolved
    with, from g1 at the row's rate; NaN for AR(2), flat rows and g1 outside (0, 1)."""
    g1, g2 = result.g[:, 0], result.g[:, 1]
    rates = result.rate_hz
    ok = np.isfinite(g1) & (g1 > 0) & (g1 < 1) & (g2 == 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ok, -1.0 / (rates * np.log(np.where(ok, g1, 0.5))), np.nan)


def oasis_ar_estimate(trace: np.ndarray, ar_order: int, optimize_g: int = 0) -> tuple[float, ...]:
    """The AR coefficients `oasis.functions.deconvolve` estimates for a trace when given neither g
    nor a time constant (`estimate_parameters` with its fudge factor: 0.97 for AR(1) with
    optimize_g, else 0.98): for deconvolving another trace (a denoised one) with this one's."""
    from oasis.functions import estimate_parameters

    fudge = 0.97 if optimize_g and ar_order == 1 else 0.98
    return tuple(float(v) for v in estimate_parameters(trace, p=ar_order, fudge_factor=fudge)[0])

"""Carrying a reference recording's score to a session it differs from: in frame rate (a slower
reference scored at its own rate, carried up by the faster references' slope of r against ln
rate) and in signal quality (the skewness of ΔF/F, by a slope of r against ln(1 + skewness)
measured across ground-truth sets).

Pure functions on score tables (`calcium.evaluation.accuracy.score_recordings`); calibrated by
benchmarks/expected_accuracy_calibration.py (docs/accuracy.md, "Expected accuracy").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

# A reference counts as recorded as fast as the fastest rate the references reach when its
# native rate is within this factor of it (118 and 122 Hz scans are the same technique).
RATE_TOLERANCE = 1.1


def rate_plan(native_rates_hz: Sequence[float], session_rate_hz: float) -> tuple[float, float, np.ndarray]:
    """Which references are fast enough for a session, and the rates a rate slope is measured between.

    native_rates_hz: each reference's own frame rate. The top rate is min(session rate,
    the fastest reference): nothing is extrapolated beyond what a reference was recorded
    at. References within RATE_TOLERANCE of it are "fast"; the low rate is the median
    native rate of the others (NaN when every reference is fast).
    Returns (top rate Hz, low rate Hz, fast mask). Top is NaN without references.
    """
    native = np.asarray(native_rates_hz, dtype=float)
    if not native.size:
        return float("nan"), float("nan"), np.zeros(0, dtype=bool)
    top = float(min(session_rate_hz, native.max()))
    fast = native >= top / RATE_TOLERANCE
    low = float(np.median(native[~fast])) if (~fast).any() else float("nan")
    return top, low, fast


def rate_slope(top: pd.DataFrame, down: pd.DataFrame) -> float:
    """d r / d ln(frame rate) of the fast references: median over the recordings scored at the top
    rate (`top`) and averaged down (`down`, both score tables with rate_hz and
    correlation_40ms), at least 0 (a slower scan never helps). NaN without a pair."""
    pairs = down[down.status == "ok"].merge(top[top.status == "ok"], on="recording", suffixes=("", "_top"))
    pairs = pairs[pairs.rate_hz_top > pairs.rate_hz * 1.05]
    if not len(pairs):
        return float("nan")
    slopes = (pairs.correlation_40ms_top - pairs.correlation_40ms) / np.log(pairs.rate_hz_top / pairs.rate_hz)
    return float(max(0.0, np.median(slopes)))


def carry_to_rate(table: pd.DataFrame, slope: float, top_rate_hz: float) -> pd.DataFrame:
    """Scores of references slower than top_rate_hz carried up to it: r + slope · ln(top / rate_hz),
    at most 1 (column rate_gain says by how much); unchanged where the slope is unknown."""
    table = table.copy()
    if not np.isfinite(slope) or not len(table):
        return table
    slower = (table.rate_hz < top_rate_hz / RATE_TOLERANCE) & table.correlation_40ms.notna()
    gain = slope * np.log(top_rate_hz / table.rate_hz[slower])
    carried = np.minimum(table.correlation_40ms[slower] + gain, 1.0)
    table.loc[slower, "rate_gain"] = carried - table.correlation_40ms[slower]
    table.loc[slower, "correlation_40ms"] = carried
    return table


# Skewness of ΔF/F (`transient_skewness`) measures how far a neuron's transients stand out of
# its noise: the signal that ν (the noise alone) does not see. Across the 32 ground-truth sets
# the sets' median r rises with ln(1 + their median skewness) within an indicator family
# (negative skewness counts as 0; ln(1 + s) rather than ln s, so traces of almost pure noise,
# s near 0, do not swing the estimate); this is that slope (family-centred least squares over
# the sets' medians, each set at its native rate with the workflow's settings), fitted on all
# 32 sets by benchmarks/expected_accuracy_calibration.py, which scores every set with the slope
# fitted without that set's paper.
SKEW_SLOPE = 0.30
SKEW_WINDOW_S = 10.0  # s of moving average removed first (slow drift, not transients)


def transient_skewness(
    traces: np.ndarray, frame_rate_hz: float, window_s: float = SKEW_WINDOW_S
) -> np.ndarray:
    """Skewness of each row of ΔF/F after removing its moving average over window_s seconds.

    traces: (neurons, frames) or (frames,), finite. Calcium transients are brief positive
    excursions: the larger they are against the noise, the larger the skewness (pure
    noise: 0). Returns (neurons,) or a float; NaN for rows shorter than 3 frames or flat.
    """
    from scipy.ndimage import uniform_filter1d

    y = np.atleast_2d(np.asarray(traces, dtype=float))
    out = np.full(y.shape[0], np.nan)
    if y.shape[1] >= 3:
        width = int(min(y.shape[1], max(3, round(window_s * frame_rate_hz))))
        x = y - uniform_filter1d(y, width, axis=1, mode="nearest")
        x -= x.mean(axis=1, keepdims=True)
        var = (x**2).mean(axis=1)
        ok = var > 0
        out[ok] = (x[ok] ** 3).mean(axis=1) / var[ok] ** 1.5
    return out if np.ndim(traces) > 1 else float(out[0])


def skewness_shift(slope, target_skewness, source_skewness) -> np.ndarray:
    """slope · (ln(1 + target) − ln(1 + source)), negative skewness as 0: what r gains from a
    trace with skewness `source` to one with `target` (arrays broadcast; NaN where unknown)."""
    target = np.log1p(np.maximum(np.asarray(target_skewness, dtype=float), 0.0))
    source = np.log1p(np.maximum(np.asarray(source_skewness, dtype=float), 0.0))
    return np.asarray(slope, dtype=float) * (target - source)


def carry_to_skewness(table: pd.DataFrame, slope: float, target_skewness: float) -> pd.DataFrame:
    """Scores carried to a session's skewness: r + `skewness_shift`(slope, s_session, s_reference),
    within [-1, 1] (column skewness_gain says by how much); unchanged when the session's
    skewness or the slope is unknown."""
    table = table.copy()
    if not (np.isfinite(slope) and np.isfinite(target_skewness)) or not len(table):
        return table
    ok = table.correlation_40ms.notna() & table.skewness.notna()
    shift = skewness_shift(slope, target_skewness, table.skewness[ok])
    carried = np.clip(table.correlation_40ms[ok] + shift, -1.0, 1.0)
    table.loc[ok, "skewness_gain"] = carried - table.correlation_40ms[ok]
    table.loc[ok, "correlation_40ms"] = carried
    return table

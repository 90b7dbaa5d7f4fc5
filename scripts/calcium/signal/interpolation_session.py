"""A session's linear interpolation, from the evidence of all its neurons pooled
(`session_interpolation_ratio`), and which neurons take it (`session_followers`).
Interpolation to a common clock is the acquisition's: shared by every neuron of a session.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from calcium.signal.interpolation import (
    _COARSE_RATIOS,
    TopOctaveEvidence,
    _depth_margin,
    _interpolation_noise,
    _whole_ratio,
)


class SessionInterpolation(NamedTuple):
    """A session's linear interpolation: ratio (frame rate / scan rate; NaN: none) and whether its
    traces prove it (exactly piecewise linear between the scan's frames, `calcium.signal.knots`):
    then every row takes it (`calcium.signal.bandlimit.band_limits`), not only those whose own
    spectrum leans to it."""

    ratio: float
    proven: bool = False


# Pooled over a session (`session_interpolation_ratio`): at least 8 rows of at least 4 Welch
# segments (640 frames), and a shared ratio fitting 2x better than the native shapes (the median
# over rows). Natively sampled ground truth, each set's recordings of one rate as a session (at
# their rates, averaged to 30 and 7.5 Hz; and any 8 of them): 1.28 at most; 7.5 Hz scans
# interpolated to 30 Hz: 4.4 at least (3.3 in DS40, a mixed session of 2.5 and 7.5 Hz scans).
_MIN_POOLED_ROWS = 8
_MIN_POOLED_SEGMENTS = 4
_POOLED_BETTER_THAN_NATIVE = 2.0


def concat_evidence(parts: list[TopOctaveEvidence]) -> TopOctaveEvidence:
    """One `TopOctaveEvidence` of the rows of several (same segment length: rows of one session
    read in blocks, or recordings of different lengths measured one by one)."""
    first = parts[0]
    if any(part.frequencies.size != first.frequencies.size for part in parts):
        raise ValueError("top-octave evidence of different segment lengths cannot be pooled")
    return TopOctaveEvidence(
        *(np.concatenate([getattr(part, name) for part in parts]) for name in ("density",)),
        first.frequencies,
        *(
            np.concatenate([getattr(part, name) for part in parts])
            for name in ("segments", "valid", "by_ratio", "by_ratio_shape", "best", "best_fit", "native_fit")
        ),
        first.params,
    )


def session_interpolation_ratio(evidence: TopOctaveEvidence) -> float:
    """Ratio R (frame rate / scan rate) of the linear interpolation a session's rows share; NaN if
    the pooled evidence does not show one.

    Interpolation (resampling to a common clock) is a property of the acquisition, shared by every
    neuron of a session, so the evidence is pooled over them: one ratio R for all, each row its
    own level and scan signal. Each row's evidence at R is how much better the interpolation fits
    its top octave than its best native shape (the ratio of mean squared residuals of log power,
    as `linear_interpolation_rate` reads it); pooled, the median over rows (weighted by their
    Welch segments, whose count sets the residuals' variance), so that a few odd rows (DS21's two
    recordings whose second differences alternate) do not speak for a session, and a mixed one
    is not forced. Over at least `_MIN_POOLED_ROWS` rows of at least `_MIN_POOLED_SEGMENTS`
    segments, ratios where that median is `_POOLED_BETTER_THAN_NATIVE` or more are shown; of
    them, the one with the least summed (weighted) residual, the joint fit, is taken. R is
    then refined on the spectra of the rows that favour it (`_pooled_refined_ratio`), taken as a
    whole number up to 6 when within 3 % of it, and kept only if the rows' top octave lies (their
    weighted median) as far below the scan's band as the interpolation puts it (`_depth_margin`)."""
    used = np.flatnonzero(evidence.valid & (evidence.segments >= _MIN_POOLED_SEGMENTS))
    if used.size < _MIN_POOLED_ROWS:
        return float("nan")
    weight = evidence.segments[used].astype(float)
    log_better = np.log(
        np.maximum(evidence.native_fit[used], 1e-12)[:, None] / np.maximum(evidence.by_ratio[used], 1e-12)
    )
    shown = _weighted_median(log_better, weight) >= np.log(_POOLED_BETTER_THAN_NATIVE)
    if not shown.any():
        return float("nan")
    # among the ratios the rows show, the likeliest: a clean scan's top octave can look alike at
    # two ratios (12 Hz to 30 Hz: 2.5 and 3.85), where the median is coarse and the sum is not
    column = int(np.argmin(np.where(shown, weight @ evidence.by_ratio[used], np.inf)))
    favour = log_better[:, column] > 0.0
    ratio = _whole_ratio(
        _pooled_refined_ratio(
            evidence,
            used[favour],
            evidence.by_ratio_shape[used[favour], column],
            weight[favour],
            float(_COARSE_RATIOS[column]),
        )
    )
    margins = _depth_margin(evidence.density[used], evidence.frequencies, ratio)
    return ratio if _weighted_median(margins[:, None], weight)[0] <= np.log(10.0) else float("nan")


def _weighted_median(values: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """(columns,) weighted median of each column of values (rows, columns); weight: (rows,)."""
    order = np.argsort(values, axis=0)
    cumulative = np.cumsum(weight[order], axis=0)
    first = np.argmax(cumulative >= 0.5 * cumulative[-1], axis=0)
    return np.take_along_axis(values, order, axis=0)[first, np.arange(values.shape[1])]


def session_followers(evidence: TopOctaveEvidence, ratio: float, nperseg: int = 256) -> np.ndarray:
    """(rows,) which rows take a session's interpolation ratio (`session_interpolation_ratio`):
    valid rows of at least one full `nperseg`-frame segment whose own top octave fits the
    interpolation by that ratio better than every native shape (the session shows it; the row's
    own evidence leans to it). Measured on ground truth cut into pieces of 300, 640 and 1500
    frames and whole: of natively sampled recordings averaged to 30 Hz, 2-4 % follow R = 2.5 or
    4 (11-12 % of 300-frame pieces); the first rule tried, a row following unless its native fit
    is 3x better, took 21-100 % of them (the native neurons of a mixed session forced), and one
    asking 2x better than native took none but missed 12 Hz scans (R = 2.5; 2-70 % followed).
    Of 7.5 Hz scans interpolated to 30 Hz, 99.4-100 % follow; of 12 Hz scans, 93-99 %."""
    if not np.isfinite(ratio) or evidence.frequencies.size < nperseg // 2 + 1:
        return np.zeros(evidence.valid.shape, dtype=bool)
    column = int(np.argmin(np.abs(np.log(_COARSE_RATIOS / ratio))))
    own = evidence.by_ratio[:, column]
    return evidence.valid & (evidence.segments >= 1) & (own < evidence.native_fit)


def _pooled_refined_ratio(
    evidence: TopOctaveEvidence, rows: np.ndarray, shapes: np.ndarray, weight: np.ndarray, ratio: float
) -> float:
    """The shared ratio refined within 0.95-1.05x of the coarse one (2 % apart; 0.1 % steps) on
    the rows' Welch spectra, each with its own scan spectrum (signal, slope) at the coarse ratio:
    the least weighted sum of the rows' residual variance of log power about the model. The
    models are built as `_log_shapes` builds them (noise + signal · each slope's part)."""
    top = (evidence.frequencies >= 0.25) & (evidence.frequencies < 0.5)
    ratios = ratio * np.geomspace(0.95, 1.05, 101)
    noise = _interpolation_noise(evidence.frequencies[top], ratios)
    log_power = np.log(evidence.density[rows][:, top] + 1e-300)
    total = np.zeros(ratios.size)
    parts = {}
    for shape in np.unique(shapes):
        _, signal, slope = evidence.params[shape]
        if signal and slope not in parts:
            parts[slope] = _interpolation_noise(evidence.frequencies[top], ratios, 1.0, slope) - noise
        model = np.log(noise + signal * parts[slope] + 1e-300) if signal else np.log(noise + 1e-300)
        members = shapes == shape
        residual = log_power[members][:, None, :] - model[None]
        total += weight[members] @ np.var(residual, axis=2)
    return float(ratios[np.argmin(total)])


def pooled_ratio(parts: list[TopOctaveEvidence | None]) -> float:
    """The session's interpolation ratio from its blocks' `session_ratio_of_rows` (NaN: none);
    rows shorter than a Welch segment (one segment: no evidence) left out."""
    parts = [part for part in parts if part is not None and part.valid.size]
    if not parts:
        return float("nan")
    longest = max(part.frequencies.size for part in parts)  # rows shorter than a segment: 1 of them
    return session_interpolation_ratio(concat_evidence([p for p in parts if p.frequencies.size == longest]))


def _rows_of(evidence: TopOctaveEvidence, rows: np.ndarray) -> TopOctaveEvidence:
    """The evidence of some rows (a boolean mask or indices)."""
    return evidence._replace(
        **{
            name: getattr(evidence, name)[rows]
            for name in (
                "density",
                "segments",
                "valid",
                "by_ratio",
                "by_ratio_shape",
                "best",
                "best_fit",
                "native_fit",
            )
        }
    )

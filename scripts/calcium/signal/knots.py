"""Linear interpolation from a slower scan, recognised in the time domain (`knot_ratio`).

`np.interp` onto a faster uniform clock makes a trace exactly piecewise linear between the scan's
frames (the knots, `ratio` = frame rate / scan rate frames apart). Least squares of a window on a
piecewise-linear basis with knots at the right ratio and phase leaves nothing (float rounding),
where a natively sampled trace leaves its noise at every ratio. The spectral test
(`calcium.signal.interpolation_session`) cannot tell ratios below ~1.4 (25 -> 30 Hz) from a
native trace's shapes; this one can, for interpolation from a uniformly timed scan (not from
jittered frame times, which put the knots off any uniform grid).
"""

from __future__ import annotations

import numpy as np

# Ratios 1.04-2.1 (0.1 % apart: over a 160-frame window the knots then drift < 0.1 frame from the
# nearest candidate's), knot phases R/24 apart; windows of 160 frames (a basis of 160/R + 2
# functions: at R 1.04, 4 degrees of freedom), 4 windows per row.
RATIOS = np.geomspace(1.04, 2.1, 704)
N_PHASES = 24
WINDOW = 160
WINDOWS_PER_ROW = 4
# Rows of a session read (spread over it).
KNOT_ROWS = 16
# A ratio is proven when the windows' residual there (their median, each relative to its median
# over all ratios) is below 0.01 of that at ratios 1-3 % away; a whole multiple of a proven ratio
# below 0.05. Measured (docs/accuracy.md): scans interpolated from 4-28 Hz to 30 Hz read < 4e-4
# (a multiple: < 0.015); natively sampled ground truth (32 sets, each as a session of up to 16
# recordings, at its rate and averaged to 30 and 7.5 Hz: 76 sessions) 0.37 at least, its single
# recordings 0.086 at least. Fourier-resampled traces (spikefinder) read 0-0.04: they are left out.
PROVEN_BELOW = 0.01
MULTIPLE_PROVEN_BELOW = 0.05
# Whole multiples of a proven ratio tried up to a 12x slower scan (`knot_ratio`).
MAX_RATIO = 12.0
# Local minima of the residual over `RATIOS` refined (the deepest first): a scan interpolated by
# R > 2.1 is piecewise linear at R/2, R/3... and nearly so at other ratios.
_CANDIDATES = 6
# Refined only where the grid already shows a dip (an interpolation's lies within 0.05 % of a grid
# ratio: <= ~0.1 there; natively sampled ground truth's minima: ~0.3 and above).
_REFINED_BELOW = 0.25
_NEIGHBOURS = (0.01, 0.03)


def window_starts(n_frames: int, trials: np.ndarray | None = None) -> np.ndarray:
    """First frames of `WINDOWS_PER_ROW` windows of `WINDOW` frames spread over a recording of
    n_frames (trials: (trials, 2) first and one-past-last frame; windows then lie within a trial,
    whose ends break the interpolation's continuity). Empty when no window fits."""
    bounds = (
        np.array([[0, n_frames]]) if trials is None else np.asarray(trials, dtype=np.int64).reshape(-1, 2)
    )
    starts = np.concatenate([np.arange(a, b - WINDOW + 1) for a, b in bounds] or [np.zeros(0, np.int64)])
    if starts.size == 0:
        return starts.astype(np.int64)
    return starts[np.unique(np.linspace(0, starts.size - 1, WINDOWS_PER_ROW).round().astype(np.int64))]


def knot_rows(n_neurons: int) -> np.ndarray:
    """The rows of a session that `knot_ratio` reads: `KNOT_ROWS` spread over it (all if fewer),
    the same whatever the blocks a rule reads it in."""
    return np.unique(np.linspace(0, n_neurons - 1, min(KNOT_ROWS, n_neurons)).round().astype(np.int64))


def knot_windows(traces: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """(windows, `WINDOW`) the windows of each row that `knot_ratio` reads, each centred. traces:
    (rows, frames), e.g. ΔF/F (a constant F0 keeps the interpolation's linearity; detrending does
    not); starts: the windows' first frames (`window_starts`). Windows that are not finite, or
    flat, are left out."""
    traces = np.atleast_2d(np.asarray(traces, dtype=np.float64))
    index = np.asarray(starts, dtype=np.int64)[:, None] + np.arange(WINDOW)[None, :]
    windows = traces[:, index].reshape(-1, WINDOW) if index.size else np.zeros((0, WINDOW))
    windows = windows[np.all(np.isfinite(windows), axis=1)]
    windows = windows - windows.mean(axis=1, keepdims=True)
    return windows[np.sum(windows**2, axis=1) > 0]


def session_windows(traces: np.ndarray, frame_rate_hz: float, trials: np.ndarray | None = None) -> np.ndarray:
    """`knot_windows` of some of a session's ΔF/F rows (those of `knot_rows` in a block, or a set's
    recordings one by one), at frame_rate_hz (Hz), Fourier-resampled rows left out
    (`calcium.signal.bandlimit.resampled_rows`: smooth, they fit any piecewise-linear basis)."""
    from calcium.signal.bandlimit import resampled_rows

    traces = np.atleast_2d(np.asarray(traces, dtype=np.float64))
    read = traces[~resampled_rows(traces, frame_rate_hz)] if traces.shape[0] else traces
    return knot_windows(read, window_starts(traces.shape[1], trials))


def _least_residuals(windows: np.ndarray, ratios: np.ndarray, n_phases: int = N_PHASES) -> np.ndarray:
    """(windows, ratios) residual variance per degree of freedom of each (centred) window on the
    piecewise-linear basis of knots every R frames, the least over n_phases phases. All (ratio,
    phase) fits of a chunk of ratios at once: the basis's Gram matrix is tridiagonal, so its
    Cholesky factor is bidiagonal and the fitted energy ||L⁻¹ Aᵀy||² one forward recurrence over
    the knots, vectorised over the fits and windows."""
    out = np.empty((windows.shape[0], ratios.size))
    energy = np.sum(windows**2, axis=1)
    step = max(1, _FITS // n_phases)
    for first in range(0, ratios.size, step):
        chunk = ratios[first : first + step]
        fitted, dof = _fitted_energy(windows, chunk, n_phases)  # (fits, windows), (fits,)
        residual = np.maximum(energy[None, :] - fitted, 0.0) / dof[:, None]
        out[:, first : first + chunk.size] = residual.reshape(chunk.size, n_phases, -1).min(axis=1).T
    return out


_FITS = 768  # (ratio, phase) fits at once: memory ~ fits x knots x windows (60 MB for 64 windows)


def _fitted_energy(windows: np.ndarray, ratios: np.ndarray, n_phases: int) -> tuple[np.ndarray, np.ndarray]:
    """(fits, windows) energy of each window's least-squares fit on each (ratio, phase)'s hat
    functions (fits ordered ratio-major), and (fits,) each fit's degrees of freedom."""
    from scipy.sparse import csr_matrix

    phases = (np.arange(n_phases)[None, :] / n_phases * ratios[:, None]).ravel()
    u = (np.arange(WINDOW)[None, :] - phases[:, None]) / np.repeat(ratios, n_phases)[:, None]
    knot = np.floor(u).astype(np.int64)
    weight = u - knot
    knot -= knot[:, :1]
    n_fits, n_knots = knot.shape[0], int(knot.max()) + 2
    left = (np.arange(n_fits)[:, None] * n_knots + knot).ravel()
    # Aᵀy for every fit: a sparse (fits·knots, frames) map, 2 entries per frame
    rows = np.concatenate([left, left + 1])
    values = np.concatenate([(1.0 - weight).ravel(), weight.ravel()])
    columns = np.tile(np.arange(WINDOW), 2 * n_fits)
    projection = csr_matrix((values, (rows, columns)), shape=(n_fits * n_knots, WINDOW))
    projected = (projection @ windows.T).reshape(n_fits, n_knots, -1)
    # the Gram matrix's diagonal and superdiagonal (a knot no frame reaches: 1, alone)
    diagonal = np.bincount(rows, values**2, n_fits * n_knots).reshape(n_fits, n_knots)
    upper = np.bincount(left + 1, (weight * (1.0 - weight)).ravel(), n_fits * n_knots)
    upper = upper.reshape(n_fits, n_knots)
    used = diagonal > 0
    diagonal[~used] = 1.0
    pivot = np.sqrt(diagonal[:, 0])
    z = projected[:, 0] / pivot[:, None]
    fitted = z**2
    for k in range(1, n_knots):
        multiplier = upper[:, k] / pivot
        pivot = np.sqrt(np.maximum(diagonal[:, k] - multiplier**2, 1e-300))
        z = (projected[:, k] - multiplier[:, None] * z) / pivot[:, None]
        fitted += z**2
    return fitted, np.maximum(WINDOW - used.sum(axis=1), 1).astype(float)


def knot_ratio(windows: np.ndarray) -> tuple[float, float]:
    """(the ratio a session's windows prove, NaN if none; its contrast). windows: `knot_windows` of
    the session's rows (`knot_rows`). Each window's residual on the piecewise-linear basis at every
    ratio of `RATIOS` (the least over phases), relative to its median over them; the ratio with
    the least median over windows is refined (`_refined`) and proven when its residual is below
    `PROVEN_BELOW` of the residual at ratios 1-3 % away (the specificity to one ratio: a smooth
    trace fits every piecewise-linear basis nearly as well), `_CANDIDATES` local minima tried.
    A trace interpolated by R is also piecewise linear at R/2, R/3...: the largest whole multiple
    of the largest ratio proven, up to `MAX_RATIO`, that is proven too is the interpolation's."""
    windows = np.asarray(windows, dtype=np.float64)
    if windows.shape[0] == 0:
        return float("nan"), float("nan")
    residuals = _least_residuals(windows, RATIOS)
    scale = np.maximum(np.median(residuals, axis=1, keepdims=True), 1e-300)
    curve = np.median(residuals / scale, axis=0)
    inner = np.flatnonzero((curve[1:-1] <= curve[:-2]) & (curve[1:-1] <= curve[2:])) + 1
    proven, contrast = [], np.inf
    for best in inner[np.argsort(curve[inner])][:_CANDIDATES]:
        distance = np.abs(np.log(RATIOS / RATIOS[best]))
        near = (distance >= np.log1p(_NEIGHBOURS[0])) & (distance <= np.log1p(_NEIGHBOURS[1]))
        level = max(float(np.median(curve[near])), 1e-300)
        contrast = min(contrast, float(curve[best]) / level)
        if curve[best] >= _REFINED_BELOW * level:  # no dip: a native trace's minima (>= ~0.3)
            continue
        ratio, residual = _refined(windows, scale, float(RATIOS[best]))
        contrast = min(contrast, residual / level)
        if residual < PROVEN_BELOW * level:
            proven.append((ratio, residual / level, level))
    if not proven:
        return float("nan"), float(contrast)
    found = base = max(proven)
    for multiple in range(2, int(MAX_RATIO / base[0]) + 1):
        ratio, residual = _refined(windows, scale, multiple * base[0])
        if residual < MULTIPLE_PROVEN_BELOW * base[2]:
            found = (ratio, residual / base[2], base[2])
    whole = round(found[0])
    return (float(whole) if abs(found[0] / whole - 1.0) < 5e-4 else found[0]), found[1]


def _refined(windows: np.ndarray, scale: np.ndarray, ratio: float) -> tuple[float, float]:
    """(the ratio within 0.12 % of `ratio` (0.01 % steps, phases R/96 apart) with the least median
    residual over windows, relative to each window's scale; that residual)."""
    fine = ratio * (1.0 + np.linspace(-0.0012, 0.0012, 25))
    refined = np.median(_least_residuals(windows, fine, 4 * N_PHASES) / scale, axis=0)
    return float(fine[np.argmin(refined)]), float(refined.min())

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
# At most this share of a window's frames may repeat the previous frame's value (`knot_windows`).
_MAX_REPEATS = 0.25
# A proven ratio must also be exact: the windows' least residual (ratio and each window's phase
# optimised continuously, `_exact_residual`) at most this share of their energy (median over
# windows). np.interp stored as float32 leaves 1e-16-1e-13 (ΔF/F over a constant F0, or a running
# F0 over 30 s); natively sampled traces, cubic-spline or quadratic resampling (smooth: their
# neighbours' residual is far above, but they fit no basis exactly) 5e-10 and more; a running F0
# over 5 s 4e-9 (such a session is left to the spectral test).
EXACT_BELOW = 1e-11


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
    not); starts: the windows' first frames (`window_starts`). Windows that are not finite, flat,
    or repeat the previous value in more than a quarter of their frames are left out."""
    traces = np.atleast_2d(np.asarray(traces, dtype=np.float64))
    index = np.asarray(starts, dtype=np.int64)[:, None] + np.arange(WINDOW)[None, :]
    windows = traces[:, index].reshape(-1, WINDOW) if index.size else np.zeros((0, WINDOW))
    windows = windows[np.all(np.isfinite(windows), axis=1)]
    # a window with stretches of repeated values (zero padding, clipping, rectified or coarsely
    # quantised ΔF/F) fits a fine basis exactly wherever two frames share a piece
    windows = windows[np.mean(np.diff(windows, axis=1) == 0, axis=1) <= _MAX_REPEATS]
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
    functions (fits ordered ratio-major, phases R/n_phases apart), and (fits,) each fit's degrees
    of freedom."""
    from scipy.sparse import csr_matrix

    phases = (np.arange(n_phases)[None, :] / n_phases * ratios[:, None]).ravel()
    left, weight, n_knots, diagonal, upper, dof = _hat_bases(np.repeat(ratios, n_phases), phases)
    # Aᵀy for every fit: a sparse (fits·knots, frames) map, 2 entries per frame
    rows = np.concatenate([left, left + 1])
    columns = np.tile(np.arange(WINDOW), 2 * phases.size)
    values = np.concatenate([1.0 - weight, weight])
    projection = csr_matrix((values, (rows, columns)), shape=(phases.size * n_knots, WINDOW))
    projected = (projection @ windows.T).reshape(phases.size, n_knots, -1)
    return _fitted(projected, diagonal, upper), dof


def _paired_fitted_energy(windows: np.ndarray, ratios: np.ndarray, phases: np.ndarray) -> np.ndarray:
    """(windows,) energy of each window's least-squares fit on its own (ratio, phase)'s hat functions
    (ratios, phases: (windows,), any phase in frames)."""
    left, weight, n_knots, diagonal, upper, _ = _hat_bases(ratios, phases)
    values = windows.ravel()
    projected = np.bincount(left, values * (1.0 - weight), windows.shape[0] * n_knots)
    projected += np.bincount(left + 1, values * weight, windows.shape[0] * n_knots)
    return _fitted(projected.reshape(windows.shape[0], n_knots, 1), diagonal, upper)[:, 0]


def _hat_bases(ratios: np.ndarray, phases: np.ndarray):
    """Hat functions over a `WINDOW`-frame window with knots at phase + k·ratio frames, one basis per
    (ratio, phase) pair: (each frame's left knot as a flat index into (bases, knots), its weight on
    the right knot (both (bases·frames,)), knots per basis (padded to the most), the Gram matrix's
    diagonal and superdiagonal (bases, knots) (a knot no frame reaches: 1, alone), degrees of
    freedom (bases,))."""
    u = (np.arange(WINDOW)[None, :] - phases[:, None]) / ratios[:, None]
    knot = np.floor(u).astype(np.int64)
    weight = (u - knot).ravel()
    knot -= knot[:, :1]
    n_bases, n_knots = knot.shape[0], int(knot.max()) + 2
    left = (np.arange(n_bases)[:, None] * n_knots + knot).ravel()
    size = n_bases * n_knots
    diagonal = np.bincount(left, (1.0 - weight) ** 2, size) + np.bincount(left + 1, weight**2, size)
    upper = np.bincount(left + 1, weight * (1.0 - weight), size).reshape(n_bases, n_knots)
    diagonal = diagonal.reshape(n_bases, n_knots)
    used = diagonal > 0
    diagonal[~used] = 1.0
    return left, weight, n_knots, diagonal, upper, np.maximum(WINDOW - used.sum(axis=1), 1).astype(float)


def _fitted(projected: np.ndarray, diagonal: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """(bases, windows) ||L⁻¹ Aᵀy||², the fitted energy: projected (bases, knots, windows) Aᵀy; the
    Gram matrix (diagonal, upper: (bases, knots)) tridiagonal, its Cholesky factor L bidiagonal."""
    pivot = np.sqrt(diagonal[:, 0])
    z = projected[:, 0] / pivot[:, None]
    fitted = z**2
    for k in range(1, diagonal.shape[1]):
        multiplier = upper[:, k] / pivot
        pivot = np.sqrt(np.maximum(diagonal[:, k] - multiplier**2, 1e-300))
        z = (projected[:, k] - multiplier[:, None] * z) / pivot[:, None]
        fitted += z**2
    return fitted


def knot_ratio(windows: np.ndarray) -> tuple[float, float]:
    """(the ratio a session's windows prove, NaN if none; its contrast). windows: `knot_windows` of
    the session's rows (`knot_rows`). Each window's residual on the piecewise-linear basis at every
    ratio of `RATIOS` (the least over phases), relative to its median over them; the ratio with
    the least median over windows is refined (`_refined`) and proven when its residual is below
    `PROVEN_BELOW` of the residual at ratios 1-3 % away (the specificity to one ratio: a smooth
    trace fits every piecewise-linear basis nearly as well), `_CANDIDATES` local minima tried.
    A trace interpolated by R is also piecewise linear at R/2, R/3...: the largest whole multiple
    of the largest ratio proven, up to `MAX_RATIO`, that is proven too is the interpolation's.
    Proven means exact too (`EXACT_BELOW`, `_exact_residual`): smooth resampling (cubic spline)
    fits some ratio far better than its neighbours, but no basis exactly."""
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
            exact, share = _exact_residual(windows, ratio)
            if share <= EXACT_BELOW:
                proven.append((exact, residual / level, level))
    if not proven:
        return float("nan"), float(contrast)
    found = base = max(proven)
    for multiple in range(2, int(MAX_RATIO / base[0]) + 1):
        ratio, residual = _refined(windows, scale, multiple * base[0])
        if residual < MULTIPLE_PROVEN_BELOW * base[2]:
            exact, share = _exact_residual(windows, ratio)
            if share <= EXACT_BELOW:
                found = (exact, residual / base[2], base[2])
    whole = round(found[0])
    return (float(whole) if abs(found[0] / whole - 1.0) < 1e-6 else found[0]), found[1]


def _refined(windows: np.ndarray, scale: np.ndarray, ratio: float) -> tuple[float, float]:
    """(the ratio within 0.12 % of `ratio` (0.01 % steps, phases R/96 apart) with the least median
    residual over windows, relative to each window's scale; that residual)."""
    fine = ratio * (1.0 + np.linspace(-0.0012, 0.0012, 25))
    refined = np.median(_least_residuals(windows, fine, 4 * N_PHASES) / scale, axis=0)
    return float(fine[np.argmin(refined)]), float(refined.min())


def _exact_residual(windows: np.ndarray, ratio: float) -> tuple[float, float]:
    """(the ratio within ±0.02 % of `ratio`, each window's phase free, whose piecewise-linear fit
    leaves the least residual; that residual's share of the windows' energy, median over windows).
    Golden-section searches: over the ratio (24 steps: to ~4e-9 of it), and within each for every
    window's phase (within two R/96 steps of its best on that grid; 24 steps: to ~1e-6 frame)."""
    energy = np.sum(windows**2, axis=1)
    step = ratio / (4 * N_PHASES)
    fitted, _ = _fitted_energy(windows, np.array([ratio]), 4 * N_PHASES)
    start = np.argmax(fitted, axis=0) * step

    def share(r: float) -> float:
        ratios = np.full(windows.shape[0], r)
        phases = _golden(
            lambda phase: 1.0 - _paired_fitted_energy(windows, ratios, phase) / energy,
            start - 2 * step,
            start + 2 * step,
        )
        return float(np.median(1.0 - _paired_fitted_energy(windows, ratios, phases) / energy))

    best = float(
        _golden(
            lambda r: np.array([share(float(r[0]))]),
            np.array([ratio * (1 - 2e-4)]),
            np.array([ratio * (1 + 2e-4)]),
        )[0]
    )
    return best, max(share(best), 0.0)


def _golden(objective, low: np.ndarray, high: np.ndarray, steps: int = 24) -> np.ndarray:
    """Golden-section search of each element's minimum of objective (arrays in, arrays out,
    elementwise) within [low, high]; returns the points."""
    shrink = (np.sqrt(5.0) - 1.0) / 2.0
    a, b = low.astype(float), high.astype(float)
    c, d = b - shrink * (b - a), a + shrink * (b - a)
    fc, fd = objective(c), objective(d)
    for _ in range(steps):
        left = fc < fd  # the minimum lies in [a, d]
        a, b = np.where(left, a, c), np.where(left, d, b)
        new = np.where(left, b - shrink * (b - a), a + shrink * (b - a))
        value = objective(new)
        c, d, fc, fd = (
            np.where(left, new, d),
            np.where(left, c, new),
            np.where(left, value, fd),
            np.where(left, fc, value),
        )
    return np.where(fc < fd, c, d)

"""Event sizes in the `refined` method's membership test.

A neuron's presence at an assembly's activations is the binary part of the evidence; how much
it fires there is the rest (the ICA assemblies of Lopes-dos-Santos et al. 2013 weigh binned
spike counts, not presence). Each event's size is its amplitude over the neuron's median event
amplitude; a (neuron, bin) window holds the size of the largest event within ± jitter_bins,
quantized to `LEVEL` (1 .. `TOP` levels; 0: no event). The membership statistic of a neuron is
the sum of its window levels at the activations; under the circular-shift null (the neuron's
events, with their sizes, placed without regard to the activations) each activation draws a
window of the neuron at random, so the sum is that of independent draws from the neuron's own
window levels away from the activations (`size_tail`, exact by convolution). With every event of
one size this is the binomial test of presence exactly.
"""

from __future__ import annotations

import numpy as np

from calcium.population.coactivity import ActiveBins

LEVEL = 0.25  # one level: a quarter of the neuron's median event amplitude
TOP = 32  # the largest level (8 median amplitudes)


def with_event_sizes(
    raster: ActiveBins, neurons: np.ndarray, bins: np.ndarray, amplitudes: np.ndarray
) -> ActiveBins:
    """The raster with `sizes`: each (neuron, bin) pair's largest event amplitude over the neuron's
    median event amplitude (over its events in the raster's pairs). neurons, bins, amplitudes:
    one entry per event (its bin in the raster's bins). Without usable amplitudes (non-finite or
    not positive) the raster is returned as it is (presence only)."""
    neurons = np.asarray(neurons, dtype=np.int64)
    bins = np.asarray(bins, dtype=np.int64)
    amplitudes = np.asarray(amplitudes, dtype=np.float64)
    if amplitudes.size == 0 or not (np.isfinite(amplitudes).all() and (amplitudes > 0).all()):
        return raster._replace(sizes=None)
    placed = (bins >= 0) & (bins < raster.n_bins)  # events in a gap between trials have no bin
    neurons, bins, amplitudes = neurons[placed], bins[placed], amplitudes[placed]
    pairs = raster.neurons.astype(np.int64) * raster.n_bins + raster.bins
    keys = neurons * raster.n_bins + bins
    at = np.clip(np.searchsorted(pairs, keys), 0, max(pairs.size - 1, 0))
    inside = (pairs.size > 0) & (pairs[at] == keys) if pairs.size else np.zeros(keys.size, bool)
    neurons, amplitudes, at = neurons[inside], amplitudes[inside], at[inside]
    # Median amplitude of each neuron's events (sorted by neuron, then amplitude).
    order = np.lexsort((amplitudes, neurons))
    counts = np.bincount(neurons, minlength=raster.n_neurons)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    median = np.ones(raster.n_neurons)
    has = counts > 0
    low = starts[has] + (counts[has] - 1) // 2
    high = starts[has] + counts[has] // 2
    median[has] = 0.5 * (amplitudes[order][low] + amplitudes[order][high])
    sizes = np.zeros(pairs.size)
    np.maximum.at(sizes, at, amplitudes / median[neurons])
    return raster._replace(sizes=sizes)


class WindowLevels:
    """Each neuron's quantized event size within ± jitter_bins of each bin holding frames (sparse:
    the window pairs that hold an event), and its distribution over a session's bins."""

    def __init__(self, raster: ActiveBins, jitter_bins: int, held: np.ndarray):
        n_bins, width = raster.n_bins, TOP + 1
        level = np.clip(np.rint(np.asarray(raster.sizes) / LEVEL), 1, TOP).astype(np.int64)
        shifts = np.arange(-jitter_bins, jitter_bins + 1)
        covered = (shifts[:, None] + raster.bins[None, :]).ravel()
        neurons = np.tile(raster.neurons.astype(np.int64), shifts.size)
        levels = np.tile(level, shifts.size)
        inside = (covered >= 0) & (covered < n_bins)
        inside[inside] &= held[covered[inside]]
        keys = neurons[inside] * n_bins + covered[inside]
        levels = levels[inside]
        order = np.lexsort((levels, keys))  # the largest level last within each key
        keys, levels = keys[order], levels[order]
        last = np.ones(keys.size, dtype=bool)
        if keys.size:
            last[:-1] = keys[1:] != keys[:-1]
        self.keys, self.levels = keys[last], levels[last]
        self.neuron, self.bin = self.keys // n_bins, self.keys % n_bins
        self.n_neurons, self.n_bins, self.held = raster.n_neurons, n_bins, held
        self.total = np.bincount(self.neuron * width + self.levels, minlength=raster.n_neurons * width)
        self.total = self.total.reshape(raster.n_neurons, width)

    def at(self, peaks: np.ndarray) -> np.ndarray:
        """(peaks, neurons) int64 levels of the windows at the given bins (0: no event)."""
        peaks = np.asarray(peaks, dtype=np.int64)
        row = np.full(self.n_bins, -1, dtype=np.int64)
        row[peaks] = np.arange(peaks.size)
        out = np.zeros((peaks.size, self.n_neurons), dtype=np.int64)
        chosen = row[self.bin] >= 0
        out[row[self.bin[chosen]], self.neuron[chosen]] = self.levels[chosen]
        return out

    def null_pmf(self, exclude: np.ndarray) -> np.ndarray:
        """(neurons, TOP + 1) each neuron's distribution of window levels over the bins holding
        frames outside `exclude` ((n_bins,) bool); level 0 takes the windows without an event."""
        width = TOP + 1
        near = np.asarray(exclude, dtype=bool)[self.bin]
        counts = self.total - np.bincount(
            self.neuron[near] * width + self.levels[near], minlength=self.n_neurons * width
        ).reshape(self.n_neurons, width)
        kept = int((self.held & ~np.asarray(exclude, dtype=bool)).sum())
        counts[:, 0] = kept - counts[:, 1:].sum(axis=1)
        return counts / kept if kept else np.eye(1, width).repeat(self.n_neurons, axis=0)


def size_tail(pmf: np.ndarray, n_trials: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """P(S >= observed) for S the sum of n_trials independent draws from each row's pmf over the
    levels 0 .. len - 1, (rows,). Exact up to rounding: the n-fold convolution by FFT."""
    pmf = np.atleast_2d(np.asarray(pmf, dtype=np.float64))
    n_trials = np.asarray(n_trials, dtype=np.int64)
    observed = np.asarray(observed, dtype=np.int64)
    out = np.ones(pmf.shape[0])
    top = pmf.shape[1] - 1
    for n in np.unique(n_trials[n_trials > 0]):
        rows = np.flatnonzero(n_trials == n)
        length = int(n) * top + 1
        fft_length = 1 << int(np.ceil(np.log2(length)))
        spectrum = _power(np.fft.rfft(pmf[rows], fft_length, axis=1), int(n))
        distribution = np.maximum(np.fft.irfft(spectrum, fft_length, axis=1)[:, :length], 0.0)
        tail = np.cumsum(distribution[:, ::-1], axis=1)[:, ::-1]
        at = np.clip(observed[rows], 0, length)
        padded = np.concatenate([tail, np.zeros((rows.size, 1))], axis=1)
        out[rows] = np.clip(padded[np.arange(rows.size), at], 0.0, 1.0)
    out[observed <= 0] = 1.0
    return out


def _power(x: np.ndarray, n: int) -> np.ndarray:
    """x ** n for complex x by repeated squaring (numpy's complex power takes logarithms: 10x slower)."""
    out, base = np.ones_like(x), x
    while n:
        if n & 1:
            out = out * base
        n >>= 1
        if n:
            base = base * base
    return out

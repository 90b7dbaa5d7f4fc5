"""Planted ensembles from a second, independent simulator (issue 21's own grid), scored like
`ensemble_grid.py`.

`ensemble_grid.py` draws its sessions from the project's generator (`calcium.synthetic`), the
one the ensemble methods were designed on. This one shares none of it: each neuron fires at
its own background rate (log-normal around `--background-hz`, SD 0.5 in ln), a spike adds
0.15-0.3 ΔF/F (per neuron) through a GCaMP6s-like kernel (rise 50 ms, decay 1 s), F0 is
0.5-2 (per neuron) and the noise is Gaussian, `noise` × F0 per frame. Grid as issue 21 reports
it: 200 neurons, 15 min, 3 ensembles of 8 or 15 members, each member in `participation` (0.85,
0.6) of 30 activations (±1 frame, 1-2 spikes), noise 0.03 and 0.08 of F0, 1, 4.8 and 30 Hz;
in every other session ensembles 0 and 1 share a third of their members; two groups of 8
neurons fire at 2 Hz during 16 stimulus presentations of 2 s. Negative controls: independent
neurons only, and stimulus-driven groups only, at 1, 4.8 and 30 Hz. Events, the coactivity
null and every method as in `ensemble_grid.py` (the workflow's defaults).

    .venv/bin/python benchmarks/ensemble_grid_independent.py --seed 7   # ~3 min on one core
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.signal import fftconvolve

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from ensemble_grid import METHODS, design_for, report, run_methods, session_rows  # noqa: E402

from calcium.population.events import detect_events  # noqa: E402
from calcium.signal.detrend import detrend  # noqa: E402
from calcium.signal.dff import baseline_f0, delta_f_over_f  # noqa: E402

DURATION_S = 900.0


def simulate(size, participation, noise, fs, seed, kind="planted", background_hz=0.08, overlap=False):
    """(events, planted member sets, stimulus table) of one session."""
    rng = np.random.default_rng(seed)
    n, n_frames = 200, int(DURATION_S * fs)
    rates = background_hz * rng.lognormal(0.0, 0.5, n)
    counts = rng.poisson(rates[:, None] / fs, (n, n_frames)).astype(np.float32)
    order = rng.permutation(n)
    planted: list[set[int]] = []
    if kind == "planted":
        for e in range(3):
            members = order[e * size : (e + 1) * size]
            if overlap and e == 1:
                shared = np.array(sorted(planted[0]))[: size // 3]
                members = np.concatenate([shared, members[size // 3 :]])
            planted.append({int(m) for m in members})
            onsets = rng.choice(np.arange(int(5 * fs), n_frames - int(5 * fs)), 30, replace=False)
            for onset in onsets:
                fires = members[rng.random(members.size) < participation]
                frames = onset + rng.integers(-1, 2, fires.size)
                np.add.at(counts, (fires, frames), rng.integers(1, 3, fires.size))
    presentations = []
    if kind in ("planted", "stimulus"):
        groups = (order[150:158], order[160:168])
        onsets_s = np.sort(rng.choice(np.arange(20, 880, 10), 16, replace=False)).astype(float)
        for i, onset_s in enumerate(onsets_s):
            start, stop = int(onset_s * fs), int((onset_s + 2.0) * fs)
            group = groups[i % 2]
            counts[group, start:stop] += rng.poisson(2.0 / fs, (group.size, stop - start))
            presentations.append(dict(onset_s=onset_s, duration_s=2.0, stimulus="ab"[i % 2]))
    t = np.arange(int(6 * fs) + 1) / fs
    kernel = (1 - np.exp(-t / 0.05)) * np.exp(-t / 1.0)
    amplitude = rng.uniform(0.15, 0.3, n)[:, None]
    calcium = fftconvolve(counts * amplitude, (kernel / kernel.max())[None, :], axes=1)[:, :n_frames]
    f0 = rng.uniform(0.5, 2.0, n)[:, None]
    fluorescence = (f0 * (1 + calcium) + noise * f0 * rng.standard_normal((n, n_frames))).astype(np.float32)
    dff = delta_f_over_f(fluorescence, baseline_f0(fluorescence))
    events, _ = detect_events(detrend(dff, fs), fs, k_sigma=5.0, min_amplitude_dff=0.1)
    stimuli = pd.DataFrame(presentations, columns=["onset_s", "duration_s", "stimulus"])
    return events, planted, stimuli


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--background-hz", type=float, default=0.08)
    parser.add_argument("--methods", nargs="*", default=["refined", "ica"], help="names of METHODS to run")
    args = parser.parse_args()
    methods = {name: METHODS[name] for name in args.methods}
    rows = []
    t0 = time.perf_counter()
    grid = itertools.product((8, 15), (0.85, 0.6), (0.03, 0.08), (1.0, 4.8, 30.0))
    for i, (size, part, noise, fs) in enumerate(grid):
        events, planted, stimuli = simulate(
            size, part, noise, fs, args.seed * 1000 + i, background_hz=args.background_hz, overlap=i % 2 == 1
        )
        design = design_for(size, part, noise, fs)  # the session's shape for the methods
        session = session_rows(
            run_methods(events, design, stimuli, methods), planted, "planted", size, part, noise, fs
        )
        rows += session
        print(
            f"{time.perf_counter() - t0:6.0f} s  size {size} part {part} noise {noise} {fs} Hz:",
            {r["method"]: (r["recovered"], r["spurious"]) for r in session},
            flush=True,
        )
    for kind, fs in itertools.product(("independent", "stimulus"), (1.0, 4.8, 30.0)):
        events, planted, stimuli = simulate(
            10, 0.9, 0.08, fs, args.seed * 1000 + 900 + int(fs), kind, background_hz=args.background_hz
        )
        design = design_for(10, 0.9, 0.08, fs, kind)
        rows += session_rows(run_methods(events, design, stimuli, methods), planted, kind, 0, 0, 0.08, fs)
    print()
    print(report(pd.DataFrame(rows)))


if __name__ == "__main__":
    main()

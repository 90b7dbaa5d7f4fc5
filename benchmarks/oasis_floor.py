#!/usr/bin/env python3
"""Deconvolution against OASIS's own floor, per sample, on the same traces.

    .venv/bin/python benchmarks/oasis_floor.py                      # 4.8 Hz and 30 Hz
    .venv/bin/python benchmarks/oasis_floor.py --neurons 200 --frames 15000 --rates 4.8

For each frame rate: simulates neurons x frames of GCaMP6s-like ΔF/F (seeded Poisson
spikes through the indicator's AR(1) kernel, white noise), and times on the same traces,
one process, best of --repeats:

  - workflow: `calcium.signal.deconvolve.deconvolve_traces` with the session's default settings
    (`default_settings`: fixed decay, AR(1), noise-constrained, noise estimated once);
  - noise-constrained floor: `oasis.functions.constrained_oasisAR1` with the same fixed g
    and noise SD given (what the workflow solves, without its bookkeeping);
  - solver floor: `oasis.oasis_methods.oasisAR1` with the same g and λ = 0 (one pass of
    the pool-merging algorithm, no search for λ);
  - AR(2) with fixed g1, g2: `oasis.oasis_methods.oasisAR2`, for reference;
  - the noise estimate alone (`calcium.signal.deconvolve.noise_sd`), and OASIS's `GetSn`.

Prints one row per (rate, method): µs per sample and the ratio to the noise-constrained floor.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))


def simulate(n_neurons: int, n_frames: int, fs: float, tau_s: float, seed: int = 0) -> np.ndarray:
    """ΔF/F rows: Poisson spikes (0.5 Hz) through an AR(1) kernel of decay tau_s, noise SD 0.1."""
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    spikes = rng.poisson(0.5 / fs, (n_neurons, n_frames)).astype(float)
    g = np.exp(-1 / (tau_s * fs))
    calcium = lfilter([1.0], [1.0, -g], spikes, axis=1)
    return calcium + rng.normal(0, 0.1, calcium.shape)


def best_time(function, repeats: int) -> float:
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def measure(n_neurons: int, n_frames: int, fs: float, repeats: int) -> list[dict]:
    from oasis.functions import GetSn, constrained_oasisAR1
    from oasis.oasis_methods import oasisAR1, oasisAR2

    from calcium.signal.deconvolution_settings import default_settings
    from calcium.signal.deconvolve import deconvolve_traces, noise_sd

    settings = default_settings("GCaMP6s", fs)
    oasis = {key: settings[key] for key in ("ar_order", "tau_decay_s", "tau_rise_s", "penalty", "s_min")}
    traces = simulate(n_neurons, n_frames, fs, settings["tau_decay_s"])
    g = float(np.exp(-1 / (settings["tau_decay_s"] * fs)))
    d, r = g, float(np.exp(-1 / (0.2 * fs)))
    sn = noise_sd(traces)

    def each(solve):
        return lambda: [solve(row, y) for row, y in enumerate(traces)]

    timings = {
        "workflow (deconvolve_traces, default settings)": lambda: deconvolve_traces(traces, fs, **oasis),
        "noise-constrained floor (constrained_oasisAR1, fixed g)": each(
            lambda row, y: constrained_oasisAR1(y, g, sn[row], optimize_b=True)
        ),
        "solver floor (oasisAR1, fixed g, λ = 0)": each(lambda row, y: oasisAR1(y, g)),
        "AR(2) solver (oasisAR2, fixed g1, g2, λ = 0)": each(lambda row, y: oasisAR2(y, d + r, -d * r)),
        "noise estimate (calcium.signal.deconvolve.noise_sd, all rows)": lambda: noise_sd(traces),
        "noise estimate (OASIS GetSn, per row)": each(lambda row, y: GetSn(y)),
    }
    samples = n_neurons * n_frames
    seconds = {name: best_time(function, repeats) for name, function in timings.items()}
    floor = seconds["noise-constrained floor (constrained_oasisAR1, fixed g)"]
    return [
        {
            "frame_rate_hz": fs,
            "neurons": n_neurons,
            "frames": n_frames,
            "method": name,
            "us_per_sample": round(s / samples * 1e6, 4),
            "ratio_to_noise_constrained_floor": round(s / floor, 2),
        }
        for name, s in seconds.items()
    ]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--neurons", type=int, default=100)
    parser.add_argument("--frames", type=int, default=15000)
    parser.add_argument("--rates", type=float, nargs="+", default=[4.8, 30.0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    rows = [row for fs in args.rates for row in measure(args.neurons, args.frames, fs, args.repeats)]
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()

"""Planted-ensemble grid: how many planted ensembles each `ensembles.method` recovers (issue 21).

Sessions come from the project's generator (`calcium.synthetic`): 200 neurons, 15 min,
background firing at 0.05 Hz, two stimulus-driven groups of 8 neurons (2 Hz while their
stimulus is on, 8 presentations of 2 s each) and three planted ensembles of `size` members
firing in `participation` of 30 activations each (±1 frame jitter, 1-3 spikes); ensembles 0
and 1 share a third of their members (overlapping ensembles). Grid: size 5, 10, 20, 30, 50 ×
participation 0.6, 0.9 × noise 0.03, 0.1 of F0 × 1, 5, 30 Hz (size 50: a quarter of the
neurons each, beyond the reach of ICA's mean + 2 SD member cut). The workflow's chain: ΔF/F,
detrending, the event detector, the coactivity null (`coactivity_analysis`) and each method
(`ensemble_analysis`) with the defaults of config.yaml (bin_s 0.5, jitter_bins 1).

Negative controls: independent neurons only, stimulus-driven groups only (no ensembles), and
independent neurons sharing an up/down state (`STATE_*`: every neuron at 0.02 Hz, 0.1 Hz while
the population is up, the state switching every 50 s on average; arousal or locomotion raise
most neurons' rates together), at 1, 5 and 30 Hz, 3 seeds each.

A planted ensemble is recovered when a reported one matches it with Jaccard >= 0.5 (members);
a reported ensemble is spurious when it matches no planted one with Jaccard >= 0.5.

    .venv/bin/python benchmarks/ensemble_grid.py [--quick] [--processes 2]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from calcium.population.components import stimulus_bins  # noqa: E402
from calcium.population.ensemble_step import EnsembleSettings, ensemble_analysis
from calcium.population.events import detect_events  # noqa: E402
from calcium.population.membership import match_ensembles
from calcium.population.steps import Binning, NullSettings, Recording, coactivity_analysis
from calcium.signal.detrend import detrend  # noqa: E402
from calcium.signal.dff import baseline_f0, delta_f_over_f  # noqa: E402
from calcium.synthetic import (  # noqa: E402
    SessionDesign,
    neuron_rngs,
    plan_session,
    simulate_fluorescence,
    simulate_spikes,
)

METHODS = {
    "refined": dict(method="refined"),
    "ica": dict(method="ica"),
    "ica (every component, no test)": dict(method="ica", alpha=1.0),
    "jaccard": dict(method="jaccard"),
    "refined, stimuli kept": dict(method="refined", stimuli_kept=True),
}
DURATION_S = 900.0
STATE_RATES_HZ = (0.02, 0.1)  # every neuron's rate while the population is down, up
STATE_DWELL_S = 50.0  # mean time between switches of the state
CONTROL_LABELS = {
    "independent": "independent only",
    "stimulus": "stimulus only",
    "state": "independent, shared up/down state",
}


def design_for(
    size: int, participation: float, noise: float, fs: float, kind: str = "planted"
) -> SessionDesign:
    return SessionDesign(
        n_neurons=200,
        n_frames=int(round(DURATION_S * fs)),
        frame_rate_hz=fs,
        background_rate_hz=STATE_RATES_HZ[0] if kind == "state" else 0.05,
        noise_sd_dff=noise,
        n_ensembles=3 if kind == "planted" else 0,
        ensemble_size=size,
        ensemble_activations=30,
        ensemble_participation=participation,
        stimuli=("a", "b") if kind in ("planted", "stimulus") else (),
        stimulus_repeats=8,
        stimulus_duration_s=2.0,
        neurons_per_stimulus=8,
    )


def simulate(design: SessionDesign, seed: int, shared_state: bool = False):
    """Events of a session (the workflow's detector on detrended ΔF/F) and its planted member sets;
    shared_state: every neuron fires STATE_RATES_HZ[1] - [0] more while the population is up."""
    plan = plan_session(design, np.random.default_rng([seed, 0]))
    if len(plan.ensemble_members) >= 2:  # ensembles 0 and 1 share a third of their members
        shared = max(1, len(plan.ensemble_members[0]) // 3)
        plan.ensemble_members[1] = np.sort(
            np.concatenate([plan.ensemble_members[0][:shared], plan.ensemble_members[1][shared:]])
        )
    neurons = np.arange(design.n_neurons)
    rngs = neuron_rngs(seed, neurons)
    spikes = simulate_spikes(design, plan, neurons, rngs)
    if shared_state:
        fs, rng = design.frame_rate_hz, np.random.default_rng([seed, 7])
        up = np.cumsum(rng.random(design.n_frames) < 1 / (STATE_DWELL_S * fs)) % 2 == 1
        extra = (STATE_RATES_HZ[1] - STATE_RATES_HZ[0]) / fs
        spikes[:, up] += rng.poisson(extra, (design.n_neurons, int(up.sum()))).astype(spikes.dtype)
    fluorescence, _ = simulate_fluorescence(design, spikes, rngs)
    dff = delta_f_over_f(fluorescence, baseline_f0(fluorescence))
    events, _ = detect_events(
        detrend(dff, design.frame_rate_hz), design.frame_rate_hz, k_sigma=5.0, min_amplitude_dff=0.1
    )
    return events, [set(m.tolist()) for m in plan.ensemble_members], plan.stimulus_table


def run_methods(events, design: SessionDesign, stimuli: pd.DataFrame, methods=METHODS):
    """Reported member sets of every method; stimulus presentations are left out (the workflow's
    default, `ensembles.stimulus_margin_s`) except for the method named '... stimuli kept'."""
    recording = Recording(design.n_neurons, design.n_frames, design.frame_rate_hz)
    binning = Binning()
    null = NullSettings()
    co = coactivity_analysis(events, recording, binning, null)
    n_bins = len(co.bins)
    onsets = stimuli.onset_s.to_numpy(dtype=float)
    excluded = stimulus_bins(onsets, onsets + stimuli.duration_s.to_numpy(dtype=float), n_bins, binning.bin_s)
    found = {}
    for name, overrides in methods.items():
        overrides = dict(overrides)
        kept = overrides.pop("stimuli_kept", False)
        result = ensemble_analysis(
            events,
            co.ensemble_events,
            co.event_neurons,
            null.min_active,
            recording,
            binning,
            EnsembleSettings(**overrides),
            None if kept or not excluded.any() else excluded,
        )
        found[name] = [set(int(n) for n in row.split()) for row in result.ensembles.members.fillna("")]
    return found


def score(found: list[set[int]], planted: list[set[int]]):
    best = match_ensembles(found, planted) if planted else np.zeros(0)
    spurious = sum(1 for f in found if not planted or match_ensembles(planted, [f]).max() < 0.5)
    return best, spurious


def session_rows(found_by_method: dict, planted: list[set[int]], kind: str, size, participation, noise, fs):
    """One table row per method of a session: planted ensembles recovered (best Jaccard of each)
    and spurious ones (in a control, with nothing planted, every reported ensemble)."""
    rows = []
    for name, found in found_by_method.items():
        best, spurious = score(found, planted)
        rows.append(
            dict(
                kind=kind,
                size=size,
                participation=participation,
                noise=noise,
                fs=fs,
                method=name,
                recovered=int((best >= 0.5).sum()),
                planted=len(planted),
                best_j=best.tolist(),
                spurious=spurious,
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a corner of the grid only")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--methods", nargs="*", default=list(METHODS), help="names of METHODS to run")
    parser.add_argument(
        "--set", nargs="*", default=[], metavar="KEY=VALUE", help="EnsembleSettings overrides (exploration)"
    )
    args = parser.parse_args()
    overrides = {key: float(value) for key, value in (item.split("=") for item in args.set)}
    methods = {name: {**METHODS[name], **overrides} for name in args.methods}
    sizes, participations, noises, rates = (5, 10, 20, 30, 50), (0.6, 0.9), (0.03, 0.1), (1.0, 5.0, 30.0)
    if args.quick:
        sizes = (5, 10)
    rows = []
    t0 = time.perf_counter()
    for i, (size, part, noise, fs) in enumerate(itertools.product(sizes, participations, noises, rates)):
        design = design_for(size, part, noise, fs)
        events, planted, stimuli = simulate(design, seed=args.seed * 1000 + i)
        session = session_rows(
            run_methods(events, design, stimuli, methods), planted, "planted", size, part, noise, fs
        )
        rows += session
        print(
            f"{time.perf_counter() - t0:7.1f} s  size {size} part {part} noise {noise} {fs} Hz:",
            {r["method"]: (r["recovered"], r["spurious"]) for r in session},
            flush=True,
        )
    controls = [
        (kind, fs, seed)
        for kind in ("independent", "stimulus", "state")
        for fs in (1.0, 5.0, 30.0)
        for seed in range(1 if args.quick else 3)
    ]
    for kind, fs, seed in controls:
        design = design_for(10, 0.9, 0.1, fs, kind)
        events, planted, stimuli = simulate(design, args.seed * 1000 + 500 + seed, kind == "state")
        session = session_rows(run_methods(events, design, stimuli, methods), planted, kind, 0, 0, 0.1, fs)
        rows += session
        print(
            f"{time.perf_counter() - t0:7.1f} s  control {kind} {fs} Hz:",
            {r["method"]: r["spurious"] for r in session},
            flush=True,
        )
    table = pd.DataFrame(rows)
    print()
    print(report(table))


def report(table: pd.DataFrame) -> str:
    """Markdown: recovered / planted (mean best Jaccard) per method and grid axis; spurious counts."""
    planted = table[table.kind == "planted"]
    methods = list(dict.fromkeys(table.method))
    lines = ["| planted | " + " | ".join(methods) + " |", "|---" * (len(methods) + 1) + "|"]

    def cell(part: pd.DataFrame) -> str:
        """recovered/planted (mean best J over all planted; over the recovered ones)"""
        best = np.concatenate([np.asarray(b, dtype=float) for b in part.best_j]) if len(part) else np.zeros(0)
        found = best[best >= 0.5]
        return (
            f"{int(part.recovered.sum())}/{int(part.planted.sum())} "
            f"(J {best.mean():.2f}; {found.mean() if found.size else float('nan'):.2f})"
        )

    groups = [("all", planted)]
    groups += [(f"size {v}", planted[planted["size"] == v]) for v in sorted(planted["size"].unique())]
    groups += [
        (f"participation {v}", planted[planted.participation == v])
        for v in sorted(planted.participation.unique())
    ]
    groups += [(f"noise {v}", planted[planted.noise == v]) for v in sorted(planted.noise.unique())]
    groups += [(f"{v:g} Hz", planted[planted.fs == v]) for v in sorted(planted.fs.unique())]
    for label, part in groups:
        lines.append(f"| {label} | " + " | ".join(cell(part[part.method == m]) for m in methods) + " |")
    lines.append(
        "| spurious (planted sessions) | "
        + " | ".join(str(int(planted[planted.method == m].spurious.sum())) for m in methods)
        + " |"
    )
    for kind in ("independent", "stimulus", "state"):
        part = table[table.kind == kind]
        for fs in sorted(part.fs.unique()):
            chosen = part[part.fs == fs]
            n = len(chosen) // len(methods)
            lines.append(
                f"| control: {CONTROL_LABELS[kind]}, {fs:g} Hz ({n} sessions), spurious | "
                + " | ".join(str(int(chosen[chosen.method == m].spurious.sum())) for m in methods)
                + " |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()

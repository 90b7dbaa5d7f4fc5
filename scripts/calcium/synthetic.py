"""Seeded synthetic calcium-imaging sessions with planted ground truth.

Spike trains (background firing, co-firing ensembles, stimulus-locked neurons)
are convolved with a calcium kernel and turned into raw fluorescence with a
per-neuron resting level, a slow multiplicative drift, bleaching and Gaussian
noise:

    F[n, t] = F0[n] · drift[n, t] · (1 + ΔF/F[n, t]) + noise,
    ΔF/F[n, :] = amplitude_dff · (spikes[n, :] ⊛ kernel).

Everything random comes from `numpy.random.Generator`s seeded by the caller.
`write_sessions` writes sessions as files (the bundled example data, `PRESETS["default"]`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.signal import fftconvolve

from calcium.signal.indicators import indicator_kinetics
from calcium.signal.kernels import KERNEL_SHAPES, calcium_kernel  # noqa: F401 (re-exported)


@dataclass
class SessionDesign:
    """What to plant in a synthetic session (rates in Hz, times in seconds)."""

    n_neurons: int = 80
    n_frames: int = 3000
    frame_rate_hz: float = 5.0
    tau_decay_s: float = 1.25
    tau_rise_s: float = 0.1
    kernel_shape: str = "double_exponential"
    background_rate_hz: float = 0.03
    amplitude_dff: tuple[float, float] = (0.6, 1.2)
    noise_sd_dff: float = 0.08
    resting_f: tuple[float, float] = (300.0, 1200.0)
    drift_dff: float = 0.25
    drift_period_s: tuple[float, float] = (60.0, 240.0)
    bleaching_fraction: float = 0.15
    n_ensembles: int = 3
    ensemble_size: int = 10
    ensemble_activations: int = 12
    ensemble_participation: float = 0.9
    # Member spikes around each activation: None - the activation frame ± 1 frame;
    # a number - uniformly within ± this many seconds (e.g. one coactivity bin).
    ensemble_jitter_s: float | None = None
    stimuli: tuple[str, ...] = ()
    stimulus_repeats: int = 8
    stimulus_duration_s: float = 2.0
    neurons_per_stimulus: int = 6
    stimulus_rate_hz: float = 2.0
    # Suppressed neurons: tonic firing at suppressed_rate_hz that stops while their stimulus is on.
    suppressed_per_stimulus: int = 0
    suppressed_rate_hz: float = 2.0


@dataclass
class SessionPlan:
    """Session-wide draws: who belongs to which ensemble, when things happen."""

    ensemble_members: list[np.ndarray]
    ensemble_onsets_s: list[np.ndarray]
    stimulus_table: pd.DataFrame
    tuned_neurons: dict[str, np.ndarray]
    suppressed_neurons: dict[str, np.ndarray] = field(default_factory=dict)


def plan_session(design: SessionDesign, rng: np.random.Generator) -> SessionPlan:
    """Draw ensemble members and activation times, and the stimulus schedule.

    Ensembles, stimulus-tuned (excited) and suppressed neurons are disjoint sets.
    """
    duration_s = design.n_frames / design.frame_rate_hz
    order = rng.permutation(design.n_neurons)
    members, onsets = [], []
    used = 0
    for _ in range(design.n_ensembles):
        chosen = np.sort(order[used : used + design.ensemble_size])
        used += design.ensemble_size
        members.append(chosen)
        onsets.append(np.sort(rng.uniform(2.0, duration_s - 2.0, design.ensemble_activations)))
    tuned: dict[str, np.ndarray] = {}
    rows = []
    if design.stimuli:
        n_presentations = design.stimulus_repeats * len(design.stimuli)
        slot_s = (duration_s - 10.0) / n_presentations
        labels = np.tile(np.array(design.stimuli), design.stimulus_repeats)
        labels = labels[rng.permutation(labels.size)]
        for i, label in enumerate(labels):
            onset = 5.0 + i * slot_s + rng.uniform(0, max(slot_s - design.stimulus_duration_s, 0) / 2)
            rows.append((str(label), round(onset, 3), design.stimulus_duration_s))
        for label in design.stimuli:
            tuned[label] = np.sort(order[used : used + design.neurons_per_stimulus])
            used += design.neurons_per_stimulus
    suppressed: dict[str, np.ndarray] = {}
    if design.stimuli and design.suppressed_per_stimulus:
        for label in design.stimuli:
            suppressed[label] = np.sort(order[used : used + design.suppressed_per_stimulus])
            used += design.suppressed_per_stimulus
    if used > design.n_neurons:
        raise ValueError(f"the design plants {used} neurons in a session of {design.n_neurons}")
    stimulus_table = pd.DataFrame(rows, columns=["stimulus", "onset_s", "duration_s"])
    return SessionPlan(members, onsets, stimulus_table, tuned, suppressed)


def neuron_rngs(seed: int, neurons: np.ndarray) -> list[np.random.Generator]:
    """One independent random stream per neuron, from (seed, neuron id)."""
    return [np.random.default_rng([seed, 1, int(n)]) for n in neurons]


def simulate_spikes(
    design: SessionDesign, plan: SessionPlan, neurons: np.ndarray, rngs: list[np.random.Generator]
) -> np.ndarray:
    """Spike counts per frame, (len(neurons), n_frames) int16, for the given neurons.

    rngs: one generator per neuron (see `neuron_rngs`), so that a neuron's spikes
    do not depend on which other neurons are simulated with it.
    """
    fs = design.frame_rate_hz
    counts = np.stack([rng.poisson(design.background_rate_hz / fs, design.n_frames) for rng in rngs])
    index = {int(n): i for i, n in enumerate(neurons)}
    for members, onsets in zip(plan.ensemble_members, plan.ensemble_onsets_s, strict=True):
        for neuron in members:
            if int(neuron) not in index:
                continue
            rng = rngs[index[int(neuron)]]
            fires = rng.random(onsets.size) < design.ensemble_participation
            if design.ensemble_jitter_s is None:
                jitter = rng.integers(-1, 2, onsets.size)
                frames = np.round(onsets * fs).astype(int) + jitter
            else:
                times = onsets + rng.uniform(-design.ensemble_jitter_s, design.ensemble_jitter_s, onsets.size)
                frames = np.floor(times * fs).astype(int)
            frames = np.clip(frames, 0, design.n_frames - 1)
            n_spikes = rng.integers(1, 4, onsets.size)
            np.add.at(counts[index[int(neuron)]], frames[fires], n_spikes[fires])
    table = plan.stimulus_table
    for label in design.stimuli:
        on = np.zeros(design.n_frames, dtype=bool)
        for onset, duration in table.loc[table.stimulus == label, ["onset_s", "duration_s"]].to_numpy():
            on[int(round(onset * fs)) : int(round((onset + duration) * fs))] = True
        for neuron in plan.tuned_neurons.get(label, ()):
            if int(neuron) in index:
                rng = rngs[index[int(neuron)]]
                counts[index[int(neuron)], on] += rng.poisson(design.stimulus_rate_hz / fs, on.sum())
        for neuron in plan.suppressed_neurons.get(label, ()):
            if int(neuron) in index:
                rng = rngs[index[int(neuron)]]
                counts[index[int(neuron)], ~on] += rng.poisson(design.suppressed_rate_hz / fs, (~on).sum())
    return counts.astype(np.int16)


def simulate_fluorescence(
    design: SessionDesign, spikes: np.ndarray, rngs: list[np.random.Generator]
) -> tuple[np.ndarray, np.ndarray]:
    """Raw fluorescence (neurons, frames) float32 and its noiseless ΔF/F (one generator per neuron)."""
    fs = design.frame_rate_hz
    n, n_frames = spikes.shape
    # Spikes fall anywhere within their frame: sample the kernel half a frame after them.
    kernel = calcium_kernel(
        design.kernel_shape, fs, design.tau_decay_s, design.tau_rise_s, first_sample_frames=0.5
    )
    draws = np.array(
        [
            (
                rng.uniform(*design.amplitude_dff),
                rng.uniform(*design.drift_period_s),
                rng.uniform(0, 2 * np.pi),
                rng.uniform(*design.resting_f),
            )
            for rng in rngs
        ]
    ).reshape(n, 4)
    amplitude, period, phase, resting = (draws[:, i : i + 1] for i in range(4))
    dff = amplitude * fftconvolve(spikes.astype(np.float64), kernel[None, :], axes=1)[:, :n_frames]
    t = np.arange(n_frames) / fs
    drift = 1 + design.drift_dff * 0.5 * np.sin(2 * np.pi * t / period + phase)
    bleach = 1 - design.bleaching_fraction * (1 - np.exp(-t / (t[-1] + 1 / fs)))
    noise = (
        np.stack([rng.normal(0.0, design.noise_sd_dff, n_frames) for rng in rngs])
        if n
        else np.zeros((0, n_frames))
    )
    fluorescence = resting * drift * bleach * (1 + dff + noise)
    return fluorescence.astype(np.float32), dff.astype(np.float32)


def simulate_session(design: SessionDesign, seed: int, neurons_per_block: int = 1000):
    """Yield (first_neuron, fluorescence block, spike block) and return the plan.

    A generator, so that a large session is produced block by block in bounded
    memory. Every neuron has its own random stream from (seed, neuron), so the
    output does not depend on the block size.
    Use `plan = yield from simulate_session(...)` or `simulate_session_arrays`.
    """
    plan = plan_session(design, np.random.default_rng([seed, 0]))
    for first in range(0, design.n_neurons, neurons_per_block):
        neurons = np.arange(first, min(first + neurons_per_block, design.n_neurons))
        rngs = neuron_rngs(seed, neurons)
        spikes = simulate_spikes(design, plan, neurons, rngs)
        fluorescence, _ = simulate_fluorescence(design, spikes, rngs)
        yield first, fluorescence, spikes
    return plan


def simulate_session_arrays(design: SessionDesign, seed: int):
    """The whole session in memory: (fluorescence, spikes, plan). For small sessions."""
    fluorescence = np.empty((design.n_neurons, design.n_frames), dtype=np.float32)
    spikes = np.empty((design.n_neurons, design.n_frames), dtype=np.int16)
    blocks = simulate_session(design, seed)
    while True:
        try:
            first, f_block, s_block = next(blocks)
        except StopIteration as stop:
            plan = stop.value
            break
        fluorescence[first : first + len(f_block)] = f_block
        spikes[first : first + len(s_block)] = s_block
    return fluorescence, spikes, plan


# Named sets of sessions; "default" is the example data in resources/.
PRESETS = {
    "default": [
        dict(
            session="s1",
            indicator="GCaMP6s",
            seed=1,
            n_neurons=80,
            n_frames=3000,
            frame_rate_hz=5.0,
            n_ensembles=3,
            ensemble_size=10,
            stimuli=("looming", "dimming", "prey"),
        ),
        dict(
            session="s2",
            indicator="GCaMP6f",
            seed=2,
            n_neurons=60,
            n_frames=2400,
            frame_rate_hz=8.0,
            n_ensembles=2,
            ensemble_size=8,
            stimuli=(),
        ),
    ],
}


def write_session(
    out: Path, session: str, indicator: str, seed: int, file_format: str = "csv", **design_args
) -> dict:
    """Simulate one session and write it under `out` (block by block, bounded memory):
    <session>.csv (neurons x frames, no header, one decimal) or .npy (float32), and under
    truth/ its spikes, ensembles, ensemble onsets and tuned neurons; a stimulus table
    <session>.stimuli.csv when stimuli are planted. Returns its row of the session sheet."""
    kinetics = indicator_kinetics(indicator)
    design = SessionDesign(tau_decay_s=kinetics.tau_decay_s, tau_rise_s=kinetics.tau_rise_s, **design_args)
    truth = out / "truth"
    truth.mkdir(parents=True, exist_ok=True)
    data_path = out / f"{session}.{file_format}"
    spike_rows = []
    blocks = simulate_session(design, seed)
    if file_format == "npy":
        array = np.lib.format.open_memmap(
            data_path, mode="w+", dtype=np.float32, shape=(design.n_neurons, design.n_frames)
        )
    with open(data_path, "w") if file_format == "csv" else open(os.devnull, "w") as handle:
        while True:
            try:
                first, fluorescence, spikes = next(blocks)
            except StopIteration as stop:
                plan = stop.value
                break
            if file_format == "npy":
                array[first : first + len(fluorescence)] = np.round(fluorescence, 1)
            else:
                np.savetxt(handle, fluorescence, fmt="%.1f", delimiter=",")
            neuron, frame = np.nonzero(spikes)
            spike_rows.append(
                pd.DataFrame(
                    {
                        "neuron": neuron + first,
                        "frame": frame,
                        "time_s": np.round(frame / design.frame_rate_hz, 6),
                        "n_spikes": spikes[neuron, frame],
                    }
                )
            )
    if file_format == "npy":
        array.flush()
        del array
    pd.concat(spike_rows).to_csv(truth / f"{session}.spikes.csv", index=False)
    pd.DataFrame(
        [(k, n) for k, members in enumerate(plan.ensemble_members) for n in members],
        columns=["ensemble", "neuron"],
    ).to_csv(truth / f"{session}.ensembles.csv", index=False)
    pd.DataFrame(
        [(k, round(t, 3)) for k, onsets in enumerate(plan.ensemble_onsets_s) for t in onsets],
        columns=["ensemble", "time_s"],
    ).to_csv(truth / f"{session}.ensemble_onsets.csv", index=False)
    pd.DataFrame(
        [(n, label) for label, neurons in plan.tuned_neurons.items() for n in neurons],
        columns=["neuron", "stimulus"],
    ).to_csv(truth / f"{session}.tuning.csv", index=False)
    stimuli = ""
    if len(plan.stimulus_table):
        stimuli_path = out / f"{session}.stimuli.csv"
        plan.stimulus_table.to_csv(stimuli_path, index=False)
        stimuli = stimuli_path.as_posix()
    return {
        "session": session,
        "path": data_path.as_posix(),
        "frame_rate_hz": design.frame_rate_hz,
        "indicator": indicator,
        "input_kind": "raw",
        "stimuli": stimuli,
        "ground_truth": (truth / f"{session}.spikes.csv").as_posix(),
    }


def write_sessions(out: Path, specs: list[dict]) -> pd.DataFrame:
    """Write every session of `specs` (keyword arguments of `write_session`) and the session sheet
    sessions.tsv listing them; returns that sheet."""
    out.mkdir(parents=True, exist_ok=True)
    sheet = pd.DataFrame([write_session(out, **spec) for spec in specs])
    sheet.to_csv(out / "sessions.tsv", sep="\t", index=False)
    return sheet

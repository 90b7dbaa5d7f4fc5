#!/usr/bin/env python3
"""Generate seeded synthetic sessions (raw fluorescence CSV + ground truth).

    python scripts/make_synthetic_data.py --preset default --out resources
    python scripts/make_synthetic_data.py --session big --n-neurons 324 \
        --n-frames 15000 --frame-rate-hz 4.8 --seed 7 --out /tmp/bench

Writes per session: <session>.csv (neurons x frames, no header), and under
truth/: <session>.spikes.csv (neuron, frame, time_s, n_spikes),
<session>.ensembles.csv (ensemble, neuron), <session>.ensemble_onsets.csv
(ensemble, time_s), <session>.tuning.csv (neuron, stimulus); a stimulus table
<session>.stimuli.csv when stimuli are planted; and sessions.tsv listing them.
Large sessions are written block by block in bounded memory.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from calcium.signal.indicators import indicator_kinetics  # noqa: E402
from calcium.synthetic import SessionDesign, simulate_session  # noqa: E402

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


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--preset", choices=sorted(PRESETS), help="a named set of sessions")
    parser.add_argument("--session", default="synthetic", help="session id (without --preset)")
    parser.add_argument("--indicator", default="GCaMP6s")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-neurons", type=int, default=324)
    parser.add_argument("--n-frames", type=int, default=15000)
    parser.add_argument("--frame-rate-hz", type=float, default=4.8)
    parser.add_argument("--n-ensembles", type=int, default=4)
    parser.add_argument("--ensemble-size", type=int, default=12)
    parser.add_argument(
        "--format",
        choices=["csv", "npy"],
        default="csv",
        help="csv (text) or npy (float32, fast for large sessions)",
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.preset:
        specs = PRESETS[args.preset]
    else:
        specs = [
            dict(
                session=args.session,
                indicator=args.indicator,
                seed=args.seed,
                n_neurons=args.n_neurons,
                n_frames=args.n_frames,
                frame_rate_hz=args.frame_rate_hz,
                n_ensembles=args.n_ensembles,
                ensemble_size=args.ensemble_size,
                file_format=args.format,
            )
        ]
    rows = [write_session(args.out, **spec) for spec in specs]
    pd.DataFrame(rows).to_csv(args.out / "sessions.tsv", sep="\t", index=False)


if __name__ == "__main__":
    main()

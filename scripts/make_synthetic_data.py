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
Large sessions are written block by block in bounded memory (calcium.synthetic.write_sessions).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from calcium.synthetic import PRESETS, write_sessions  # noqa: E402

OPTIONS = {  # option: (type, default, help) of one session's design (without --preset)
    "session": (str, "synthetic", "session id"),
    "indicator": (str, "GCaMP6s", "indicator (sets the kinetics)"),
    "seed": (int, 0, "random seed"),
    "n_neurons": (int, 324, "neurons"),
    "n_frames": (int, 15000, "frames"),
    "frame_rate_hz": (float, 4.8, "frame rate (Hz)"),
    "n_ensembles": (int, 4, "planted ensembles"),
    "ensemble_size": (int, 12, "neurons per ensemble"),
}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--preset", choices=sorted(PRESETS), help="a named set of sessions")
    for name, (kind, default, text) in OPTIONS.items():
        parser.add_argument("--" + name.replace("_", "-"), type=kind, default=default, help=text)
    parser.add_argument(
        "--format",
        choices=["csv", "npy"],
        default="csv",
        help="csv (text) or npy (float32, fast for large sessions)",
    )
    args = parser.parse_args(argv)
    single = [{name: getattr(args, name) for name in OPTIONS} | {"file_format": args.format}]
    write_sessions(args.out, PRESETS[args.preset] if args.preset else single)


if __name__ == "__main__":
    main()

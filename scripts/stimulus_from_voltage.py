#!/usr/bin/env python3
"""Turn a microscope voltage recording's stimulus channel into a stimulus table.

    .venv/bin/python scripts/stimulus_from_voltage.py \
        --voltage ../shared/data/population/suite2p-gratings-30hz/voltage_recording.csv \
        --channel "Input 1" --label grating --out gratings.stimuli.csv

Reads a CSV with a time column (milliseconds by default, as Bruker/PrairieView's
VoltageRecording writes it) and a channel; a presentation is a stretch above the
threshold (default: halfway between the channel's 0.1th and 99.9th percentiles). The
output (stimulus, onset_s, offset_s, duration_s) goes in the session sheet's
`stimuli` column. Times are taken as seconds from the first imaging frame: check that
the voltage recording and the imaging started together (or subtract the offset with
--start-s).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from calcium.stimulus.voltage import read_voltage_channel, stimulus_table_from_channel  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--voltage", type=Path, required=True, help="voltage recording CSV")
    parser.add_argument("--time-column", default="Time(ms)")
    parser.add_argument("--time-unit", choices=["ms", "s"], default="ms")
    parser.add_argument("--channel", required=True, help="column of the stimulus channel")
    parser.add_argument("--threshold", type=float, default=None)
    parser.add_argument("--label", default="stimulus")
    parser.add_argument("--min-duration-s", type=float, default=0.0)
    parser.add_argument("--merge-gap-s", type=float, default=0.0, help="merge pulses closer than this")
    parser.add_argument("--start-s", type=float, default=0.0, help="time of the first imaging frame")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        time_s, values = read_voltage_channel(args.voltage, args.time_column, args.channel, args.time_unit)
    except ValueError as error:
        parser.error(str(error))
    stimuli = stimulus_table_from_channel(
        time_s - args.start_s, values, args.threshold, args.label, args.min_duration_s, args.merge_gap_s
    )
    stimuli = stimuli[stimuli.onset_s >= 0]
    stimuli.to_csv(args.out, index=False, float_format="%.4f")
    print(f"{len(stimuli)} presentations written to {args.out}")


if __name__ == "__main__":
    main()

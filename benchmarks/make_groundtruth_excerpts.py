#!/usr/bin/env python3
"""Write the compact reference ground truth that ships in resources/groundtruth/.

    .venv/bin/python benchmarks/make_groundtruth_excerpts.py [--source ../shared/data/groundtruth]

For every CASCADE-layout set and spikefinder train set under --source, --per-set
recordings (spread evenly over the set's recordings.csv, each with at least --min-spikes
true spikes in the excerpt) are cut to their middle --excerpt-s seconds and written in
the CASCADE layout the expected-accuracy rule reads (meta.json, recordings.csv,
recNN.trace.csv, recNN.spikes.csv), one folder per set; README.md names each set's
source paper and licence. The sets are GPL-3.0 (CASCADE) and the spikefinder data
(Berens et al. 2018); so are the excerpts.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO / "benchmarks"))

from score_ground_truth import load_sets  # noqa: E402

from calcium.evaluation.references import excerpt  # noqa: E402
from calcium.io import load_json  # noqa: E402

HEADER = """# Reference ground truth (excerpts)

Short excerpts of public ground-truth recordings: ΔF/F of single neurons with their spike
times recorded simultaneously (cell-attached or juxtacellular electrophysiology). The
workflow's `expected_accuracy` rule runs each session's own spike-inference settings on
the sets of its indicator family, brought to the session's frame rate and noise, to say
how well spikes can be inferred from it (docs: docs/accuracy.md, "Expected accuracy").

Made by `benchmarks/make_groundtruth_excerpts.py` from the sets in the CASCADE
ground-truth database (Rupprecht et al. 2021, Nat Neurosci 24:1324; GPL-3.0,
github.com/HelmchenLabSoftware/Cascade) and the spikefinder challenge's training data
(Berens et al. 2018, PLoS Comput Biol 14:e1006157). These excerpts keep their licence:
GPL-3.0. {per_set} recordings per set, the middle {excerpt_s:g} s of each, on each file's
own clock.

| folder | indicator | preparation | source | recordings |
|---|---|---|---|---|
"""


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--source", type=Path, default=REPO.parent / "shared" / "data" / "groundtruth")
    parser.add_argument("--out", type=Path, default=REPO / "resources" / "groundtruth")
    parser.add_argument("--per-set", type=int, default=3)
    parser.add_argument("--excerpt-s", type=float, default=60.0)
    parser.add_argument("--min-spikes", type=int, default=5)
    args = parser.parse_args(argv)
    sets = load_sets(args.source)
    if args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)
    lines = [HEADER.format(per_set=args.per_set, excerpt_s=args.excerpt_s)]
    folders = {p.name: p for p in args.source.iterdir() if p.is_dir()}
    for label, (paper, recordings) in sets.items():
        source = next(
            p for name, p in folders.items() if label in name or name.startswith(f"spikefinder-{label[2:]}-")
        )
        meta = load_json(source / "meta.json")
        cut = [excerpt(rec, args.excerpt_s) for rec in recordings]
        usable = [i for i, rec in enumerate(cut) if rec.spike_times_s.size >= args.min_spikes]
        if not usable:
            continue
        chosen = [usable[int(i)] for i in np.unique(np.linspace(0, len(usable) - 1, args.per_set).round())]
        folder = args.out / source.name
        folder.mkdir()
        index = []
        for number, i in enumerate(chosen):
            rec = cut[i]
            name = f"rec{number:02d}"
            times = rec.start_time_s + np.arange(rec.dff.size) / rec.frame_rate_hz
            pd.DataFrame({"time_s": times, "dff": rec.dff}).to_csv(
                folder / f"{name}.trace.csv", index=False, float_format="%.6g"
            )
            pd.DataFrame({"spike_time_s": rec.spike_times_s}).to_csv(
                folder / f"{name}.spikes.csv", index=False, float_format="%.6f"
            )
            index.append(
                {
                    "recording": name,
                    "source_file": rec.neuron or rec.name,
                    "frame_rate_hz": rec.frame_rate_hz,
                    "frames": rec.dff.size,
                    "spikes": rec.spike_times_s.size,
                }
            )
        pd.DataFrame(index).to_csv(folder / "recordings.csv", index=False)
        meta = {**meta, "excerpt": f"{len(index)} recordings, middle {args.excerpt_s:g} s of each"}
        meta.pop("frame_rate_hz", None)  # per recording in recordings.csv
        (folder / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        lines.append(
            f"| {source.name} | {meta['indicator']} | {meta.get('where') or ''} | "
            f"{meta.get('reference', paper)} | {len(index)} |\n"
        )
    (args.out / "README.md").write_text("".join(lines))
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"{args.out}: {len(list(args.out.iterdir())) - 1} sets, {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()

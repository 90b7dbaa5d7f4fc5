#!/usr/bin/env python3
"""Compare the workflow's spike inference with plain OASIS on ground-truth sessions.

    .venv/bin/snakemake --cores all --configfile config/groundtruth-ds14.yaml
    .venv/bin/python benchmarks/score_ground_truth.py --sheet config/groundtruth-ds14.tsv

For every session of the sheet: the workflow's score (results/<session>/evaluation/
summary.csv) and the score of OASIS with its own defaults (`oasis.functions.deconvolve(y)`:
AR(1), g estimated, L1, on the input ΔF/F as it is), both with the spikefinder metric
(Pearson r of inferred activity and true spike counts in 40 ms bins). Prints and writes
a markdown table with the medians (--out).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from calcium.evaluation import spikefinder_correlation  # noqa: E402


def plain_oasis_correlation(trace_path: Path, truth_path: Path, frame_rate_hz: float) -> float:
    from oasis.functions import deconvolve

    trace = pd.read_csv(trace_path).iloc[:, -1].to_numpy(dtype=float)
    truth = pd.read_csv(truth_path).iloc[:, -1].to_numpy(dtype=float)
    np.random.seed(0)  # noqa: NPY002 (OASIS's fallback draws from the global RNG)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spikes = deconvolve(trace)[1]
    return spikefinder_correlation(spikes, frame_rate_hz, truth)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sheet", type=Path, default=REPO / "config" / "groundtruth-ds14.tsv")
    parser.add_argument("--results", type=Path, default=REPO / "results")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "ground_truth.md")
    args = parser.parse_args(argv)
    sheet = pd.read_csv(args.sheet, sep="\t")
    rows = []
    for row in sheet.itertuples():
        summary = pd.read_csv(args.results / row.session / "evaluation" / "summary.csv")
        rows.append(
            {
                "session": row.session,
                "workflow_r_40ms": float(summary.median_correlation_40ms.iloc[0]),
                "workflow_f1": float(summary.median_f1.iloc[0]),
                "plain_oasis_r_40ms": plain_oasis_correlation(
                    REPO / row.path, REPO / row.ground_truth, float(row.frame_rate_hz)
                ),
            }
        )
    table = pd.DataFrame(rows)
    medians = table.drop(columns="session").median()
    text = table.to_string(index=False, float_format="%.3f")
    text += "\n\nmedian: " + ", ".join(f"{k} {v:.3f}" for k, v in medians.items()) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()

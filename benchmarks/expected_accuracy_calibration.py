#!/usr/bin/env python3
"""Is the expected-accuracy estimate calibrated? Each ground-truth set as a user's session.

    .venv/bin/python benchmarks/expected_accuracy_calibration.py      # ~5 min on 2 cores

Every set under --groundtruth (the full shared sets) is treated as a session: its
recordings are its neurons (ν and skewness of each as the workflow measures them,
`noise_at_scan_rates`: at its native rate, or at its scan's when band-limited or
interpolated), at the set's median frame rate (references scored at
`session_scoring_rate`). Its expected accuracy is estimated as the workflow does
(calcium.evaluation.accuracy, one noise band) from the shipped excerpts
(resources/groundtruth) with that set's own folder left out, and compared with what the
workflow's spike inference really scores on the set (median r over its full recordings,
native rate; --interpolated: as a session scanned slower and interpolated). Prints and writes
(--out/expected_accuracy_calibration.csv, .md) per set: realised, expected, p10-p90,
inside or not; and the share of sets inside and the median |expected - realised|.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO / "benchmarks"))

from score_ground_truth import load_sets  # noqa: E402

from calcium.evaluation.accuracy import expected_accuracy  # noqa: E402
from calcium.evaluation.carry import SKEW_SLOPE  # noqa: E402
from calcium.evaluation.references import load_references  # noqa: E402
from calcium.evaluation.scoring import spikefinder_correlation, split_by_span  # noqa: E402
from calcium.evaluation.session_accuracy import (  # noqa: E402
    SessionNoise,
    noise_at_scan_rates,
    session_scoring_rate,
    workflow_pipeline,
)
from calcium.signal.deconvolution_settings import default_settings  # noqa: E402
from calcium.signal.detrend import detrend  # noqa: E402
from calcium.signal.indicators import canonical_indicator, indicator_family  # noqa: E402

CONFIG = yaml.safe_load((REPO / "config.yaml").read_text())
SHIPPED = REPO / "resources" / "groundtruth"
POOLING = True  # --no-pooling: each recording's interpolation judged alone (as before pooling)


def pipeline_for(indicator: str, fs: float):
    detrend_settings = {
        k: CONFIG["detrend"][k] for k in ("method", "slow_drift_s", "percentile", "highpass_order")
    }
    return workflow_pipeline(
        default_settings(indicator, fs, CONFIG["deconvolution"]),
        CONFIG["spike_times"],
        lambda x, f: detrend(x, f, **detrend_settings),
    )


def realise(job) -> dict:
    """What the workflow really scores on one set (median r over its full recordings, native
    rate), and what a user would measure on it as a session: each recording's ν and skewness."""
    label, folder_name, paper, recordings = job
    warnings.simplefilter("ignore")
    realised, measured = [], []
    ratios = session_ratios(recordings)
    for rec, ratio in zip(recordings, ratios, strict=True):
        truth, _ = split_by_span(rec.spike_times_s, rec.dff.size, rec.frame_rate_hz, rec.start_time_s)
        measured.append(noise_at_scan_rates(rec.dff[None, :], rec.frame_rate_hz, ratio))
        if truth.size == 0:
            continue
        activity, _ = pipeline_for(rec.indicator, rec.frame_rate_hz)(
            rec.dff[None, :], rec.frame_rate_hz, rec.start_time_s, ratio
        )
        realised.append(
            spikefinder_correlation(activity[0], rec.frame_rate_hz, truth, 0.04, rec.start_time_s)
        )
    indicator = recordings[0].indicator
    noise = SessionNoise(*(np.concatenate(column) for column in zip(*measured, strict=True)))
    nu, skewness = list(noise.nu), list(noise.skewness)
    frame_rate = float(np.median([rec.frame_rate_hz for rec in recordings]))
    return {
        "set": label,
        "folder": folder_name,
        "paper": paper,
        "indicator": indicator,
        "family": indicator_family(canonical_indicator(indicator)),
        "frame_rate_hz": frame_rate,
        "scoring_rate_hz": session_scoring_rate(noise, frame_rate),
        "nu": nu,
        "skewness": skewness,
        "nu_median": float(np.median(nu)),
        "skewness_median": float(np.nanmedian(skewness)),
        "realised_r": float(np.median(realised)) if realised else np.nan,
    }


def session_ratios(recordings) -> list:
    """The linear interpolation each recording's session shares (a `SessionInterpolation`: ratio
    frame rate / scan rate, NaN: none; proven by the knot test), as the detrend rule decides it
    over a session's neurons (`calcium.signal.scan_rate.session_interpolation`: the spectral
    evidence of their detrended traces pooled, `pooled_ratio`, and the knot test on their ΔF/F,
    `calcium.signal.knots`, over up to `KNOT_ROWS` of them): a set's recordings of one frame rate
    (to 0.1 Hz) are one session's neurons; --no-pooling: NaN (each recording judged alone)."""
    from calcium.signal.interpolation_session import SessionInterpolation, pooled_ratio
    from calcium.signal.knots import knot_ratio, knot_rows, session_windows
    from calcium.signal.scan_rate import interpolation_evidence, session_interpolation

    settings = {k: CONFIG["detrend"][k] for k in ("method", "slow_drift_s", "percentile", "highpass_order")}

    if not POOLING:
        return [SessionInterpolation(float("nan"))] * len(recordings)
    rates = [round(rec.frame_rate_hz, 1) for rec in recordings]
    pooled = {}
    for rate in set(rates):
        members = [rec for rec, r in zip(recordings, rates, strict=True) if r == rate]
        spectral = pooled_ratio(
            [
                interpolation_evidence(
                    detrend(rec.dff[None, :], rec.frame_rate_hz, **settings), rec.frame_rate_hz
                )
                for rec in members
            ]
        )
        windows = [
            session_windows(members[k].dff[None, :], members[k].frame_rate_hz)
            for k in knot_rows(len(members))
        ]
        pooled[rate] = session_interpolation(spectral, knot_ratio(np.vstack(windows)))
    return [pooled[rate] for rate in rates]


def skew_slope(sets: pd.DataFrame) -> float:
    """d r / d ln(1 + skewness) across sets within indicator families: least squares on the sets'
    median r and ln(1 + median skewness), each centred on its family's mean (families of at
    least two scored sets). The constant SKEW_SLOPE is this over all sets."""
    s = sets.dropna(subset=["realised_r", "skewness_median"])
    x = np.log1p(np.maximum(s.skewness_median, 0.0))
    counts = s.family.map(s.family.value_counts())
    keep = counts >= 2
    xc = (x - x.groupby(s.family).transform("mean"))[keep]
    yc = (s.realised_r - s.realised_r.groupby(s.family).transform("mean"))[keep]
    return float((xc * yc).sum() / (xc**2).sum()) if (xc**2).sum() > 0 else SKEW_SLOPE


def calibrate(job) -> dict:
    """One set as a session: its expected accuracy from the shipped excerpts without its own
    folder, the skewness slope fitted without its paper, against what it really scores."""
    real, slope = job
    warnings.simplefilter("ignore")
    fs, indicator = real["scoring_rate_hz"], real["indicator"]
    settings = CONFIG["expected_accuracy"]
    refs = load_references(
        SHIPPED, indicator, settings["recordings_per_set"], settings["excerpt_s"], [real["folder"]]
    )
    bands, _, _ = expected_accuracy(
        np.array(real["nu"]),
        fs,
        refs.recordings,
        pipeline_for(indicator, real["frame_rate_hz"]),  # settings resolved as the workflow does
        n_bands=1,
        session_skewness=np.array(real["skewness"]),
        skew_slope=slope,
    )
    row = bands.iloc[0]
    out = {
        key: real[key]
        for key in (
            "set",
            "paper",
            "indicator",
            "frame_rate_hz",
            "scoring_rate_hz",
            "nu_median",
            "skewness_median",
            "realised_r",
        )
    }
    out.update(
        {
            "n_reference_sets": int(row.n_reference_sets),
            "expected_r": float(row.expected_correlation),
            "p10": float(row.correlation_p10),
            "p90": float(row.correlation_p90),
            "between_set_sd": float(row.between_set_sd),
            "nu_slope": float(row.nu_slope),
            "rate_slope": float(row.rate_slope),
            "skewness_slope": slope,
        }
    )
    out["inside"] = bool(out["p10"] <= out["realised_r"] <= out["p90"])
    out["error"] = out["expected_r"] - out["realised_r"]
    return out


def interpolated_sets(sets: dict, scan_hz: float, frame_hz: float) -> dict:
    """The sets as sessions scanned at scan_hz and linearly interpolated to frame_hz
    (`resample_traces` both ways), spikes on the same clock; sets slower than 1.5 x scan_hz left out."""
    from dataclasses import replace

    from calcium.evaluation.resampling import resample_traces

    out = {}
    for label, (paper, recordings) in sets.items():
        if np.median([rec.frame_rate_hz for rec in recordings]) < 1.5 * scan_hz:
            continue
        moved = []
        for rec in recordings:
            scan, start = resample_traces(rec.dff, rec.frame_rate_hz, scan_hz, rec.start_time_s)
            frames, start = resample_traces(scan, scan_hz, frame_hz, start)
            moved.append(replace(rec, dff=frames, frame_rate_hz=float(frame_hz), start_time_s=start))
        out[label] = (paper, moved)
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--groundtruth", type=Path, default=REPO.parent / "shared" / "data" / "groundtruth")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--interpolated",
        nargs=2,
        type=float,
        metavar=("SCAN_HZ", "FRAME_HZ"),
        help="each set as a session scanned at SCAN_HZ (averaged down) and linearly interpolated to "
        "FRAME_HZ, as traces aligned to behaviour or video are: is the estimate of an interpolated "
        "session as right as a natively sampled one's? Sets slower than 1.5 x SCAN_HZ are left out",
    )
    parser.add_argument(
        "--no-pooling",
        action="store_true",
        help="judge each recording's linear interpolation alone, not pooled over its set as a session",
    )
    args = parser.parse_args(argv)
    global POOLING
    POOLING = not args.no_pooling
    sets = load_sets(args.groundtruth)
    if args.interpolated:
        sets = interpolated_sets(sets, *args.interpolated)
    folders = {p.name: p.name for p in args.groundtruth.iterdir() if p.is_dir()}
    jobs = []
    for label, (paper, recordings) in sets.items():
        name = next(n for n in folders if label in n or n.startswith(f"spikefinder-{label[2:]}-"))
        jobs.append((label, name, paper, recordings))
    jobs.sort(key=lambda job: -sum(rec.dff.size for rec in job[3]))
    with Pool(args.processes) as pool:
        real = pool.map(realise, jobs, chunksize=1)
        sets_table = pd.DataFrame(real)
        # the skewness slope each set is scored with is fitted without that set's paper
        slopes = [skew_slope(sets_table[sets_table.paper != r["paper"]]) for r in real]
        table = pd.DataFrame(pool.map(calibrate, list(zip(real, slopes, strict=True)), chunksize=1))
    table = table.sort_values("set")
    print(f"skewness slope fitted on all sets (SKEW_SLOPE): {skew_slope(sets_table):.3f}")
    scored = table.dropna(subset=["expected_r", "realised_r"])
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "expected_accuracy_calibration.csv", index=False)
    lines = [
        "| set | indicator | Hz | ν | skewness | realised r | expected r (p10-p90) | inside |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in table.itertuples():
        lines.append(
            f"| {row.set} | {row.indicator} | {row.frame_rate_hz:.0f} | {row.nu_median:.2f} "
            f"| {row.skewness_median:.1f} "
            f"| {row.realised_r:.2f} | {row.expected_r:.2f} ({row.p10:.2f}-{row.p90:.2f}) "
            f"| {'yes' if row.inside else ('n/a' if np.isnan(row.realised_r) else '**no**')} |"
        )
    lines.append(
        f"\nInside p10-p90: {int(scored.inside.sum())}/{len(scored)} sets "
        f"({100 * scored.inside.mean():.0f} %); "
        f"median |expected - realised| {scored.error.abs().median():.3f}; "
        f"median signed error {scored.error.median():+.3f}."
    )
    text = "\n".join(lines) + "\n"
    (args.out / "expected_accuracy_calibration.md").write_text(text)
    print(table.to_string(index=False, float_format="%.3f"))
    print(text)


if __name__ == "__main__":
    main()

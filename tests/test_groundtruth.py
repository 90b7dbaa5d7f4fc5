"""Spike inference on real ground truth (needs ../shared; skips without it).

One regression test per indicator family on 60 s excerpts of three recordings, at the
native frame rate and resampled to 7.5 Hz: the workflow's rule must keep the median
correlation above a floor set about 0.1 below what the rule scores now (README,
"Spike inference on real ground truth"), so that a change that breaks it for one
family fails here. And the evaluate path of the workflow on one recording.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO, SHARED, copy_workflow, snakemake

from calcium.accuracy import Recording, excerpt, resample_traces, workflow_pipeline
from calcium.deconvolve import default_settings
from calcium.detrend import detrend
from calcium.evaluation import spikefinder_correlation, split_by_span
from calcium.groundtruth import read_groundtruth_recordings

GROUND_TRUTH = SHARED / "data" / "groundtruth"
DS14 = GROUND_TRUTH / "cascade-DS14-GCaMP6s-Chen2013"

# family: (folder, indicator, recordings, floor of the median r at native rate, at 7.5 Hz)
FAMILIES = {
    "slow GCaMP": ("cascade-DS14-GCaMP6s-Chen2013", "GCaMP6s", ["rec01", "rec02", "rec03"], 0.50, 0.35),
    "fast GCaMP (6f)": ("cascade-DS10-GCaMP6f-mouseV1", "GCaMP6f", ["rec00", "rec01", "rec02"], 0.65, 0.30),
    "fast GCaMP (7f)": (
        "cascade-DS29-GCaMP7f-mouseV1-part",
        "GCaMP7f",
        ["rec00", "rec01", "rec02"],
        0.70,
        0.30,
    ),
    "jGCaMP8": ("cascade-DS31-GCaMP8m-mouseV1-part", "GCaMP8m", ["rec00", "rec01", "rec02"], 0.70, 0.50),
    "synthetic dye": ("cascade-DS02-OGB1-mouseV1", "OGB-1", ["rec00", "rec01", "rec02"], 0.40, 0.25),
}


def _median_r(indicator, recordings, rate):
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    scores = []
    for rec in recordings:
        fs = rec.frame_rate_hz if rate == "native" else rate
        y, start = resample_traces(rec.dff, rec.frame_rate_hz, fs, rec.start_time_s)
        truth, _ = split_by_span(rec.spike_times_s, y.size, fs, start)
        pipeline = workflow_pipeline(
            default_settings(indicator, fs, config["deconvolution"]),
            config["spike_times"],
            lambda x, f: detrend(x, f, config["detrend"]["method"], config["detrend"]["slow_drift_s"]),
        )
        activity, _ = pipeline(y[None, :], fs, start)
        scores.append(spikefinder_correlation(activity[0], fs, truth, 0.04, start))
    return float(np.median(scores))


@pytest.mark.skipif(not GROUND_TRUTH.exists(), reason="../shared/data/groundtruth is not present")
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_rule_keeps_its_floor_on_each_indicator_family(family):
    folder, indicator, names, floor_native, floor_slow = FAMILIES[family]
    recordings = [
        excerpt(
            Recording(
                r["name"], indicator, r["frame_rate_hz"], r["start_time_s"], r["dff"], r["spike_times_s"]
            ),
            60.0,
        )
        for r in read_groundtruth_recordings(GROUND_TRUTH / folder, names)
    ]
    assert len(recordings) == 3 and all(rec.spike_times_s.size >= 5 for rec in recordings)
    assert _median_r(indicator, recordings, "native") >= floor_native
    assert _median_r(indicator, recordings, 7.5) >= floor_slow


@pytest.mark.skipif(not DS14.exists(), reason="../shared/data/groundtruth is not present")
def test_workflow_scores_a_real_gcamp6s_recording(tmp_path):
    workdir = copy_workflow(tmp_path / "run")
    recordings = pd.read_csv(DS14 / "recordings.csv")
    rate = float(recordings.frame_rate_hz[recordings.recording == "rec01"].iloc[0])
    trace = pd.read_csv(DS14 / "rec01.trace.csv").iloc[:6000]  # the first 100 s
    spikes = pd.read_csv(DS14 / "rec01.spikes.csv")
    spikes = spikes[spikes.spike_time_s < len(trace) / rate]
    assert len(spikes) > 10
    trace.to_csv(workdir / "rec01.trace.csv", index=False)
    spikes.to_csv(workdir / "rec01.spikes.csv", index=False)
    pd.DataFrame(
        [
            {
                "session": "rec01",
                "path": "rec01.trace.csv",
                "frame_rate_hz": rate,
                "indicator": "GCaMP6s",
                "input_kind": "dff",
                "stimuli": "",
                "ground_truth": "rec01.spikes.csv",
            }
        ]
    ).to_csv(workdir / "sheet.tsv", sep="\t", index=False)
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    config["sessions"] = "sheet.tsv"
    config["input"]["orientation"] = "frames_x_neurons"
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(workdir, "results/rec01/evaluation/summary.csv")
    assert result.returncode == 0, result.stdout[-3000:]
    summary = pd.read_csv(workdir / "results" / "rec01" / "evaluation" / "summary.csv")
    # Plain OASIS scores about 0.3 on these recordings; the workflow's defaults do better.
    assert summary.median_correlation_40ms.iloc[0] > 0.4
    table = pd.read_csv(workdir / "results" / "rec01" / "evaluation" / "evaluation.csv")
    assert table.n_true_spikes.iloc[0] == len(spikes)
    assert table.f1.iloc[0] > 0.4

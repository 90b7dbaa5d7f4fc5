"""The evaluate path on a slice of a real ground-truth recording (needs ../shared; skips without it)."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml
from conftest import SHARED, copy_workflow, snakemake

DS14 = SHARED / "data" / "groundtruth" / "cascade-DS14-GCaMP6s-Chen2013"


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

#!/usr/bin/env python3
"""The seed-size session, raw CSV to every figure: the workflow beside the notebook-style anchor.

    .venv/bin/python benchmarks/notebook_vs_workflow.py              # 324 x 15000 at 4.8 Hz, 1 and 2 cores
    .venv/bin/python benchmarks/notebook_vs_workflow.py --cores 1 2 4 --repeats 2

Generates one seeded synthetic session (scripts/make_synthetic_data.py), then on that same
file runs ../shared/reference/notebook_pipeline.py (one process, the speed anchor) and the
workflow in a fresh working directory per run, twice: `snakemake figures` (raw CSV to every
figure: the notebook's scope and more) and `snakemake all` (also the NWB file, the session
browser and the tables), and prints wall times and the ratio notebook / workflow for each
core count. The per-job
benchmark tables of the workflow runs give the job count, the total job time, and the
start-up cost of the cheapest jobs. Results go to --out (notebook_vs_workflow.csv/.md).
The machine should be otherwise idle: the ratios are only meaningful side by side.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO.parent / "shared" / "reference" / "notebook_pipeline.py"


def generate(out: Path, n_neurons: int, n_frames: int, rate_hz: float) -> Path:
    subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "make_synthetic_data.py"),
            "--out",
            str(out),
            "--session",
            "seed",
            "--n-neurons",
            str(n_neurons),
            "--n-frames",
            str(n_frames),
            "--frame-rate-hz",
            str(rate_hz),
            "--seed",
            "7",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return out / "seed.csv"


def run_notebook(csv: Path, rate_hz: float, out: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, str(NOTEBOOK), str(csv), str(rate_hz), str(out)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def run_workflow(data: Path, cores: int, workdir: Path, target: str) -> tuple[float, pd.DataFrame]:
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    for name in ("Snakefile", "workflow", "scripts", "envs", "profiles", "pyproject.toml"):
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, workdir / name)
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["sessions"] = str(data / "sessions.tsv")
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    snakemake = Path(sys.executable).parent / "snakemake"
    start = time.perf_counter()
    subprocess.run([str(snakemake), target, "--cores", str(cores), "--quiet"], cwd=workdir, check=True)
    wall_s = time.perf_counter() - start
    jobs = pd.DataFrame(
        [
            {
                "job": str(path.relative_to(workdir / "results" / "benchmarks")),
                **pd.read_csv(path, sep="\t").iloc[0],
            }
            for path in (workdir / "results" / "benchmarks").rglob("*.tsv")
        ]
    )
    return wall_s, jobs


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", default="324x15000@4.8", help="NEURONSxFRAMES@RATE_HZ")
    parser.add_argument("--cores", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=1, help="best of this many runs of each")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "notebook")
    args = parser.parse_args(argv)
    if not NOTEBOOK.exists():
        raise SystemExit(f"{NOTEBOOK} not found: the notebook anchor lives in ../shared/reference/")
    shape, _, rate = args.size.partition("@")
    n_neurons, n_frames = (int(v) for v in shape.split("x"))
    rate_hz = float(rate)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    data = out / "data"
    csv = generate(data, n_neurons, n_frames, rate_hz)
    notebook_s = min(run_notebook(csv, rate_hz, out / "notebook_figures") for _ in range(args.repeats))
    rows = [{"run": "notebook_pipeline.py (one process)", "cores": 1, "wall_s": round(notebook_s, 1)}]
    for target, cores in [(target, cores) for target in ("figures", "all") for cores in args.cores]:
        best = None
        for _ in range(args.repeats):
            wall_s, jobs = run_workflow(data, cores, out / f"workflow_{target}_{cores}cores", target)
            if best is None or wall_s < best[0]:
                best = (wall_s, jobs)
        wall_s, jobs = best
        rows.append(
            {
                "run": f"workflow {target} --cores {cores}",
                "cores": cores,
                "wall_s": round(wall_s, 1),
                "speed-up vs notebook": round(notebook_s / wall_s, 2),
                "jobs": len(jobs),
                "job_time_s": round(float(jobs.s.sum()), 1),
                "parallel_efficiency": round(float(jobs.s.sum()) / cores / wall_s, 2),
                "cheapest_job_s": round(float(jobs.s.min()), 2),
                "max_job_rss_mb": round(float(jobs.max_rss.max()), 0),
            }
        )
        jobs.sort_values("s", ascending=False).to_csv(out / f"jobs_{target}_{cores}cores.csv", index=False)
    table = pd.DataFrame(rows)
    table.to_csv(out / "notebook_vs_workflow.csv", index=False)
    text = (
        f"{args.size}, {os.cpu_count()} CPUs on the machine, {time.strftime('%Y-%m-%d')}\n\n"
        + table.to_string(index=False)
        + "\n"
    )
    (out / "notebook_vs_workflow.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

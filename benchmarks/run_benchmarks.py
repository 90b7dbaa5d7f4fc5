#!/usr/bin/env python3
"""Benchmark the whole workflow on seeded synthetic sessions of several sizes.

    .venv/bin/python benchmarks/run_benchmarks.py                  # 324x15000 and 1000x50000
    .venv/bin/python benchmarks/run_benchmarks.py --sizes 324x15000@4.8 10000x100000@30

For each size: generates a session with scripts/make_synthetic_data.py (seeded),
runs the workflow on it in a fresh working directory under --out, and reads
Snakemake's per-job `benchmark:` tables. Writes to --out:
  - rules.csv: one row per (size, rule): jobs, wall and CPU time (s), job time per sample
    (µs), peak RSS (MB)
  - summary.csv and summary.md: one row per size: wall time of the run, summed job time
    and CPU time, job time per sample, parallel efficiency (job time / cores / wall; job
    time counts each job's wall time once per thread it holds, as a job of two threads
    keeps two of the cores), CPU efficiency (the machine's CPU time while the workflow
    ran / cores / wall, sampled from /proc/stat: it counts worker processes that
    Snakemake's per-job CPU time can miss; job_cpu_efficiency is theirs), the sum of the
    jobs' wall times / cores / wall whatever their threads (unweighted_efficiency, low by
    construction when jobs of several threads run one after the other), the largest job's
    peak RSS, throughput (neuron-frames per second), and the time of 1000 circular-shift
    null shuffles.
  - jobs.csv: one row per job: rule, threads, start and end (s from the start of the run),
    wall and CPU time, peak RSS, and the machine's CPU use while it ran (cores busy, of
    `cores`): where a job holds cores that do nothing (I/O, a serial step), it shows.
The machine (CPU model, cores, memory) is recorded in summary.md. Per-stage compute
against OASIS's own floor is benchmarks/oasis_floor.py.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
GROUND_TRUTH = REPO.parent / "shared" / "data" / "groundtruth"  # for expected accuracy, if present


def parse_size(text: str) -> tuple[int, int, float]:
    """'324x15000@4.8' -> (neurons, frames, frame rate in Hz)."""
    shape, _, rate = text.partition("@")
    neurons, frames = (int(v) for v in shape.lower().split("x"))
    return neurons, frames, float(rate or 4.8)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {memory_gb:.0f} GiB, Python {platform.python_version()}"


def null_shuffle_time(
    session_dir: Path, session: str, bin_s: float, jitter_bins: int = 1, repeats: int = 5
) -> float:
    """Best-of-`repeats` seconds for 1000 circular-shift shuffles of the session's events."""
    from calcium.io import load_json
    from calcium.population.coactivity import event_frames
    from calcium.population.null import circular_shift_null

    events = pd.read_csv(session_dir / "results" / session / "events" / "events.csv")
    facts = load_json(session_dir / "results" / session / "ingest" / "recording.json")
    neurons, frames = event_frames(events)
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        circular_shift_null(
            neurons,
            frames,
            facts["n_neurons"],
            facts["n_frames"],
            facts["frame_rate_hz"],
            bin_s,
            1000,
            0,
            jitter_bins=jitter_bins,
        )
        best = min(best, time.perf_counter() - start)
    return best


class CpuSampler:
    """The machine's busy CPU time (user + system, s) sampled from /proc/stat every `period_s`."""

    def __init__(self, period_s: float = 0.5):
        self.period_s = period_s
        self.samples: list[tuple[float, float]] = []  # (time.time(), cumulative busy CPU s)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def busy_s() -> float:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        user, nice, system, _idle, _iowait, irq, softirq = (int(v) for v in fields[:7])
        return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), self.busy_s()))
            self._stop.wait(self.period_s)
        self.samples.append((time.time(), self.busy_s()))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def busy_between(self, start: float, end: float) -> float:
        """Busy CPU seconds between two wall-clock times (interpolated between samples)."""
        times, busy = np.array(self.samples).T
        return float(np.interp(end, times, busy) - np.interp(start, times, busy))


def job_threads(workdir: Path) -> dict[str, int]:
    """Threads of each job (by its benchmark file) from the Snakemake log of the run."""
    threads = {}
    for log in (workdir / ".snakemake" / "log").glob("*.snakemake.log"):
        # One block per job, from its "rule <name>:" line to "Shell command:".
        for block in re.split(r"^(?:local)?rule \w+:$", log.read_text(), flags=re.MULTILINE)[1:]:
            block = block.split("Shell command:")[0]
            bench = re.search(r"^\s+benchmark: (\S+)$", block, flags=re.MULTILINE)
            count = re.search(r"^\s+threads: (\d+)$", block, flags=re.MULTILINE)
            if bench:
                threads[bench.group(1)] = int(count.group(1)) if count else 1
    return threads


def run_size(size: str, out: Path, cores: int, keep: bool, file_format: str) -> tuple[dict, pd.DataFrame]:
    n_neurons, n_frames, rate = parse_size(size)
    session = f"n{n_neurons}_t{n_frames}"
    workdir = out / session
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    for name in ("Snakefile", "workflow", "scripts", "envs", "pyproject.toml"):
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, workdir / name)
    data = workdir / "data"
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "make_synthetic_data.py"),
            "--out",
            str(data),
            "--session",
            session,
            "--n-neurons",
            str(n_neurons),
            "--n-frames",
            str(n_frames),
            "--frame-rate-hz",
            str(rate),
            "--seed",
            "7",
            "--format",
            file_format,
        ],
        check=True,
    )
    generate_s = time.perf_counter() - start
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["sessions"] = "data/sessions.tsv"
    if GROUND_TRUTH.is_dir():
        config["expected_accuracy"]["ground_truth_dir"] = str(GROUND_TRUTH)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    snakemake = Path(sys.executable).parent / "snakemake"
    with CpuSampler() as sampler:
        start_epoch, start = time.time(), time.perf_counter()
        subprocess.run(
            [str(snakemake), "--cores", str(cores), "--printshellcmds"],
            cwd=workdir,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wall_s = time.perf_counter() - start
        end_epoch = time.time()
    threads = job_threads(workdir)
    rows = []
    for path in (workdir / "results" / "benchmarks").rglob("*.tsv"):
        table = pd.read_csv(path, sep="\t")
        end = path.stat().st_mtime  # the benchmark file is written as the job ends
        seconds = float(table.s.iloc[0])
        rows.append(
            {
                "rule": path.stem,
                "threads": threads.get(str(path.relative_to(workdir)), 1),
                "start_s": round(end - seconds - start_epoch, 2),
                "end_s": round(end - start_epoch, 2),
                "s": seconds,
                "cpu_s": float(table.cpu_time.iloc[0]),
                "max_rss_mb": float(table.max_rss.iloc[0]),
                "machine_cores_busy": round(sampler.busy_between(end - seconds, end) / max(seconds, 1e-3), 2),
            }
        )
    jobs = pd.DataFrame(rows).sort_values("start_s")
    jobs.insert(0, "size", size)
    machine_cpu_s = sampler.busy_between(start_epoch, end_epoch)
    samples = n_neurons * n_frames
    per_rule = (
        jobs.groupby("rule")
        .agg(
            jobs=("s", "size"),
            wall_s=("s", "sum"),
            cpu_s=("cpu_s", "sum"),
            max_rss_mb=("max_rss_mb", "max"),
        )
        .reset_index()
        .sort_values("wall_s", ascending=False)
    )
    per_rule["us_per_sample"] = (per_rule.wall_s / samples * 1e6).round(4)
    per_rule.insert(0, "size", size)
    job_s, cpu_s = float((jobs.s * jobs.threads).sum()), float(jobs.cpu_s.sum())
    summary = {
        "size": size,
        "input": file_format,
        "neurons": n_neurons,
        "frames": n_frames,
        "frame_rate_hz": rate,
        "cores": cores,
        "generate_s": round(generate_s, 1),
        "workflow_wall_s": round(wall_s, 1),
        "jobs": int(len(jobs)),
        "job_time_s": round(job_s, 1),
        "cpu_time_s": round(cpu_s, 1),
        "job_us_per_sample": round(job_s / samples * 1e6, 3),
        "parallel_efficiency": round(job_s / cores / wall_s, 3),
        "unweighted_efficiency": round(float(jobs.s.sum()) / cores / wall_s, 3),
        "cpu_efficiency": round(machine_cpu_s / cores / wall_s, 3),
        "job_cpu_efficiency": round(cpu_s / cores / wall_s, 3),
        "max_job_rss_mb": round(float(jobs.max_rss_mb.max()), 0),
        "largest_job": jobs.rule[jobs.max_rss_mb.idxmax()],
        "neuron_frames_per_s": round(samples / wall_s, 0),
        "null_1000_shuffles_s": round(
            null_shuffle_time(
                workdir, session, config["coactivity"]["bin_s"], config["coactivity"]["jitter_bins"]
            ),
            3,
        ),
    }
    if not keep:
        shutil.rmtree(data, ignore_errors=True)
        for array in (workdir / "results" / session).glob("*.npy"):  # the per-frame arrays
            array.unlink()
    return summary, per_rule, jobs


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", nargs="+", default=["324x15000@4.8", "1000x50000@30"])
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out")
    parser.add_argument("--cores", type=int, default=os.cpu_count())
    parser.add_argument("--keep", action="store_true", help="keep the generated data and the trace arrays")
    parser.add_argument(
        "--format",
        choices=["csv", "npy"],
        default="csv",
        help="input file format; npy skips text parsing for sessions of 10^9 samples",
    )
    args = parser.parse_args(argv)
    args.out = args.out.resolve()  # the generator writes paths the workflow resolves from its own directory
    args.out.mkdir(parents=True, exist_ok=True)
    summaries, rules, timelines = [], [], []
    for size in args.sizes:
        summary, per_rule, jobs = run_size(size, args.out, args.cores, args.keep, args.format)
        print(summary, flush=True)
        summaries.append(summary)
        rules.append(per_rule)
        timelines.append(jobs)
    summary = pd.DataFrame(summaries)
    summary.to_csv(args.out / "summary.csv", index=False)
    pd.concat(rules).to_csv(args.out / "rules.csv", index=False)
    pd.concat(timelines).to_csv(args.out / "jobs.csv", index=False)
    with open(args.out / "summary.md", "w") as handle:
        handle.write(f"Machine: {machine()}; {args.cores} cores used; {time.strftime('%Y-%m-%d')}\n\n")
        handle.write(summary.to_markdown(index=False) if _has_tabulate() else summary.to_string(index=False))
        handle.write("\n")
    print((args.out / "summary.md").read_text())


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()

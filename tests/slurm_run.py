"""The workflow through `--profile profiles/slurm`, started in the background.

A SLURM run spends most of its wall time waiting for the scheduler (submission, then status
checks every few seconds), not computing. conftest.py starts it when the session begins and
tests/test_slurm.py, which pytest runs last, checks what it did; the other tests run meanwhile.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

from conftest import BIN, REPO, copy_workflow, tool

PARTITION = "debug"  # profiles/slurm/config.yaml: default-resources: slurm_partition
SESSION = "s2"
# The per-neuron chain (multi-process rules) and the population tables of one session: the
# jobs a cluster runs longest. The figures, the browser and the NWB file are left to the
# local tests (each SLURM job costs seconds of submission and status polling).
TARGETS = [
    f"results/{SESSION}/spike_times.csv",
    f"results/{SESSION}/denoised.npy",
    f"results/{SESSION}/ensembles/ensembles.csv",
]
TIMEOUT_S = 900


def slurm_problem() -> str | None:
    """Why no SLURM job could run here, or None if a node of the partition is ready."""
    if shutil.which("sinfo") is None:
        return "`sinfo` not found (no SLURM client installed)"
    try:
        result = subprocess.run(
            ["sinfo", "--noheader", "--Node", "--partition", PARTITION, "--format=%N %T"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except subprocess.TimeoutExpired:
        return "`sinfo` did not answer within 30 s"
    if result.returncode != 0:
        return f"`sinfo` failed: {result.stderr.strip()}"
    states = dict(line.split(maxsplit=1) for line in result.stdout.splitlines() if line.strip())
    if not any(state in ("idle", "mixed") for state in states.values()):
        return f"no idle node in partition {PARTITION!r} (sinfo: {states or 'no nodes'})"
    return None


class SlurmRun:
    """`snakemake TARGETS --profile profiles/slurm` for session SESSION, running in `workdir`."""

    def __init__(self, workdir: Path):
        self.workdir = copy_workflow(workdir)
        shutil.copytree(REPO / "profiles", self.workdir / "profiles")
        sheet = self.workdir / "resources" / "sessions.tsv"
        lines = sheet.read_text().splitlines()
        kept = [lines[0]] + [line for line in lines[1:] if line.startswith(f"{SESSION}\t")]
        sheet.write_text("\n".join(kept) + "\n")
        self.log = self.workdir / "slurm_run.log"
        # sbatch passes Snakemake's environment on to the jobs (--export=ALL): the venv's bin
        # first on PATH, so whatever a job starts by name comes from the same environment.
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
        # The first status check 8 s after a submission, when these short jobs (5-6 s from
        # sbatch to exit) are done; the profile's 1 s would be followed by a check 11 s later
        # (the plugin adds 10 s per check that finds nothing finished).
        command = [
            tool("snakemake"),
            *TARGETS,
            "--profile",
            "profiles/slurm",
            "--slurm-keep-successful-logs",
            "--slurm-init-seconds-before-status-checks",
            "8",
        ]
        with open(self.log, "w") as log:  # a file, not a pipe: nobody reads it while it runs
            self.process = subprocess.Popen(
                command,
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # its own process group, stopped as one
            )
        self.started = time.monotonic()

    def output(self) -> str:
        return self.log.read_text()

    def wait(self) -> tuple[int | None, str]:
        """Wait for the run (at most TIMEOUT_S from its start); its exit code (None if it was
        stopped for taking too long) and its output."""
        try:
            code = self.process.wait(timeout=max(1.0, TIMEOUT_S - (time.monotonic() - self.started)))
        except subprocess.TimeoutExpired:
            self.stop()
            return None, self.output()
        return code, self.output()

    def stop(self) -> None:
        """Stop a run still going, and cancel the SLURM jobs it left behind."""
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        run_id = re.search(r"SLURM run ID: (\S+)", self.output())
        if run_id:
            subprocess.run(["scancel", "--name", run_id.group(1)], check=False, timeout=30)

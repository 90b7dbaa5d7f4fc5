"""The cluster path for real: the workflow through `--profile profiles/slurm` on a SLURM cluster.

Needs a running cluster whose jobs see this file system, e.g. the one-node cluster on
localhost that `.ci/slurm_cluster.sh start` sets up. Skipped when there is none, unless
CALCIUM_REQUIRE_SLURM=1 (CI), which turns the skip into a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
from conftest import BIN, REPO, checksums, copy_workflow, tool

REQUIRE_SLURM = os.environ.get("CALCIUM_REQUIRE_SLURM") == "1"
PARTITION = "debug"  # profiles/slurm/config.yaml: default-resources: slurm_partition
LOCAL_RULES = {"all"}  # rules Snakemake runs itself (localrule: True)
TIMEOUT_S = 900
SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+) ")
FINISHED = re.compile(r"Finished jobid: (\d+) \(Rule: (\w+)\)")


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


def require_slurm() -> None:
    problem = slurm_problem()
    if problem is None:
        return
    hint = "start a one-node cluster on this host with `bash .ci/slurm_cluster.sh start`"
    if REQUIRE_SLURM:
        pytest.fail(f"CALCIUM_REQUIRE_SLURM=1 but no usable SLURM cluster: {problem}; {hint}")
    pytest.skip(f"no SLURM cluster: {problem}; {hint} (CALCIUM_REQUIRE_SLURM=1 fails instead)")


def job_state(slurm_id: str) -> str:
    """The controller's state of a job (it lists finished jobs for MinJobAge seconds)."""
    shown = subprocess.run(["scontrol", "show", "job", slurm_id], capture_output=True, text=True, timeout=30)
    found = re.search(r"JobState=(\S+)", shown.stdout)
    return found.group(1) if found else f"unknown ({shown.stderr.strip()})"


def run_on_slurm(workdir) -> str:
    """`snakemake --profile profiles/slurm` in `workdir`; its output (stdout and stderr)."""
    # sbatch passes Snakemake's environment on to the jobs (--export=ALL): the venv's bin
    # first on PATH, so whatever a job starts by name comes from the same environment.
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    command = [tool("snakemake"), "--profile", "profiles/slurm", "--slurm-keep-successful-logs"]
    try:
        result = subprocess.run(
            command,
            cwd=workdir,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=TIMEOUT_S,
            env=env,
        )
    except subprocess.TimeoutExpired as error:
        output = error.stdout.decode() if isinstance(error.stdout, bytes) else error.stdout or ""
        run_id = re.search(r"SLURM run ID: (\S+)", output)
        if run_id:  # Snakemake was killed: cancel the jobs it left behind
            subprocess.run(["scancel", "--name", run_id.group(1)], check=False, timeout=30)
        pytest.fail(f"the SLURM run took more than {TIMEOUT_S} s:\n{output[-5000:]}")
    assert result.returncode == 0, result.stdout[-5000:]
    return result.stdout


def test_workflow_on_slurm_matches_a_local_run(tmp_path, request):
    require_slurm()
    local_run = request.getfixturevalue("default_run")  # snakemake --cores 2, no cluster
    workdir = copy_workflow(tmp_path / "run")
    shutil.copytree(REPO / "profiles", workdir / "profiles")
    output = run_on_slurm(workdir)

    # (b) Every job but the local ones went through sbatch and completed as a SLURM job.
    submitted = dict(SUBMITTED.findall(output))  # Snakemake job id -> SLURM job id
    finished = dict(FINISHED.findall(output))  # Snakemake job id -> rule
    assert submitted, f"no job was submitted to SLURM:\n{output[-5000:]}"
    remote = {job for job, rule in finished.items() if rule not in LOCAL_RULES}
    assert remote == set(submitted), (
        f"jobs run locally instead of on SLURM: {sorted(remote - set(submitted))}; "
        f"submitted but not finished: {sorted(set(submitted) - remote)}"
    )
    states = {slurm_id: job_state(slurm_id) for slurm_id in submitted.values()}
    assert set(states.values()) == {"COMPLETED"}, states
    slurm_logs = {p.stem for p in (workdir / ".snakemake" / "slurm_logs").rglob("*.log")}
    assert set(submitted.values()) <= slurm_logs, "a SLURM job left no log in .snakemake/slurm_logs"

    # (c) The same tables and arrays, byte for byte, as the local run.
    expected, got = checksums(local_run), checksums(workdir)
    assert expected, "the local run produced no tables or arrays"
    differ = sorted(name for name in expected.keys() | got.keys() if expected.get(name) != got.get(name))
    assert not differ, f"outputs differ from the local run ({local_run}): {differ}"

"""The cluster path for real: the workflow through `--profile profiles/slurm` on a SLURM cluster.

Needs a running cluster whose jobs see this file system, e.g. the one-node cluster on
localhost that `.ci/slurm_cluster.sh start` sets up. Skipped when there is none, unless
CALCIUM_REQUIRE_SLURM=1 (CI), which turns the skip into a failure.
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest
from conftest import checksums
from slurm_run import PARTITION, TARGETS, TIMEOUT_S, slurm_problem

REQUIRE_SLURM = os.environ.get("CALCIUM_REQUIRE_SLURM") == "1"
LOCAL_RULES = {"all"}  # rules Snakemake runs itself (localrule: True)
SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+) ")
FINISHED = re.compile(r"Finished jobid: (\d+) \(Rule: (\w+)\)")


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


def test_workflow_on_slurm_matches_a_local_run(slurm_run, request):
    """Session s2's per-neuron chain and population tables as SLURM jobs give the local run's outputs."""
    require_slurm()
    assert slurm_run is not None, f"the SLURM run did not start although the partition {PARTITION!r} is ready"
    local_run = request.getfixturevalue("default_run")  # snakemake --cores 2, no cluster
    code, output = slurm_run.wait()
    assert code is not None, f"the SLURM run took more than {TIMEOUT_S} s:\n{output[-5000:]}"
    assert code == 0, output[-5000:]
    workdir = slurm_run.workdir

    # Every job but the local ones went through sbatch and completed as a SLURM job.
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

    # The same tables and arrays, byte for byte, as the local run.
    got = checksums(workdir)
    assert set(TARGETS) <= set(got) and len(got) >= 15, sorted(got)
    expected = {name: digest for name, digest in checksums(local_run).items() if name in got}
    differ = sorted(name for name in expected.keys() | got.keys() if expected.get(name) != got.get(name))
    assert not differ, f"outputs differ from the local run ({local_run}): {differ}"

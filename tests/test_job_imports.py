"""Per-job start-up: a rule script imports only the slow libraries its own work needs.

Every job is a fresh Python process, so an import is paid once per job: scipy.stats or
scipy.signal cost ~1 s, matplotlib ~0.5 s, OASIS ~0.8 s, against ~0.3 s for a job that
does nothing costly. A module-level import of one of them in a shared library module
(e.g. scipy.stats for one constant) makes every job that imports that module pay it. This
test imports each script's top-level imports in a fresh interpreter and lists the slow
libraries that ended up loaded.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
SLOW = ("scipy.stats", "scipy.signal", "scipy.cluster", "scipy.optimize", "matplotlib", "oasis", "pynwb")
# What each script may load; any script not listed may load none of SLOW.
ALLOWED = {
    "deconvolve": {"scipy.stats", "scipy.signal", "scipy.optimize", "oasis"},  # OASIS itself
    "events": {"scipy.stats", "scipy.signal", "scipy.optimize"},  # find_peaks, peak_widths
    "evaluate": {"matplotlib"},
    "expected_accuracy": {"matplotlib"},
    "population_figures": {"matplotlib"},
    "trace_figures": {"matplotlib"},
    "stimulus_figures": {"matplotlib"},
    "roi_map": {"matplotlib"},
    "study": {"matplotlib"},  # the study figures
    "trial_responses": {"matplotlib"},  # its figure
    "make_synthetic_data": set(SLOW),  # not a rule
}


def top_level_imports(script: Path) -> list[str]:
    names = []
    for node in ast.parse(script.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


# One fresh interpreter imports what every job imports anyway (numpy, pandas: neither loads a
# SLOW library, checked below), then forks a child per script, two at a time: each child starts
# from that clean state, so what it lists is what its own imports add, at a fraction of the cost
# of a fresh interpreter per script.
FORKING_PROBE = """
import json, os, sys
sys.path.insert(0, sys.argv[1])
slow = json.loads(sys.argv[2])
import numpy, pandas
assert not [name for name in slow if name in sys.modules], "numpy/pandas loaded a slow library"
jobs = json.loads(sys.argv[3])
results, running = {}, {}

def reap():
    pid, status = os.wait()
    name, reader = running.pop(pid)
    with os.fdopen(reader) as pipe:
        text = pipe.read()
    results[name] = json.loads(text) if status == 0 and text else {"error": f"exit status {status}"}

for name, modules in jobs.items():
    if len(running) == 2:
        reap()
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(reader)
        try:
            for module in modules:
                __import__(module)
            out = [lib for lib in slow if lib in sys.modules]
        except BaseException as error:
            out = {"error": repr(error)}
        with os.fdopen(writer, "w") as pipe:
            pipe.write(json.dumps(out))
        os._exit(0)
    os.close(writer)
    running[pid] = (name, reader)
while running:
    reap()
print(json.dumps(results))
"""


def test_rule_scripts_load_only_the_slow_libraries_they_use():
    scripts = sorted(SCRIPTS.glob("*.py"))
    assert len(scripts) > 10
    jobs = {script.stem: top_level_imports(script) for script in scripts}
    run = subprocess.run(
        [sys.executable, "-c", FORKING_PROBE, str(SCRIPTS), json.dumps(SLOW), json.dumps(jobs)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    loaded = json.loads(run.stdout)
    assert set(loaded) == set(jobs)
    problems = []
    for name, libraries in loaded.items():
        assert not isinstance(libraries, dict), f"scripts/{name}.py: {libraries['error']}"
        extra = set(libraries) - ALLOWED.get(name, set())
        if extra:
            problems.append(f"scripts/{name}.py loads {sorted(extra)}")
    assert not problems, "; ".join(problems)

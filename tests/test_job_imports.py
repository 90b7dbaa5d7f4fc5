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


def test_rule_scripts_load_only_the_slow_libraries_they_use():
    code = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(SCRIPTS)!r})\n"
        "for name in json.loads(sys.argv[1]):\n"
        "    __import__(name)\n"
        f"print(json.dumps([name for name in {SLOW!r} if name in sys.modules]))\n"
    )
    scripts = sorted(SCRIPTS.glob("*.py"))
    assert len(scripts) > 10
    runs = {
        script.stem: subprocess.Popen(
            [sys.executable, "-c", code, json.dumps(top_level_imports(script))],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for script in scripts
    }
    problems = []
    for name, run in runs.items():
        out, err = run.communicate(timeout=120)
        assert run.returncode == 0, f"{name}: {err[-2000:]}"
        extra = set(json.loads(out)) - ALLOWED.get(name, set())
        if extra:
            problems.append(f"scripts/{name}.py loads {sorted(extra)}")
    assert not problems, "; ".join(problems)

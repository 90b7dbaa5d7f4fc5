"""The library's layout: stage subpackages, each with a lazy public API that resolves."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest
from conftest import REPO

SCRIPTS = REPO / "scripts"
SUBPACKAGES = ["input", "signal", "population", "stimulus", "evaluation", "outputs", "study"]


@pytest.mark.parametrize("name", SUBPACKAGES)
def test_public_api_resolves_and_shadows_no_module(name):
    package = importlib.import_module(f"calcium.{name}")
    modules = {m.name for m in pkgutil.iter_modules(package.__path__)}
    assert package.API, f"calcium.{name} lists no public API"
    for public, module in package.API.items():
        assert module in modules, f"calcium.{name}.API names a module that does not exist: {module}"
        # a public name equal to a module's name would be shadowed once that module is imported
        assert public not in modules, f"calcium.{name}.{public} is also a module name"
        value = getattr(package, public)
        assert getattr(value, "__module__", f"calcium.{name}.{module}") == f"calcium.{name}.{module}"
    with pytest.raises(AttributeError, match="no attribute"):
        package.no_such_name  # noqa: B018


def test_subpackage_imports_are_light():
    """Importing a subpackage (for its API) loads none of its modules: numpy-free start-up."""
    code = (
        "import sys; import calcium.signal, calcium.population, calcium.outputs, calcium.input, "
        "calcium.evaluation, calcium.stimulus, calcium.study; "
        "print(sorted(m for m in sys.modules if m.startswith(('numpy', 'pandas', 'calcium.'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=SCRIPTS, capture_output=True, text=True, check=True
    )
    loaded = eval(out.stdout)  # a printed list of names
    assert set(loaded) == {f"calcium.{name}" for name in SUBPACKAGES}, loaded


def test_no_flat_modules_left_but_the_shared_ones():
    """Stage code lives in its subpackage; the top level keeps what every stage shares."""
    top = {p.stem for p in (SCRIPTS / "calcium").glob("*.py")} - {"__init__"}
    assert top == {
        "errors",
        "io",
        "logs",
        "progress",
        "blocks",
        "workers",
        "settings",
        "synthetic",
        "config_reference",
    }


MAX_MODULE_LINES = 400
MAX_SCRIPT_LINES = 60


def test_modules_stay_short():
    library = SCRIPTS / "calcium"
    for path in sorted(library.rglob("*.py")):
        name = str(path.relative_to(library))
        lines = len(path.read_text().splitlines())
        assert lines <= MAX_MODULE_LINES, f"{name}: {lines} lines (split it by meaning)"


def test_rule_scripts_only_read_call_and_write():
    """A rule script reads inputs, calls the library and writes outputs: a screenful."""
    for path in sorted(SCRIPTS.glob("*.py")):
        lines = len(path.read_text().splitlines())
        assert lines <= MAX_SCRIPT_LINES, f"scripts/{path.name}: {lines} lines (logic belongs in calcium/)"

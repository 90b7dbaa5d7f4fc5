"""Every rule names a conda env that exists, parses, pins its packages and covers its imports."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO

RULES_DIR = REPO / "workflow" / "rules"
LIBRARY = REPO / "scripts" / "calcium"

# import name -> accepted package names (conda-forge or PyPI)
PACKAGES = {
    "numpy": {"numpy"},
    "scipy": {"scipy"},
    "pandas": {"pandas"},
    "pywt": {"pywavelets"},
    "matplotlib": {"matplotlib", "matplotlib-base"},
    "oasis": {"oasis-deconv"},
    "sklearn": {"scikit-learn"},
    "yaml": {"pyyaml"},
    "jsonschema": {"jsonschema"},
    "threadpoolctl": {"threadpoolctl"},
    "pynwb": {"pynwb"},
    "hdmf": {"hdmf"},
    "h5py": {"h5py"},
}


def rules_with_env_and_script():
    found = []
    for smk in sorted(RULES_DIR.glob("*.smk")):
        text = smk.read_text()
        blocks = re.split(r"^(?=(?:rule|checkpoint) \w+:)", text, flags=re.M)
        for block in blocks:
            name = re.match(r"(?:rule|checkpoint) (\w+):", block)
            if not name:
                continue
            conda = re.search(r'^\s+conda:\s*\n\s+"([^"]+)"', block, flags=re.M)
            script = re.search(r'^\s+script:\s*\n\s+"([^"]+)"', block, flags=re.M)
            found.append((name.group(1), smk, conda and conda.group(1), script and script.group(1)))
    return found


# Target rules: they only collect other rules' outputs (localrule, no script, no env).
TARGET_RULES = {"figures"}
RULES = [rule for rule in rules_with_env_and_script() if rule[0] not in TARGET_RULES]


def library_files(name: str) -> list[Path]:
    """The library files that `import name` (a dotted calcium.* name) executes: each package's
    __init__ on the way, then the module itself."""
    parts = name.split(".")[1:]
    files = [LIBRARY / "__init__.py"]
    for depth in range(1, len(parts) + 1):
        base = LIBRARY.joinpath(*parts[:depth])
        if (base / "__init__.py").exists():
            files.append(base / "__init__.py")
        elif base.with_suffix(".py").exists():
            files.append(base.with_suffix(".py"))
    return files


def public_api(package_init: Path) -> dict[str, str]:
    """A subpackage's lazily loaded public names (its `API` dict: name -> module)."""
    for node in ast.parse(package_init.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "API" for t in node.targets):
            return ast.literal_eval(node.value)
    return {}


def imported_modules(path: Path, seen: set[Path] | None = None) -> set[str]:
    """Top-level modules imported by a script and, recursively, by the library it uses (a name
    taken from a subpackage's lazy public API counts as an import of the module defining it)."""
    seen = seen if seen is not None else set()
    if path in seen:
        return set()
    seen.add(path)
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = ("calcium." + (node.module or "")).rstrip(".") if node.level else node.module or ""
            names = [module]
            if module.split(".")[0] == "calcium":  # `from calcium.signal import stages` / an API name
                package = LIBRARY.joinpath(*module.split(".")[1:])
                if (package / "__init__.py").exists():
                    api = public_api(package / "__init__.py")
                    for alias in node.names:
                        if package.joinpath(alias.name).with_suffix(".py").exists():
                            names.append(f"{module}.{alias.name}")
                        elif alias.name in api:
                            names.append(f"{module}.{api[alias.name]}")
        for name in names:
            top = name.split(".")[0]
            if top == "calcium":
                for target in library_files(name):
                    modules |= imported_modules(target, seen)
            else:
                modules.add(top)
    return modules


def env_packages(env_file: Path) -> dict[str, str]:
    spec = yaml.safe_load(env_file.read_text())
    assert isinstance(spec, dict) and spec.get("channels") and spec.get("dependencies"), env_file
    packages = {}
    for dependency in spec["dependencies"]:
        if isinstance(dependency, dict):
            for pip_dependency in dependency.get("pip", []):
                name, _, version = pip_dependency.partition("==")
                packages[name.strip().lower()] = version.strip()
        else:
            match = re.match(r"^([A-Za-z0-9_.-]+)\s*=*\s*([0-9][^\s]*)?$", dependency.strip())
            assert match, f"{env_file}: cannot parse dependency {dependency!r}"
            packages[match.group(1).lower()] = match.group(2) or ""
    return packages


def test_every_rule_has_an_env_and_a_script():
    assert len(RULES) >= 8
    for name, smk, conda, script in RULES:
        assert conda, f"rule {name} in {smk.name} names no conda env"
        assert script, f"rule {name} in {smk.name} names no script"


@pytest.mark.parametrize(("name", "smk", "conda", "script"), RULES, ids=[r[0] for r in RULES])
def test_env_covers_the_script_imports(name, smk, conda, script):
    env_file = (smk.parent / conda).resolve()
    script_file = (smk.parent / script).resolve()
    assert env_file.exists(), f"rule {name}: {env_file} does not exist"
    assert script_file.exists(), f"rule {name}: {script_file} does not exist"
    packages = env_packages(env_file)
    assert "python" in packages
    for package, version in packages.items():
        if package != "pip":
            assert version, f"{env_file.name}: {package} is not pinned"
    third_party = {
        m for m in imported_modules(script_file) if m not in sys.stdlib_module_names and m != "snakemake"
    }
    for module in third_party:
        assert module in PACKAGES, f"rule {name}: unknown import {module!r}; add it to PACKAGES"
        assert PACKAGES[module] & set(packages), f"rule {name}: {env_file.name} lacks {module}"


# What pip packages in an env need from conda (listed so that conda, not pip, provides them).
PIP_NEEDS = {
    "oasis-deconv": {"numpy", "scipy", "matplotlib-base"},
    "pynwb": {"numpy", "pandas", "h5py", "hdmf"},
}


def test_envs_hold_only_what_their_rules_import():
    """Minimal envs: each package is imported by a rule of the env (or needed by one that is)."""
    imported: dict[Path, set[str]] = {}
    for _, smk, conda, script in RULES:
        modules = imported_modules((smk.parent / script).resolve())
        packages = set().union(*(PACKAGES.get(m, set()) for m in modules))
        imported.setdefault((smk.parent / conda).resolve(), set()).update(packages)
    for env_file, packages in imported.items():
        listed = set(env_packages(env_file)) - {"python", "pip"}
        needed = packages | set().union(*(PIP_NEEDS.get(p, set()) for p in listed))
        unused = sorted(listed - needed)
        assert not unused, f"{env_file.name} lists {unused}, which none of its rules import"


def test_env_pins_match_requirements():
    """The virtualenv (requirements.txt) and the conda envs run the same versions."""
    pins = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==")
            pins[name.lower()] = version
    pins["matplotlib-base"] = pins["matplotlib"]
    for env_file in sorted((REPO / "envs").glob("*.yaml")):
        for package, version in env_packages(env_file).items():
            if package in pins:
                assert version == pins[package], f"{env_file.name}: {package} {version} != {pins[package]}"

"""Documentation that is written from the code stays true to it."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from conftest import REPO

from calcium.config_reference import SCHEMA, config_reference


def test_configuration_reference_is_written_from_the_current_schema():
    """docs/configuration.md is what scripts/calcium/config_reference.py writes from the schema:
    a key added, removed or re-described in the schema without re-writing it fails here."""
    schema = yaml.safe_load(SCHEMA.read_text(encoding="utf-8"))
    expected = config_reference(schema)
    written = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert written == expected, (
        "docs/configuration.md is stale: cd scripts && ../.venv/bin/python -m calcium.config_reference "
        "> ../docs/configuration.md"
    )
    for section, spec in schema["properties"].items():
        for key in spec.get("properties", {}):
            assert f"`{section}.{key}`" in written


def test_every_key_of_config_yaml_is_in_the_reference():
    config = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    written = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    for section, values in config.items():
        if isinstance(values, dict):
            for key in values:
                assert f"`{section}.{key}`" in written, f"{section}.{key}"
        else:
            assert f"`{section}`" in written


# ------------------------------------------------------------------------------------------
# Links between the pages

README_MAX_LINES = 250
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^()\s]+)\)")


def _outside_code(text: str) -> list[str]:
    """The page's lines outside fenced code blocks."""
    lines, fence = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fence = not fence
            continue
        if not fence:
            lines.append(line)
    return lines


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation other than - and _ dropped,
    spaces to hyphens (inline-code backticks and link syntax dropped first)."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading's anchor on a page (repeated headings get -1, -2, ... as on GitHub)."""
    found: set[str] = set()
    for line in _outside_code(path.read_text(encoding="utf-8")):
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            slug = github_slug(match.group(1))
            candidate, n = slug, 0
            while candidate in found:
                n += 1
                candidate = f"{slug}-{n}"
            found.add(candidate)
    return found


def links(path: Path) -> list[str]:
    """Targets of the page's Markdown links (not those shown as code)."""
    lines = _outside_code(path.read_text(encoding="utf-8"))
    return [target for line in lines for target in LINK.findall(re.sub(r"`[^`]*`", "", line))]


def _pages() -> list[Path]:
    return [REPO / "README.md", REPO / "config" / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def broken_links(page: Path) -> list[str]:
    broken = []
    for target in links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        linked = (page.parent / file_part).resolve() if file_part else page
        if not linked.exists():
            broken.append(f"{target} (no file {linked})")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target} (no heading with anchor #{anchor} in {linked.name})")
    return broken


def test_slugs_are_githubs():
    assert github_slug("Expected accuracy of your session (`evaluation/expected_accuracy.csv`)") == (
        "expected-accuracy-of-your-session-evaluationexpected_accuracycsv"
    )
    assert github_slug("Set-up: two commands") == "set-up-two-commands"
    assert github_slug("Events, coactivity and ensembles: the choices made") == (
        "events-coactivity-and-ensembles-the-choices-made"
    )


def test_the_link_check_finds_broken_links(tmp_path):
    (tmp_path / "a.md").write_text("# Title\n\n## A section\n\n```\n# not a heading\n```\n", encoding="utf-8")
    page = tmp_path / "b.md"
    page.write_text(
        "# B\n[ok](a.md#a-section) [ok](#b) [web](https://example.org/#x) `[code](missing.md)`\n"
        "[no file](c.md) [no anchor](a.md#not-a-heading) [no anchor here](#nothing)\n",
        encoding="utf-8",
    )
    broken = broken_links(page)
    assert len(broken) == 3, broken
    assert any("c.md" in b for b in broken) and any("#not-a-heading" in b for b in broken)
    assert any("#nothing" in b for b in broken)


def test_every_relative_link_and_anchor_resolves():
    """Every link of README.md and docs/*.md to a file of the repository names a file that
    exists, and every #anchor a heading of the page it points to."""
    broken = {page.relative_to(REPO).as_posix(): broken_links(page) for page in _pages()}
    broken = {page: items for page, items in broken.items() if items}
    assert not broken, broken


def test_readme_stays_short():
    """The README is the five-minute read; the rest belongs in docs/."""
    n_lines = len((REPO / "README.md").read_text(encoding="utf-8").splitlines())
    assert n_lines <= README_MAX_LINES, (
        f"README.md has {n_lines} lines (at most {README_MAX_LINES}): move detail to docs/"
    )


def test_readme_links_every_docs_page():
    linked = {Path(target.partition("#")[0]).name for target in links(REPO / "README.md")}
    missing = [page.name for page in sorted((REPO / "docs").glob("*.md")) if page.name not in linked]
    assert not missing, f"docs pages the README does not link: {missing}"


def test_readme_keeps_the_two_set_up_commands_ci_runs():
    """The README's set-up is two commands; CI (.ci/run) installs as the first does and runs the
    second as written, so neither may drift."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    install = (
        "python3 -m venv .venv && .venv/bin/pip install -r requirements.txt && "
        ".venv/bin/snakemake --cores all"
    )
    test = ".venv/bin/python -m pytest"
    assert install in readme.splitlines() and test in readme.splitlines()
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert ci[-1] == test
    assert "python3 -m venv .venv" in ci and ".venv/bin/pip install --quiet -r requirements.txt" in ci

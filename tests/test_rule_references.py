"""Rules name what they read by where it comes from: an input that another rule writes is
`rules.<rule>.output.<name>`, never the path copied (a copied path can drift from the output)."""

from __future__ import annotations

import re

from conftest import REPO

RULES = REPO / "workflow" / "rules"


def rule_paths(section: str) -> dict[str, set[str]]:
    """Per rule, the literal paths under results/ in its input or output section."""
    found: dict[str, set[str]] = {}
    for smk in sorted(RULES.glob("*.smk")):
        rule = current = None
        for line in smk.read_text().splitlines():
            start = re.match(r"^(?:rule|checkpoint) (\w+):", line)
            if start:
                rule, current = start.group(1), None
                continue
            heading = re.match(r"^    (\w+):", line)
            if heading:
                current = heading.group(1)
                continue
            if rule and current == section:
                for path in re.findall(r'"(results/[^"]+)"', line):
                    found.setdefault(rule, set()).add(path)
    return found


def test_inputs_refer_to_the_rule_that_writes_them():
    outputs = {path: rule for rule, paths in rule_paths("output").items() for path in paths}
    assert len(outputs) > 40
    copied = [
        f"rule {rule}: {path} is rules.{outputs[path]}.output"
        for rule, paths in rule_paths("input").items()
        for path in sorted(paths)
        if path in outputs and outputs[path] != rule
    ]
    assert not copied, "; ".join(copied)

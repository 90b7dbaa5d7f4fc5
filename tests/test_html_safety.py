"""Strings users control never become markup in the pages the workflow writes or feeds
(`snakemake --report`, the session browser), and every report caption renders cleanly."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml
from test_browser import page_assets, synthetic_session

from calcium.input.sheet import fill_defaults
from calcium.outputs.browser import build_page
from calcium.outputs.htmlsafe import script_safe_json

REPO = Path(__file__).resolve().parents[1]
REPORT = REPO / "workflow" / "report"
# An attack in the shape of the review's: ends a <script> element, then runs code in HTML.
MARKUP = "</script><img src=x onerror=alert(1)><script>alert(2)</script>"
# The same without "/" (file names, subject ids) and without quotes (tab-separated cells).
MARKUP_NAME = "<img src=x onerror=alert(3)>"
ACTIVE = re.compile(r"<img src=x|<script>alert", re.IGNORECASE)


def _schema() -> dict:
    return yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())


def _config() -> dict:
    return fill_defaults(yaml.safe_load((REPO / "config.yaml").read_text()), _schema())


def test_script_safe_json_cannot_end_a_script_and_reads_back_the_same():
    value = {"params": f"indicator={MARKUP} & <!-- -->", "list": [MARKUP, "\\<"]}
    text = script_safe_json(json.dumps(value))
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == value


# --- captions ------------------------------------------------------------------------------------


def _render_caption(path: Path, config: dict) -> str:
    from docutils.core import publish_parts
    from jinja2 import Environment

    snakemake = SimpleNamespace(config=config, wildcards=SimpleNamespace(session="s1"), params={})
    text = Environment().from_string(path.read_text()).render(snakemake=snakemake)
    return publish_parts(text, writer="html", settings_overrides={"report_level": 2})["body"]


@pytest.mark.parametrize("caption", sorted(REPORT.glob("*.rst")), ids=lambda p: p.name)
def test_every_caption_renders_without_docutils_errors(caption):
    body = _render_caption(caption, _config())
    assert "system-message" not in body and "Undefined substitution" not in body, body[:3000]


def test_captions_interpolate_no_free_text_from_the_config():
    """Captions are RST: a config string placed in one could inject markup (a raw directive, a
    link). Only numbers, booleans and enumerated values are interpolated."""
    schema = _schema()
    keys = set()
    for caption in REPORT.glob("*.rst"):
        text = caption.read_text()
        keys |= set(re.findall(r'(?:snakemake\.config|\bc)\["(\w+)"\]\["(\w+)"\]', text))
        top = set(re.findall(r'(?:snakemake\.config|\bc)\["(\w+)"\](?!\[)', text))
        assert not top, f"{caption.name} interpolates whole config entries {top}"
    assert len(keys) > 30
    for section, key in sorted(keys):
        spec = schema["properties"][section]["properties"][key]
        types = spec.get("type", [])
        types = [types] if isinstance(types, str) else types
        free_text = "string" in types and "enum" not in spec
        any_text = any(option.get("type") == "string" for option in spec.get("anyOf", []))
        assert not free_text and not any_text, f"{section}.{key} is free text in a caption"


# --- the browser page ----------------------------------------------------------------------------


def test_markup_in_labels_stimuli_and_notes_stays_text_in_the_browser_page():
    data = synthetic_session(np.random.default_rng(3), 3, 400)
    data.labels = [MARKUP, MARKUP_NAME, "roi_2"]
    data.notes = {"warning": MARKUP}
    data.stimuli = pd.DataFrame(
        {
            "stimulus": [MARKUP, MARKUP_NAME],
            "onset_s": [1.0, 5.0],
            "offset_s": [2.0, 6.0],
            "duration_s": [1.0, 1.0],
        }
    )
    template, assets = page_assets()
    html, _ = build_page(data, template, assets)
    assert not ACTIVE.search(html)
    assert (
        html.lower().count("<script") == html.lower().count("</script>") == template.lower().count("<script")
    )
    # The page's code shows data as text: innerHTML is only ever cleared, never filled.
    code = (REPO / "workflow" / "resources" / "browser" / "browser.js").read_text()
    assert not re.search(r"insertAdjacentHTML|outerHTML|document\.write", code)
    assert all(m.group(1) == '""' for m in re.finditer(r"innerHTML\s*=\s*([^;]+);", code))


# --- snakemake --report --------------------------------------------------------------------------


def test_markup_in_every_sheet_column_and_config_string_is_inert_in_the_report(default_run, tmp_path):
    """Markup in every free-text sheet column and config string (file names included) reaches
    the report as text: the review's indicator ran as HTML through a rule's params."""
    work = tmp_path / "run"
    top = str(default_run)
    reports = lambda folder, names: [n for n in names if folder == top and n.startswith("report.")]  # noqa: E731
    shutil.copytree(default_run, work, symlinks=True, ignore=reports)
    sheet = pd.read_csv(work / "resources" / "sessions.tsv", sep="\t", dtype=str, keep_default_na=False)
    for column in ("path", "stimuli"):
        for i, name in enumerate(sheet[column]):
            if name:
                moved = Path(name).with_name(f"{MARKUP_NAME}{Path(name).name}")
                shutil.copy(work / name, work / moved)
                sheet.loc[i, column] = str(moved)
    sheet["indicator"] = MARKUP
    sheet["subject_id"] = MARKUP_NAME
    sheet["species"] = MARKUP
    sheet["age"] = "P" + MARKUP
    sheet_name = f"resources/sheet{MARKUP_NAME}.tsv"
    sheet.to_csv(work / sheet_name, sep="\t", index=False)
    config = yaml.safe_load((work / "config.yaml").read_text())
    config["sessions"] = sheet_name
    config["expected_accuracy"]["ground_truth_dir"] = f"gt{MARKUP_NAME}"
    config["nwb"].update(institution=MARKUP, lab=MARKUP, experiment_description=MARKUP, experimenter=[MARKUP])
    # An indicator the table does not know needs its kinetics given.
    config["deconvolution"].update(tau_decay_s=1.0, tau_rise_s=0.1)
    config["stimulus"].update(tau_decay_s=1.0, tau_rise_s=0.1)
    (work / "config.yaml").write_text(yaml.safe_dump(config, allow_unicode=True))
    from conftest import snakemake

    result = snakemake(work, "--report", "report.html", timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
    html = (work / "report.html").read_text(errors="replace")
    assert "onerror=alert(1)" in html  # the indicator reached the report (as a rule's params) ...
    assert not ACTIVE.search(html)  # ... as text only

"""The study page (results/study/study.html): one self-contained HTML page with every
session's summary, a link to each session's browser page, the study figures (embedded PNG)
and the variants' comparison. Text the user controls (session ids, group values, variant
names and settings) is escaped (calcium.outputs.htmlsafe)."""

from __future__ import annotations

import base64
import math

import pandas as pd

from calcium.outputs.htmlsafe import html_text

# Columns of the sessions table shown on the page: (column, heading with unit).
PAGE_COLUMNS = [
    ("indicator", "indicator"),
    ("frame_rate_hz", "frame rate (Hz)"),
    ("duration_s", "duration (s)"),
    ("n_neurons", "neurons"),
    ("mean_event_rate_per_min", "event rate (events/min, mean)"),
    ("mean_spike_rate_hz", "spike rate (Hz, mean)"),
    ("significant_bin_fraction", "coactive bins above null (fraction)"),
    ("n_ensembles", "ensembles"),
    ("mean_ensemble_size", "ensemble size (neurons, mean)"),
    ("fraction_stimulus_locked", "stimulus-locked (fraction)"),
    ("median_expected_correlation", "expected correlation (median neuron)"),
]
VARIANT_COLUMNS = [
    ("n_spikes", "spikes"),
    ("n_events", "events"),
    ("n_ensemble_events", "ensemble events"),
    ("n_ensembles", "ensembles"),
    ("median_activity_correlation", "activity vs default (r, median neuron)"),
    ("median_correlation_40ms", "ground truth: correlation (40 ms, median neuron)"),
    ("median_f1", "ground truth: spike-time F1 (median neuron)"),
]

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; font-size: 0.85em; margin-bottom: 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: right; }
th { background: #f2f2f2; } td.text { text-align: left; }
img { max-width: 100%; border: 1px solid #ddd; margin-bottom: 1em; }
"""


def cell(value) -> str:
    """A table cell: numbers to 3 significant digits, missing values as an en dash."""
    if isinstance(value, bool):
        return f"<td>{'yes' if value else 'no'}</td>"
    if isinstance(value, int):
        return f"<td>{value}</td>"
    if isinstance(value, float):
        return "<td>–</td>" if not math.isfinite(value) else f"<td>{value:.3g}</td>"
    return f'<td class="text">{html_text(value)}</td>'


def table_html(table: pd.DataFrame, columns: list[tuple[str, str]], first: list[str], links=None) -> str:
    """Rows of `table`: the `first` columns as text (the session linked to `links[session]`)."""
    heads = "".join(f"<th>{html_text(c)}</th>" for c in first) + "".join(
        f"<th>{html_text(h)}</th>" for _, h in columns
    )
    rows = []
    for record in table.to_dict("records"):
        cells = []
        for column in first:
            text = html_text(record[column])
            if column == "session" and links:
                text = f'<a href="{html_text(links[record["session"]])}">{text}</a>'
            cells.append(f'<td class="text">{text}</td>')
        cells += [cell(_python(record.get(c))) for c, _ in columns]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{heads}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _python(value):
    """A pandas/numpy scalar as the Python bool, int, float or str it holds."""
    if hasattr(value, "item"):
        value = value.item()
    return "" if value is None else value


def figure_html(png: bytes, alt: str) -> str:
    return f'<img alt="{html_text(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def study_page(
    summary: pd.DataFrame,
    group_by: list[str],
    links: dict[str, str],
    figures: dict[str, bytes],
    variants: pd.DataFrame | None = None,
    changes: dict[str, str] | None = None,
) -> str:
    """The page's HTML. summary: the study's sessions table; links: {session: relative link
    to its browser page}; figures: {caption: PNG bytes}; variants: the study's variants
    table, changes: {variant: what it changes}."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>Study</title>',
        f"<style>{STYLE}</style></head><body>",
        f"<h1>Study: {len(summary)} sessions</h1>",
        "<p>One row per session; click a session for its browser page. Grouped by "
        + (html_text(", ".join(group_by)) if group_by else "nothing (config study.group_by)")
        + ". Every table of results/study/ holds these sessions with the same grouping columns.</p>",
        table_html(summary, PAGE_COLUMNS, ["session", *group_by], links),
    ]
    if variants is not None and len(variants):
        parts.append("<h2>Variants</h2><ul>")
        parts += [f"<li><b>{html_text(n)}</b>: {html_text(c)}</li>" for n, c in (changes or {}).items()]
        parts.append("</ul>")
        parts.append(table_html(variants, VARIANT_COLUMNS, ["session", *group_by, "variant"]))
    for caption, png in figures.items():
        parts += [f"<h2>{html_text(caption)}</h2>", figure_html(png, caption)]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"

"""Text that users control (sheet columns, config strings, labels in their files) made safe
for the HTML pages the workflow writes or feeds: the browser page and `snakemake --report`."""

from __future__ import annotations

import html


def script_safe_json(text: str) -> str:
    """JSON text made safe inside an HTML <script> element: <, > and & become \\u003c, \\u003e
    and \\u0026, which JSON and JavaScript read as the same characters, so no string in it can
    end the element ("</script>") or open a comment. Non-string input is returned unchanged."""
    if not isinstance(text, str):
        return text
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def html_text(text: str) -> str:
    """Text escaped for an HTML element's content or a quoted attribute."""
    return html.escape(str(text), quote=True)

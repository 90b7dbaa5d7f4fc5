"""The session browser: results/<session>/browser.html, one self-contained page.

calcium.outputs.browser_session reads the session's results; calcium.outputs.browser builds the
page from them, the template and its assets.
"""

from pathlib import Path

from calcium.io import save_text
from calcium.logs import log_to
from calcium.outputs.browser import build_page
from calcium.outputs.browser_session import block_neurons, read_session


def read_text(path) -> str:
    return Path(path).read_text(encoding="utf-8")


log = log_to(snakemake.log[0], snakemake.wildcards)
inp = snakemake.input
params = snakemake.params
paths = {name: getattr(inp, name) for name in inp.keys()}
data, (n_neurons, n_frames) = read_session(
    paths, snakemake.wildcards.session, params.dff, params.roles, params.trial_window_s
)
html, info = build_page(
    data,
    read_text(inp.template),
    {
        "style": read_text(inp.uplot_css) + "\n" + read_text(inp.css),
        "script": read_text(inp.uplot_js) + "\n" + read_text(inp.js),
    },
    max_bytes=int(params.browser["max_mb"] * 1e6),
    block_neurons=block_neurons(n_frames),
    workers=snakemake.threads,
)

save_text(snakemake.output[0], html)
resolution = info["resolution"]
log.info(
    "page %.2f MB (tables %.2f MB, traces %.2f MB of %.2f MB raw); %d neurons x %d frames stored as %s",
    info["page_bytes"] / 1e6,
    info["tables_page_bytes"] / 1e6,
    info["traces_page_bytes"] / 1e6,
    info["traces_raw_bytes"] / 1e6,
    n_neurons,
    n_frames,
    "every frame"
    if resolution.full
    else f"min/max envelopes of {resolution.frames_per_column} frames per column",
)

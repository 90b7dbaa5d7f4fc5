"""Outputs: figures, the session browser page and the NWB file.

- figures (matplotlib) by stage: `trace_plots` (example neurons), `population_plots` (raster,
  features, coactivity, ensembles, ROI map), `stimulus_plots`, `evaluation_plots`, all in the
  style of `plot_style` (which also saves them); `roimap` (ROI footprints coloured), `palette`
  (one set of colours)
- `browser` (one self-contained HTML page per session), `browser_encoding` (traces and tables
  within the page's size budget), `browser_session` (a session's results read for the page),
  `htmlsafe` (user text made safe)
- `nwb` (the session's results as NWB: `SessionNwbWriter`), built from `nwb_file` (NWBFile, ROI
  table), `nwb_traces` (traces in compressed chunks), `nwb_tables` (tables, events, intervals),
  `nwb_columns` (column descriptions and data), `nwb_session` (the session's metadata and
  provenance); `nwb_results` (a session's results folder into the file), `nwb_metadata` (the
  metadata YAML and DANDI's needs)
"""

from calcium import lazy_api

API = {
    "save_figure": "plot_style",
    "build_page": "browser",
    "SessionNwbWriter": "nwb",
    "read_metadata_file": "nwb_metadata",
    "script_safe_json": "htmlsafe",
}
__getattr__, __dir__ = lazy_api(__name__, API)

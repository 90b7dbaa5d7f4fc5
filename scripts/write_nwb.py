"""Write a session's results as one NWB file: traces streamed in compressed chunks, tables, metadata.

What goes in, with which description, is calcium.outputs.nwb_results.
"""

import contextlib
from pathlib import Path

from calcium.logs import log_to
from calcium.outputs.nwb_results import add_session_tables, add_session_traces, session_writer
from calcium.outputs.nwb_session import workflow_version

log = log_to(snakemake.log[0], snakemake.wildcards)
paths = {name: getattr(snakemake.input, name) for name in snakemake.input.keys()}
session = dict(snakemake.params.session)
settings = snakemake.params.parameters
repo = Path(snakemake.scriptdir).parent
with contextlib.ExitStack() as open_files:  # an NWB input stays open while its ROI masks are copied
    writer, missing, masks = session_writer(
        paths,
        session,
        settings,
        dict(snakemake.params.metadata),
        workflow_version(snakemake.params.version, repo),
        snakemake.threads,
        repo / "workflow" / "schemas" / "metadata.schema.yaml",
        open_files,
    )
    if missing:
        line = (
            f"session {session['session']}: DANDI will ask for {', '.join(missing)}: give them in the "
            "session sheet or the metadata file its `metadata` column names (docs/outputs.md: The NWB file)"
        )
        log.warning(line)  # in the job's log and, as every warning, on the terminal
    if masks:
        log.info("ROI masks (%s) from %s", ", ".join(masks), session["path"])
    oasis = snakemake.params.oasis  # the session's resolved deconvolution settings
    note = add_session_traces(writer, paths, session["input_kind"], settings, oasis)
    log.info("traces: raw F (raw input), 3 ΔF/F series and 3 deconvolved series, %s", note)
    written = add_session_tables(writer, paths, settings, oasis)
    output = Path(snakemake.output[0])
    writer.write(output)
log.info("wrote %s: traces and %s (empty tables left out)", output, ", ".join(written))

"""Give a session's NWB file its DANDI name: a hard link to it where the file system allows, else a copy."""

import os
import shutil
from pathlib import Path

from calcium.io import atomic_path
from calcium.logs import log_to

log = log_to(snakemake.log[0], snakemake.wildcards)
source, target = Path(snakemake.input[0]), Path(snakemake.output[0])
with atomic_path(target, suffix=".nwb") as tmp:
    Path(tmp).unlink(missing_ok=True)
    try:
        os.link(source, tmp)
        how = "hard link"
    except OSError:
        shutil.copy2(source, tmp)
        how = "copy"
log.info("%s -> %s (%s)", source, target, how)

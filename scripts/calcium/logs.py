"""Logging shared by the rule scripts (plain logging; no Snakemake).

`log_to(path, context)` sends everything a rule script says to its log file:
messages, Python warnings, and any error that ends the script. A
:class:`calcium.errors.UserError` (bad input or settings) is reported as one line,
prefixed by `context` (e.g. "session s1, block 0000"), on stderr and in the log;
any other exception is a bug and is reported with its full traceback in both.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping

from calcium.errors import UserError

_FORMAT = "%(asctime)s %(levelname)s %(message)s"


def log_to(path: str, context: str | Mapping[str, str] = "") -> logging.Logger:
    """Route the "calcium" logger, warnings and uncaught errors to `path` (truncated).

    context: prefixed to error messages; a mapping such as a rule's wildcards
        ({"session": "s1", "block": "0000"}) reads "session s1, block 0000".
    Records of level WARNING and above also go to stderr, so that Snakemake shows them.
    """
    to_file = logging.FileHandler(path, mode="w")
    to_file.setFormatter(logging.Formatter(_FORMAT))
    to_stderr = logging.StreamHandler(sys.stderr)
    to_stderr.setLevel(logging.WARNING)
    to_stderr.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    logger = logging.getLogger("calcium")
    warnings_logger = logging.getLogger("py.warnings")
    for target in (logger, warnings_logger):
        target.setLevel(logging.INFO)
        target.handlers.clear()
        target.addHandler(to_file)
        target.addHandler(to_stderr)
        target.propagate = False
    logging.captureWarnings(True)
    if not isinstance(context, str):
        context = ", ".join(f"{key} {value}" for key, value in context.items())
    prefix = f"{context}: " if context else ""

    def report(kind, error, traceback):
        if isinstance(error, UserError):
            logger.error("%s%s", prefix, error.args[0] if error.args else repr(error))
        elif isinstance(error, KeyboardInterrupt):
            logger.error("%sinterrupted", prefix)
        else:
            logger.critical(
                "%sunexpected error (a bug in the workflow; please report it with this log):",
                prefix,
                exc_info=(kind, error, traceback),
            )
        for handler in logger.handlers:
            handler.flush()

    sys.excepthook = report
    return logger

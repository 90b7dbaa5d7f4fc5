"""Logging set-up shared by the rule scripts (plain logging; no Snakemake)."""

from __future__ import annotations

import contextlib
import logging
import sys

from .dff import BaselineError
from .io import InputError

# Errors that describe bad input or settings: reported as one clear line, no traceback.
USER_ERRORS = (InputError, BaselineError, KeyError, ValueError)


def log_to(path: str) -> logging.Logger:
    """Send log records to `path` (truncated) and warnings/errors to stderr too."""
    logger = logging.getLogger("calcium")
    logger.setLevel(logging.INFO)
    logger.handlers.clear()
    to_file = logging.FileHandler(path, mode="w")
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(to_file)
    to_stderr = logging.StreamHandler(sys.stderr)
    to_stderr.setLevel(logging.WARNING)
    to_stderr.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    logger.addHandler(to_stderr)
    logging.captureWarnings(True)
    return logger


@contextlib.contextmanager
def reported_errors(logger: logging.Logger, context: str):
    """Turn a bad-input error into one logged line and exit status 1.

    context: what was being processed (e.g. "session s1, shard 0000"), prefixed
    to the message so that it names where the problem is.
    """
    try:
        yield
    except USER_ERRORS as error:
        message = error.args[0] if error.args else repr(error)
        logger.error("%s: %s", context, message)
        raise SystemExit(1) from None

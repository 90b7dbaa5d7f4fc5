"""Errors that describe a problem with the user's input or settings.

A :class:`UserError` is reported as one line naming the file, the place (line,
column, neuron or config key) and the fix, with no traceback. Any other
exception is a bug in the workflow and is reported with its full traceback.

Numbering used in messages: lines and columns of input files count from 1, as a
spreadsheet or text editor shows them; neuron ids count from 0, as in every
output table's `neuron` column.
"""

from __future__ import annotations


class UserError(ValueError):
    """Bad input data or settings: the message says where and how to fix it."""


class InputError(UserError):
    """An input file (fluorescence, stimulus table, ground truth, session sheet) is unusable."""


class ConfigError(UserError):
    """A config value passes the schema but cannot work for this session."""


class OutputError(UserError):
    """A result cannot be written (no permission, read-only or full file system)."""


class ResourceError(UserError, RuntimeError):
    """A step stopped by the machine, not by its data or a bug: a worker process killed (most often
    for lack of memory) or failing as it started. The message says what to give the rule."""

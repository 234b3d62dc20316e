"""User-facing errors.

A :class:`UserError` is a mistake in what the user gave us (a file, a flag, a config field).
The command line prints its message on one line and exits with status 2, never a traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem with user input; the message names the file/line/field at fault."""

    exit_code = 2


class DataError(UserError):
    """Malformed data file: the message starts with ``path:line:``."""

    def __init__(self, path: object, line: int | None, problem: str) -> None:
        where = f"{path}:{line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {problem}")
        self.path = path
        self.line = line
        self.problem = problem


class ConfigError(UserError):
    """Invalid configuration field or override."""

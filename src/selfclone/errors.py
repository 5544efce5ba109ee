"""Errors the library raises. Each says what happened and what to do; interfaces convert them once.

The CLI prints `message` and `hint` and exits with `exit_code`; the API turns them into OpenAI-style
`{"error": {...}}` bodies; bots reply with them. Library code never prints or exits.
"""
from __future__ import annotations

from pathlib import Path


class SelfcloneError(Exception):
    """Base error: `message` says what went wrong, `hint` what to do about it."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class DataError(SelfcloneError):
    """Bad input data, located by file, line and field when known."""

    def __init__(self, message: str, hint: str | None = None, *, path: str | Path | None = None,
                 line: int | None = None, field: str | None = None):
        where = ""
        if path is not None:
            where = str(path)
            if line is not None:
                where += f", line {line}"
            if field:
                where += f", field '{field}'"
            where += ": "
        super().__init__(where + message, hint)
        self.path, self.line, self.field = path, line, field


class ConfigError(SelfcloneError):
    """A bad setting in selfclone.toml or on the command line."""


class WorkspaceError(SelfcloneError):
    """No workspace where one is needed, or a workspace that is damaged."""


class ModelNotFound(SelfcloneError):
    """A model name that the registry cannot resolve."""

    exit_code = 3


class BackendError(SelfcloneError):
    """A generation backend failed (remote endpoint down, bad options)."""


class TrainingError(SelfcloneError):
    """Training could not start or continue."""

"""Exceptions that the CLI turns into one-line messages and exit codes."""

from __future__ import annotations

__all__ = ["GridresError", "GridError", "InputNotFound", "UsageError"]


class GridresError(Exception):
    """Base class of the errors gridres reports without a traceback (exit code 1)."""

    exit_code = 1


class GridError(GridresError, ValueError):
    """Invalid grid data: the message names the file, the record and the fix (exit 65)."""

    exit_code = 65


class InputNotFound(GridresError, FileNotFoundError):
    """A grid, study or scenario file that does not exist (exit 66)."""

    exit_code = 66


class UsageError(GridresError, ValueError):
    """Impossible parameters or unknown ids given by the user (exit 2)."""

    exit_code = 2

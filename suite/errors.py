"""One exception type for every fault a user can fix, so each front end can print it as one line.

Library code speaks in terms of its own parameters (``budget``, ``data_dir``); a front end names
them its own way: the command line as flags, Python as keyword arguments.
"""

from __future__ import annotations


class SuiteError(Exception):
    """A problem with the user's input or environment; its message says what to do.

    ``param`` names the parameter the message is about (a Python name such as ``data_dir``); the
    message then starts with the offending value, and ``str()`` puts the name in front of it.
    ``override`` names the flag-like parameter that makes the suite go ahead anyway (a refusal
    the user may overrule on purpose, e.g. ``break_lock``); each front end says how to pass it.
    """

    exit_code = 1

    def __init__(self, message: str, *, param: str | None = None, override: str | None = None):
        super().__init__(message)
        self.message = message
        self.param = param
        self.override = override

    def __str__(self) -> str:
        text = f"{self.param} {self.message}" if self.param else self.message
        return f"{text} (pass {self.override}=True)" if self.override else text


class UsageError(SuiteError):
    """A bad value for a parameter (exit code 2, like argparse)."""

    exit_code = 2


class BadRunFile(SuiteError):
    """A file of a run directory that is not what the suite wrote: truncated, edited or foreign."""

    def __init__(self, path: object, problem: str, todo: str):
        super().__init__(f"{path} {problem}; {todo}")
        self.path = path


def failure_reason(exc: BaseException, prefix: str = "") -> str:
    """An exception as the one line (at most 500 characters) that the manifest records."""
    return f"{prefix}{type(exc).__name__}: {exc}".strip().splitlines()[0][:500]

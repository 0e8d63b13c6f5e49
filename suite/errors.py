"""One exception type for every fault a user can fix, so the CLI can print it as one line."""


class SuiteError(Exception):
    """A problem with the user's input or environment; its message says what to do."""

    exit_code = 1


class UsageError(SuiteError):
    """A bad command-line value (exit code 2, like argparse)."""

    exit_code = 2


def failure_reason(exc: BaseException, prefix: str = "") -> str:
    """An exception as the one line (at most 500 characters) that the manifest records."""
    return f"{prefix}{type(exc).__name__}: {exc}".strip().splitlines()[0][:500]

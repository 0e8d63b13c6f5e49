"""Running the command line in this process, as the tests do."""

from __future__ import annotations


def run_main(capsys, *args: str) -> tuple[int, str]:
    """The CLI in this process: its exit code and what it printed on stderr."""
    from suite.cli.main import main

    capsys.readouterr()
    try:
        code = main(list(args))
    except SystemExit as exit_:  # argparse's usage errors
        code = exit_.code
    return code, capsys.readouterr().err

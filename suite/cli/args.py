"""Options shared by several commands, declared once (argparse ``parents=``), and the parser class."""

from __future__ import annotations

import argparse

from suite.errors import SuiteError


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a usage fault as one line (exit code 2), not usage + message, and
    takes options only as written in full (``--epochs``, not ``--epo``)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"suite: error: {message} (see '{self.prog} --help')\n")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def flag(param: str) -> str:
    """The command-line flag of a library parameter: ``data_dir`` → ``--data-dir``."""
    return "--" + param.replace("_", "-")


def error_line(exc: SuiteError) -> str:
    """A library error in command-line terms: its parameter named as the flag that set it."""
    text = f"{flag(exc.param)} {exc.message}" if exc.param else exc.message
    return f"{text} (pass {flag(exc.override)})" if exc.override else text


def variant_options(default_help: str = "all") -> argparse.ArgumentParser:
    """--variants, --plugin and --budget: which variants, at which size."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--variants",
        help=f"comma-separated names, patterns ('*-c4'), 'core' or 'all', and parts that leave out "
        f"('all,-e3nn-*') (default: {default_help})",
    )
    parent.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="FILE.py",
        help="a Python file that registers more variants (repeatable)",
    )
    parent.add_argument("--budget", help="'tutorial' (≈14k parameters, default) or e.g. 100k")
    return parent


def dataset_option() -> argparse.ArgumentParser:
    """--dataset and --data-dir: which images, found where (the names from the data set registry)."""
    from suite.data.datasets import dataset_names  # the registry: torch, so only when a parser is built

    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--dataset",
        default="mnist",
        help=f"{' | '.join(dataset_names())} (default mnist; see 'suite list --datasets')",
    )
    parent.add_argument(
        "--data-dir",
        help="folder with the data set's four IDX files (mnist: torchvision's MNIST/raw layout; "
        "required for idx); for npz the .npz file, for folder the folder of class subfolders (required)",
    )
    return parent


def group_option() -> argparse.ArgumentParser:
    """--group: the symmetry the data has (what a run measures on it)."""
    from suite.task import GROUP_NAMES, group_name

    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--group",
        type=group_name,
        choices=GROUP_NAMES,
        help="the symmetry the data has, which runs measure (default: the data set's own): C4 (quarter "
        "turns) | D4 (mirror images share a class too: mirrored test images are measured as well) | O "
        "(the cube's 24 rotations, for 3-D volumes) | Oh (also their mirror images: mirrored test volumes "
        "are measured as well)",
    )
    return parent


def device_option() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--device", default="auto", help="auto (default: CUDA when PyTorch sees it) | cpu | cuda"
    )
    return parent

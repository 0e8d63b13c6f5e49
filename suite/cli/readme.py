"""``suite readme``: rewrite (or check) the README's generated blocks from the committed results."""

from __future__ import annotations

import argparse
from pathlib import Path

from suite.atomic import write_text_atomic
from suite.errors import SuiteError


def cmd_readme(args: argparse.Namespace) -> int:
    from suite.report.readme import blocks, render

    readme = Path(args.readme)
    if not readme.is_file():
        raise SuiteError(
            f"{readme}: no such file; run from the checkout's root or pass --readme", param="readme"
        )
    text = readme.read_text(encoding="utf-8")
    rendered = render(text, readme.parent)
    names = ", ".join(blocks(text)) or "none"
    if args.check:
        if rendered != text:
            raise SuiteError(f"{readme}: generated blocks are out of date with results/; run 'suite readme'")
        print(f"{readme}: every generated block matches results/ ({names})")
        return 0
    write_text_atomic(readme, rendered)
    print(f"{readme}: {'rewrote' if rendered != text else 'unchanged'} blocks {names}")
    return 0


def add_command(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("readme", help="rewrite the README's figures from the committed results/")
    p.add_argument("--readme", default="README.md", help="the README to rewrite (default: ./README.md)")
    p.add_argument("--check", action="store_true", help="only check: exit 1 when a block differs")
    p.set_defaults(func=cmd_readme)

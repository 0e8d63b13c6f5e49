"""The house's rules: import-linter contracts (layers, forbidden imports, no circles), flags named
only by the command line, and an ``import suite`` that stays light."""

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]+")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}  # the packages under `root`, not the installed ones
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.subprocess
def test_the_import_contracts_hold():
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 kept, 0 broken" in done.stdout


@pytest.mark.subprocess
@pytest.mark.parametrize(
    ("file", "line", "broken"),
    [
        ("suite/runs/store.py", "import argparse", "Only the command line parses arguments"),
        ("suite/measure/twins.py", "import suite.cli.main", "Layers in the order data flows"),
        ("models/planar/_layers.py", "import suite.runs.runner", "Models know nothing of the runner"),
        ("suite/report/tables.py", "import suite.training.train", "Reports read only files"),
        ("suite/measure/ratios.py", "import suite.measure.twins", "No import circles"),
    ],
)
def test_the_contracts_catch_a_violation(tmp_path, file, line, broken):
    """A copy of the code with one forbidden import added fails the matching contract."""
    for name in ("suite", "models"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    if "circles" in broken:  # twins must import ratios back for a circle
        twins = tmp_path / "suite/measure/twins.py"
        twins.write_text(twins.read_text() + "\nimport suite.measure.ratios  # noqa\n")
    target = tmp_path / file
    target.write_text(target.read_text() + f"\n{line}  # noqa\n")
    done = lint_imports(tmp_path)
    assert done.returncode != 0
    assert re.search(re.escape(broken) + r".*BROKEN", done.stdout), done.stdout


def _string_constants(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


def suite_flags() -> set[str]:
    """Every option string of every ``suite`` command."""
    from suite.cli.main import build_parser

    parser = build_parser()
    flags = {s for action in parser._actions for s in action.option_strings}
    for command in parser._subparsers._group_actions[0].choices.values():
        flags |= {s for action in command._actions for s in action.option_strings}
    return {f for f in flags if f.startswith("--") and f != "--help"}


def flags_named_outside_the_cli() -> list[str]:
    ours = suite_flags()
    return [
        f"{path.relative_to(ROOT)}:{line}: {flag}"
        for path in sorted((ROOT / "suite").rglob("*.py"))
        if "cli" not in path.relative_to(ROOT / "suite").parts
        for line, text in _string_constants(path)
        for flag in FLAG.findall(text)
        if flag in ours
    ]


def test_only_the_command_line_names_flags():
    """Library code speaks of its parameters (``data_dir``); only suite/cli/ names ``--data-dir``
    (in messages and docstrings alike)."""
    found = flags_named_outside_the_cli()
    assert not found, found


def test_flag_scan_sees_flags():
    assert {"--resume", "--data-dir", "--repeats", "--plugin"} <= suite_flags()
    assert FLAG.findall("pass --resume DIR") == ["--resume"] and not FLAG.search("a -- b, x--y, 1e-4")


@pytest.mark.subprocess
def test_import_suite_is_light_and_its_api_lazy():
    script = (
        "import sys, suite; assert 'torch' not in sys.modules, 'import suite imported torch'; "
        "import suite.runs.runner; assert callable(suite.run) and suite.run.__module__ == 'suite.api'; "
        "print(sorted(suite.__all__))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "load_model" in done.stdout


MAX_CLASS_LINES = 120
MAX_FUNCTION_LINES = 60
# being rewritten in another change as this test is written: the limit applies once that lands
NOT_YET_SPLIT: set[str] = set()  # every definition is within the limits


def oversized_definitions(root: Path) -> list[str]:
    """Every class over MAX_CLASS_LINES and function over MAX_FUNCTION_LINES in suite/ and models/,
    counted from its ``def``/``class`` line to its last line (docstring included)."""
    found = []
    for path in sorted([*(root / "suite").rglob("*.py"), *(root / "models").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ClassDef):
                limit = MAX_CLASS_LINES
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                limit = MAX_FUNCTION_LINES
            else:
                continue
            length = node.end_lineno - node.lineno + 1
            where = f"{path.relative_to(root).as_posix()}:{node.name}"
            if length > limit and where not in NOT_YET_SPLIT:
                found.append(f"{where} (line {node.lineno}): {length} lines, over {limit}")
    return found


def test_no_class_over_120_lines_and_no_function_over_60():
    """Small pieces with one job each: a class that outgrows 120 lines or a function that outgrows
    60 is split into collaborators before it grows further."""
    found = oversized_definitions(ROOT)
    assert not found, "\n".join(found)

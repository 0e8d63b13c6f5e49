"""The README's plugin example, copied out verbatim, works through --plugin; broken ones fail in one line."""

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Add a variant", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def suite(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "suite.cli", *args], capture_output=True, text=True, cwd=ROOT, timeout=300
    )


def test_readme_example_joins_the_default_selection(tmp_path, capsys):
    """In this process: list, check, and the variants a run without --variants would train."""
    from suite import registry
    from suite.cli.main import main
    from suite.plugins import load_variants
    from suite.runs.config import make_config

    plugin = tmp_path / "my_variant.py"
    plugin.write_text(readme_example())
    try:
        assert main(["list", "--plugin", str(plugin), "--variants", "my-avg-c4"]) == 0
        assert "my-avg-c4" in capsys.readouterr().out
        assert main(["check", "--plugin", str(plugin), "--variants", "my-avg-c4"]) == 0
        assert "pass" in capsys.readouterr().out
        added = load_variants([plugin])
        config = make_config(profile="smoke", plugins=[plugin], plugin_variants=added)
        assert config.variants == [*registry.select("core"), "my-avg-c4"]
        assert make_config(variants="cnn", plugins=[plugin], plugin_variants=added).variants == ["cnn"]
    finally:
        if "my-avg-c4" in registry.names():
            registry.unregister("my-avg-c4")


@pytest.mark.subprocess
def test_readme_example_runs_as_a_plugin(tmp_path):
    """As a user runs it, in a shell: the plugin's variant trains and is exactly C4-invariant."""
    plugin = tmp_path / "my_variant.py"
    plugin.write_text(readme_example())
    out = tmp_path / "run"
    done = suite(
        "run", "--plugin", str(plugin), "--variants", "cnn,my-avg-c4", "--profile", "smoke",
        "--no-progress", "--no-bench", "--no-plots", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads((out / "manifest.json").read_text())["config"]["variants"] == ["cnn", "my-avg-c4"]
    with open(out / "metrics.csv") as handle:
        rows = [r for r in csv.DictReader(handle) if r["variant"] == "my-avg-c4"]
    acc = {r["angle"]: r["value"] for r in rows if r["metric"] == "acc"}
    assert acc["0"] == acc["90"] == acc["180"] == acc["270"]
    assert "my-avg-c4" in (out / "summary.md").read_text()


@pytest.mark.parametrize(
    ("source", "fault"),
    [
        ("import no_such_module\n", "ModuleNotFoundError"),
        (
            "from suite.registry import register\nimport torch\n"
            "@register('cnn', description='x', family='plugin')\n"
            "def f(budget=None):\n    return torch.nn.Linear(1, 1)\n",
            "already registered",
        ),
        (
            "from suite.registry import register\nimport torch\n"
            "@register('bad-shape', description='x', family='plugin')\n"
            "def f(budget=None):\n    return torch.nn.Flatten()\n",
            "returns shape (2, 784)",
        ),
        ("x = 1\n", "registers no variant"),
    ],
)
def test_broken_plugins_fail_in_one_line(tmp_path, capsys, source, fault):
    """In this process (a real process's one-line errors are tested in test_reliability); the
    failed plugin leaves nothing registered."""
    from suite import registry
    from suite.cli.main import main

    before = registry.names()
    plugin = tmp_path / "broken.py"
    plugin.write_text(source)
    capsys.readouterr()
    code = main(["list", "--plugin", str(plugin)])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(lines) == 1, lines
    assert str(plugin) in lines[0] and fault in lines[0]
    assert registry.names() == before

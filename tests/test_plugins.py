"""The README's plugin example, copied out verbatim, works through --plugin; broken ones fail in one line."""

import csv
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


def test_readme_example_runs_as_a_plugin(tmp_path):
    plugin = tmp_path / "my_variant.py"
    plugin.write_text(readme_example())
    listed = suite("list", "--plugin", str(plugin), "--variants", "my-avg-c4")
    assert listed.returncode == 0 and "my-avg-c4" in listed.stdout, listed.stderr
    checked = suite("check", "--plugin", str(plugin), "--variants", "my-avg-c4")
    assert checked.returncode == 0 and "pass" in checked.stdout, checked.stdout + checked.stderr
    out = tmp_path / "run"
    done = suite(
        "run",
        "--plugin",
        str(plugin),
        "--variants",
        "cnn,my-avg-c4",
        "--profile",
        "smoke",
        "--no-progress",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
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
def test_broken_plugins_fail_in_one_line(tmp_path, source, fault):
    plugin = tmp_path / "broken.py"
    plugin.write_text(source)
    done = suite("list", "--plugin", str(plugin))
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1, done.stderr
    assert str(plugin) in lines[0] and fault in lines[0]

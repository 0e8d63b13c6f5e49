"""A smoke run end to end through the CLI: the files a user gets, and their content."""

import csv
import json

import pytest

from suite.cli.main import main


def smoke_args(out) -> list[str]:
    return [
        "run",
        "--profile",
        "smoke",
        "--out",
        str(out),
        "--no-progress",
        "--variants",
        "cnn,stack-c4,gcnn-c4",
    ]


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "smoke"
    assert main(smoke_args(out)) == 0
    return out


def test_smoke_run_writes_valid_metrics(smoke_run):
    with open(smoke_run / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["variant", "seed", "metric", "angle", "value"]
    assert {r["variant"] for r in rows} == {"cnn", "stack-c4", "gcnn-c4"}
    acc = {(r["variant"], int(r["angle"])): float(r["value"]) for r in rows if r["metric"] == "acc"}
    assert len(acc) == 3 * 8 and all(0 <= v <= 100 for v in acc.values())  # every 45°
    for variant in ("stack-c4", "gcnn-c4"):
        assert len({acc[variant, a] for a in (0, 90, 180, 270)}) == 1
    params = {r["variant"]: float(r["value"]) for r in rows if r["metric"] == "params"}
    assert params["cnn"] == params["stack-c4"] == 13_978


def test_smoke_run_writes_manifest(smoke_run):
    manifest = json.loads((smoke_run / "manifest.json").read_text())
    assert manifest["command"] == ["suite", *smoke_args(smoke_run)]  # what main() was given, not sys.argv
    assert manifest["config"]["profile"] == "smoke"
    assert manifest["environment"]["versions"]["torch"]
    assert manifest["environment"]["device"] == "cpu"
    assert all(u["status"] == "done" for u in manifest["units"].values())
    assert manifest["finished"] and manifest["wall_s"] > 0


def test_history_has_one_row_per_epoch(smoke_run):
    with open(smoke_run / "history.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["variant"], r["epoch"]) for r in rows] == [
        ("cnn", "1"),
        ("stack-c4", "1"),
        ("gcnn-c4", "1"),
    ]
    assert all(float(r["loss"]) > 0 for r in rows)


@pytest.mark.subprocess
def test_plot_rerenders_a_copied_run_without_building_models(smoke_run, tmp_path):
    import shutil
    import subprocess
    import sys

    copy = tmp_path / "copied"
    shutil.copytree(smoke_run, copy, ignore=shutil.ignore_patterns("checkpoints", "units"))
    shutil.rmtree(copy / "plots")
    (copy / "summary.md").unlink()
    script = (
        "import sys; from suite.cli.main import main; code = main(['plot', sys.argv[1]]); "
        "built = [m for m in ('models', 'escnn', 'e3nn') if m in sys.modules]; "
        "assert not built, built; sys.exit(code)"
    )
    done = subprocess.run([sys.executable, "-c", script, str(copy)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    original = sorted(p.relative_to(smoke_run) for p in (smoke_run / "plots").iterdir())
    rerendered = sorted(p.relative_to(copy) for p in (copy / "plots").iterdir())
    assert original == rerendered and len(original) >= 6
    summary = (copy / "summary.md").read_text()
    for heading in ("## Main table", "## The tutorial's table, reproduced", "## Claims"):
        assert heading in summary
    assert "| `cnn` |" in summary


def test_summary_reports_the_tutorial_rows_and_verdicts(smoke_run):
    import re

    from suite.report.tables import TUTORIAL

    summary = (smoke_run / "summary.md").read_text()
    with open(smoke_run / "metrics.csv") as handle:
        acc = {
            (r["variant"], int(r["angle"])): float(r["value"])
            for r in csv.DictReader(handle)
            if r["metric"] == "acc"
        }

    def rows_under(heading):
        section = summary.split(heading, 1)[1].split("\n## ", 1)[0]
        lines = [line for line in section.splitlines() if line.startswith("|")]
        return [[c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]] for line in lines]

    # the tutorial's published figures beside this run's own, each in its column
    tutorial = {row[0].split("`")[1]: row for row in rows_under("## The tutorial's table, reproduced")[2:]}
    for variant in ("cnn", "stack-c4"):
        _name, up, rot = TUTORIAL[variant]
        row = tutorial[variant]
        assert row[1:3] == [f"{up:.1f}", f"{rot:.1f}"]
        assert row[3].startswith(f"{acc[variant, 0]:.2f} [") and row[4].startswith(
            f"{acc[variant, 90]:.2f} ["
        )
    rows = rows_under("## Claims")
    assert rows[0] == ["claim", "measured evidence", "verdict"]
    verdicts = {claim: verdict for claim, _, verdict in rows[2:]}
    # one seed: intervals, but no verdict on accuracy; the FLOPs claim rests on exact counts
    assert verdicts["A C4 model is as accurate at 90° as upright without augmentation"].startswith(
        "no verdict"
    )
    with open(smoke_run / "throughput.csv") as handle:
        flops = {r["variant"]: float(r["flops"]) for r in csv.DictReader(handle)}
    assert 3.5 <= flops["stack-c4"] / flops["cnn"] <= 4.5
    assert verdicts["The rotated stack costs about 4× the compute of the plain CNN"] == "holds"
    assert len(verdicts) == 2  # no cnn-aug in this run: the augmentation claim is not made

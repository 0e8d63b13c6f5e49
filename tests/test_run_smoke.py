"""A smoke run end to end through the CLI: the files a user gets, and their content."""

import csv
import json

import pytest

from suite.cli import main


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "smoke"
    code = main(
        [
            "run",
            "--profile",
            "smoke",
            "--out",
            str(out),
            "--no-progress",
            "--variants",
            "cnn,stack-c4,gcnn-c4",
        ]
    )
    assert code == 0
    return out


def test_smoke_run_writes_valid_metrics(smoke_run):
    with open(smoke_run / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["variant", "seed", "metric", "angle", "value"]
    assert {r["variant"] for r in rows} == {"cnn", "stack-c4", "gcnn-c4"}
    acc = {(r["variant"], int(r["angle"])): float(r["value"]) for r in rows if r["metric"] == "acc"}
    assert len(acc) == 12 and all(0 <= v <= 100 for v in acc.values())
    for variant in ("stack-c4", "gcnn-c4"):
        assert len({acc[variant, a] for a in (0, 90, 180, 270)}) == 1
    params = {r["variant"]: float(r["value"]) for r in rows if r["metric"] == "params"}
    assert params["cnn"] == params["stack-c4"] == 13_978


def test_smoke_run_writes_manifest(smoke_run):
    manifest = json.loads((smoke_run / "manifest.json").read_text())
    assert manifest["command"][:2] == ["suite", "run"] or manifest["command"][0] == "suite"
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

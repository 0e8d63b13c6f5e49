"""A unit's thread count is one of its settings: recorded, applied, and kept on resume."""

import json

import pytest
import torch

import suite
from suite.errors import UsageError
from suite.runs.executors import RaySettings
from suite.runs.runner import default_threads, unit_threads


def test_a_run_records_its_thread_count_applies_it_and_gives_the_process_its_own_back(tmp_path):
    """Recorded, applied, kept on resume (another refused); a run from before it was recorded
    (format 2) resumes as it ran, recording none."""
    before = torch.get_num_threads()
    suite.run(["cnn"], "smoke", tmp_path / "one", bench=False, progress=False, threads=1, seeds=2)
    assert torch.get_num_threads() == before
    path = tmp_path / "one" / "manifest.json"
    manifest = json.loads(path.read_text())
    assert manifest["config"]["threads"] == 1 and manifest["format_version"] >= 3
    with pytest.raises(UsageError, match="threads 2: this run trains its units on 1 threads"):
        suite.resume(tmp_path / "one", threads=2, progress=False)
    manifest.update(format_version=2, config={**manifest["config"], "threads": None})
    manifest["units"]["cnn__seed1"]["status"] = "pending"
    (tmp_path / "one" / "units" / "train" / "cnn__seed1.json").unlink()
    path.write_text(json.dumps(manifest))
    suite.resume(tmp_path / "one", progress=False)
    assert json.loads(path.read_text())["config"]["threads"] is None


def test_the_default_is_the_machines_threads_shared_among_a_local_instances_workers():
    cores = torch.get_num_threads()
    assert default_threads(None) == cores == default_threads(RaySettings(address="127.0.0.2:1"))
    assert default_threads(RaySettings(workers=2 * cores)) == 1
    assert unit_threads(RaySettings(workers=2), 3).cpus_per_unit == 3  # a task asks for its threads
    assert unit_threads(None, 3) is None

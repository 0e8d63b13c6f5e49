"""The manifest's commit record: code changes make a run dirty, regenerated results do not."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from suite.environment import git_commit

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs the git command")


def git(root, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


@pytest.fixture
def checkout(tmp_path, monkeypatch):
    monkeypatch.delenv("C4SUITE_COMMIT", raising=False)
    git(tmp_path, "init", "-q")
    (tmp_path / "suite.py").write_text("code = 1\n")
    (tmp_path / "results" / "quick").mkdir(parents=True)
    (tmp_path / "results" / "quick" / "summary.md").write_text("old\n")
    git(tmp_path, "add", ".")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    return tmp_path


def test_clean_checkout_is_not_dirty(checkout):
    found = git_commit(checkout)
    assert found["dirty"] is False and len(found["commit"]) == 40


def test_regenerating_committed_results_is_not_a_code_change(checkout):
    shutil.rmtree(checkout / "results" / "quick")
    (checkout / "results" / "bench").mkdir()
    (checkout / "results" / "bench" / "bench.json").write_text("{}\n")
    assert git_commit(checkout)["dirty"] is False


def test_changed_or_new_code_is_dirty(checkout):
    (checkout / "suite.py").write_text("code = 2\n")
    assert git_commit(checkout)["dirty"] is True
    git(checkout, "checkout", "suite.py")
    (checkout / "new_model.py").write_text("x = 1\n")
    assert git_commit(checkout)["dirty"] is True


def test_copied_tree_names_its_commit(monkeypatch, tmp_path):
    monkeypatch.setenv("C4SUITE_COMMIT", "abc123")
    assert git_commit(tmp_path) == {"commit": "abc123", "dirty": None}

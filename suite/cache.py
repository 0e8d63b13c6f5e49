"""Where the suite keeps what it computes once per machine (the MNIST array file, escnn's solved
tables): ``$C4SUITE_CACHE``, else ``$XDG_CACHE_HOME/c4suite``, else ``~/.cache/c4suite``."""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> Path:
    if os.environ.get("C4SUITE_CACHE"):
        return Path(os.environ["C4SUITE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "c4suite"

"""Refuse a user's data set that would not fit in memory, before loading it: one clear line beats
the machine swapping for minutes and then the kernel killing the run without a word."""

from __future__ import annotations

import os

from suite.errors import SuiteError

MEMORY_SHARE = 0.5  # decoded images may take at most this share of the free memory (a copy follows)


def available_memory() -> int | None:
    """Bytes of free physical memory as the OS reports it (Linux's sysconf); None where it cannot
    say (macOS, Windows): then no check is made rather than a wrong one."""
    try:
        pages, page_size = os.sysconf("SC_AVPHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
    return pages * page_size if pages > 0 and page_size > 0 else None


def size_text(nbytes: float) -> str:
    """``1.50 GiB``, ``12.3 MiB`` or ``48.8 KiB``: sizes a reader compares at a glance."""
    if nbytes >= 2**30:
        return f"{nbytes / 2**30:.2f} GiB"
    return f"{nbytes / 2**20:.1f} MiB" if nbytes >= 2**20 else f"{nbytes / 2**10:.1f} KiB"


def refuse_beyond_memory(nbytes: int, origin: str, what: str) -> None:
    """Raise one line when ``nbytes`` of decoded ``what`` exceed the share of free memory."""
    free = available_memory()
    if free is None:
        return
    limit = int(free * MEMORY_SHARE)
    if nbytes > limit:
        raise SuiteError(
            f"{origin}: {what} take {size_text(nbytes)} decoded, more than the limit of {size_text(limit)} "
            f"(half of the {size_text(free)} of free memory); use fewer or smaller images, or free memory"
        )

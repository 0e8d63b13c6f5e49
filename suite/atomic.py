"""Atomic file writes: a reader sees either the old file or the complete new one, never half."""

from __future__ import annotations

import csv
import errno
import gzip
import io
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk (or the user's quota) is full; libraries that write through
    their own I/O (safetensors) report it only in their message."""
    if isinstance(exc, OSError) and exc.errno in DISK_FULL:
        return True
    return "No space left on device" in str(exc) or "os error 28" in str(exc)


def write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it over ``path``.

    A full disk leaves ``path`` as it was and raises an OSError naming ``path`` (not the temporary
    file), so whoever stops the run can say which file could not be written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.replace(tmp, path)
    except Exception as exc:
        if not disk_full(exc):
            raise
        raise OSError(errno.ENOSPC, "no space left on the device", str(path)) from exc
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text_atomic(path: Path, text: str) -> None:
    write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json_atomic(path: Path, obj: Any) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def csv_text(rows: list[dict], fields: tuple[str, ...]) -> str:
    """Rows as CSV text with a header, in ``fields`` order (missing keys are left empty)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_csv_atomic(path: Path, rows: list[dict], fields: tuple[str, ...]) -> None:
    """Rows as CSV at ``path``; gzip-compressed when its name ends in ``.gz`` (without a time
    stamp, so the same rows give the same bytes)."""
    text = csv_text(rows, fields)
    if Path(path).suffix == ".gz":
        write_atomic(path, lambda tmp: tmp.write_bytes(gzip.compress(text.encode("utf-8"), mtime=0)))
    else:
        write_text_atomic(path, text)

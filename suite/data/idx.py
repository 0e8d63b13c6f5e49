"""IDX files (the MNIST family's format), read and checked: any four files of square uint8 images
with labels 0..K-1 become a data set."""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from suite.errors import SuiteError

# The four files of a data set, by split, as the MNIST family names them (each may end in .gz).
IDX_FILES = {
    "train_x": "train-images-idx3-ubyte",
    "train_y": "train-labels-idx1-ubyte",
    "test_x": "t10k-images-idx3-ubyte",
    "test_y": "t10k-labels-idx1-ubyte",
}
IMAGE_SHAPE = (28, 28)  # the MNIST family's


def find_idx(folders: Sequence[Path], stem: str) -> Path | None:
    """The first of ``stem`` or ``stem.gz`` in ``folders``."""
    for folder in folders:
        for name in (stem, stem + ".gz"):
            if (folder / name).is_file():
                return folder / name
    return None


def read_idx(path: Path) -> np.ndarray:
    """One IDX file of unsigned bytes (images: magic 0x803, labels: 0x801), gzipped or not."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError) as exc:
        raise SuiteError(f"{path}: cannot read ({exc})") from exc
    if len(raw) < 8:
        raise SuiteError(f"{path}: too short to be an IDX file")
    magic = int.from_bytes(raw[:4], "big")
    ndim = magic & 0xFF
    if magic >> 8 != 0x08 or ndim not in (1, 3):
        raise SuiteError(
            f"{path}: not an IDX file of unsigned bytes (magic {magic:#x}; expected 0x801 or 0x803)"
        )
    offset = 4 + 4 * ndim
    if len(raw) < offset:
        raise SuiteError(f"{path}: truncated header")
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    expected = int(np.prod(dims))
    if len(raw) - offset != expected:
        raise SuiteError(
            f"{path}: holds {len(raw) - offset} bytes of data, header says {expected} (truncated?)"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(dims).copy()


def read_idx_folder(folders: Sequence[Path], what: str) -> dict[str, np.ndarray]:
    """The four arrays of a data set from the first of ``folders`` that holds each file."""
    arrays = {}
    for key, stem in IDX_FILES.items():
        path = find_idx(folders, stem)
        if path is None:
            raise SuiteError(f"{folders[0]}: {stem}[.gz] not found; {what}", param="data_dir")
        arrays[key] = read_idx(path)
    return arrays


def check_arrays(arrays: dict[str, np.ndarray], origin: str) -> int:
    """Raise one line unless the arrays are square images of one size with matching labels
    0..K-1, every class with a training image; returns K."""
    side = arrays["train_x"].shape[1] if arrays["train_x"].ndim == 3 else 0
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_x"], arrays[f"{split}_y"]
        if images.ndim != 3 or images.shape[1] != images.shape[2] or images.shape[1] != side:
            raise SuiteError(
                f"{origin}: {split} images have shape {tuple(images.shape)}; expected square images of one "
                f"size, (N, {side or 'S'}, {side or 'S'})"
            )
        if labels.ndim != 1 or len(labels) != len(images):
            raise SuiteError(f"{origin}: {len(labels)} {split} labels for {len(images)} images")
        if len(images) == 0:
            raise SuiteError(f"{origin}: no {split} images")
    classes = int(max(arrays["train_y"].max(), arrays["test_y"].max())) + 1
    missing = sorted(set(range(classes)) - set(np.unique(arrays["train_y"]).tolist()))
    if missing:
        raise SuiteError(
            f"{origin}: labels go up to {classes - 1}, but class {missing[0]} has no training image; "
            "labels must be 0..K-1"
        )
    return classes


def checksum(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 over train images, train labels, test images, test labels (uint8, C order): the
    same for every copy of a data set, whatever file format or compression it came in."""
    digest = hashlib.sha256()
    for key in IDX_FILES:
        digest.update(np.ascontiguousarray(arrays[key], dtype=np.uint8).tobytes())
    return digest.hexdigest()

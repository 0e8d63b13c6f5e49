"""A user's own images in one NumPy ``.npz`` file in MedMNIST's layout: ``train_images``,
``train_labels``, ``test_images``, ``test_labels`` and optionally ``val_images``, ``val_labels``.

Images are uint8, ``(N, H, W)`` gray or ``(N, H, W, C)`` channel-last with C in 1..4 (MedMNIST's
RGB sets have C = 3), of any size: whether a model takes it is the model's to say. Labels are
integers ``(N,)`` or ``(N, 1)`` in 0..K-1, every class present in the training split.

Everything but the label values is checked from the arrays' ``.npy`` headers before any array is
loaded, so a wrong or too large file is refused in one line without filling memory first; the
file is read with ``allow_pickle=False``, so it can never run code.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path
from typing import IO

import numpy as np

from suite.data.images import ImageData
from suite.data.memory import refuse_beyond_memory
from suite.errors import SuiteError, UsageError

SPLITS = ("train", "val", "test")  # val is optional
OPTIONAL_SPLITS = ("val",)
MAX_CHANNELS = 4
LAYOUT = "MedMNIST's layout (train_images, train_labels, val_images, val_labels, test_images, test_labels)"
# What np.load and zipfile raise on a truncated, corrupt or foreign file.
READ_ERRORS = (zipfile.BadZipFile, ValueError, OSError, EOFError)

Header = tuple[tuple[int, ...], np.dtype]


def read_headers(path: Path) -> dict[str, Header]:
    """Shape and dtype of every ``.npy`` member, read from the headers alone (nothing is decoded)."""
    headers = {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                continue
            with archive.open(info) as handle:
                version = np.lib.format.read_magic(handle)
                shape, dtype = read_header(handle, version)
            headers[info.filename[: -len(".npy")]] = (shape, dtype)
    return headers


def read_header(handle: IO[bytes], version: tuple[int, int]) -> Header:
    """One ``.npy`` header after its magic: the public readers for versions 1.0 and 2.0, NumPy's
    own private one for 3.0 (utf-8 field names, rare), which has no public reader."""
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
    else:
        shape, _, dtype = np.lib.format._read_array_header(handle, version)
    return tuple(shape), dtype


def check_layout(headers: dict[str, Header], origin: str) -> list[str]:
    """Raise one line unless the arrays are MedMNIST-like images and labels; returns the splits."""
    splits = [
        s for s in SPLITS if s not in OPTIONAL_SPLITS or f"{s}_images" in headers or f"{s}_labels" in headers
    ]
    found = ", ".join(sorted(headers)) or "none"
    for split in splits:
        for key in (f"{split}_images", f"{split}_labels"):
            if key not in headers:
                raise SuiteError(f"{origin}: no array {key!r} (found: {found}); expected {LAYOUT}")
    image_shape = None
    for split in splits:
        shape, dtype = headers[f"{split}_images"]
        check_images(shape, dtype, split, origin)
        if image_shape is not None and shape[1:] != image_shape:
            raise SuiteError(
                f"{origin}: {split}_images are {shape[1:]} per image, train_images {image_shape}; "
                "every split needs the same image size and channels"
            )
        image_shape = shape[1:]
        check_labels(headers[f"{split}_labels"], shape[0], split, origin)
    return splits


def check_images(shape: tuple[int, ...], dtype: np.dtype, split: str, origin: str) -> None:
    """uint8 ``(N, H, W)`` or ``(N, H, W, C)`` with C in 1..4, N ≥ 1."""
    if dtype != np.uint8:
        raise SuiteError(
            f"{origin}: {split}_images are {dtype}, not uint8; convert them to uint8 pixels 0..255"
        )
    if len(shape) not in (3, 4) or (len(shape) == 4 and not 1 <= shape[3] <= MAX_CHANNELS):
        hint = "; channels-first? move the channel axis last" if len(shape) == 4 and shape[1] <= 4 else ""
        raise SuiteError(
            f"{origin}: {split}_images have shape {shape}; expected (N, H, W) gray or (N, H, W, C) "
            f"channel-last with C in 1..{MAX_CHANNELS}{hint}"
        )
    if shape[0] == 0 or 0 in shape[1:]:
        raise SuiteError(f"{origin}: {split}_images have shape {shape}: no images")


def check_labels(header: Header, count: int, split: str, origin: str) -> None:
    """Integers ``(N,)`` or ``(N, 1)``, one per image."""
    shape, dtype = header
    if not np.issubdtype(dtype, np.integer):
        raise SuiteError(f"{origin}: {split}_labels are {dtype}; expected integer class labels 0..K-1")
    if shape not in ((count,), (count, 1)):
        raise SuiteError(
            f"{origin}: {split}_labels have shape {shape} for {count} {split} images; expected ({count},)"
        )


def check_label_values(labels: dict[str, np.ndarray], origin: str) -> int:
    """Raise one line unless the labels are 0..K-1 with every class in training; returns K."""
    for split, values in labels.items():
        if values.min() < 0:
            raise SuiteError(
                f"{origin}: {split}_labels hold {int(values.min())}; labels must be 0..K-1 (K classes)"
            )
    classes = max(int(values.max()) for values in labels.values()) + 1
    if classes < 2:
        raise SuiteError(f"{origin}: every label is 0; a classifier needs at least 2 classes")
    present = np.unique(labels["train"])  # sorted, ≥ 0: class k is missing where present[k] != k
    if present.size < classes:
        gaps = np.flatnonzero(present != np.arange(present.size))
        missing = int(gaps[0]) if gaps.size else present.size
        raise SuiteError(
            f"{origin}: class {missing} has no training image (labels must be 0..K-1 with K = "
            f"{classes}, the largest label + 1, and every class in train_labels); renumber the labels"
        )
    return classes


def load_npz(path: Path | None, download: bool = False) -> ImageData:
    """The verified splits of a ``.npz`` file in MedMNIST's layout; classes named "0".."K-1".
    ``download`` is ignored: a user's file is never downloaded."""
    if path is None:
        raise UsageError(f"not given: the npz data set reads one .npz file in {LAYOUT}", param="data_dir")
    if not path.is_file():
        what = "a directory" if path.is_dir() else "no such file"
        raise UsageError(f"{path}: {what}; the npz data set reads one .npz file", param="data_dir")
    origin = str(path)
    try:
        headers = read_headers(path)
    except READ_ERRORS as exc:
        raise SuiteError(f"{origin}: not a readable .npz file ({exc}); expected {LAYOUT}") from exc
    splits = check_layout(headers, origin)
    nbytes = sum(math.prod(headers[f"{s}_images"][0]) for s in splits)  # uint8: a byte a pixel
    refuse_beyond_memory(nbytes, origin, "the images")
    arrays = read_arrays(path, splits, origin)
    classes = check_label_values({s: arrays[f"{s}_y"] for s in splits}, origin)
    shape = headers["train_images"][0]
    channels = shape[3] if len(shape) == 4 else 1
    size = f"{shape[1]}×{shape[2]} (height×width)"
    source = f"npz file {path} ({channels} channel(s), {size}, {', '.join(splits)} splits)"
    return ImageData.from_arrays(arrays, source, "npz", tuple(str(k) for k in range(classes)))


def read_arrays(path: Path, splits: list[str], origin: str) -> dict[str, np.ndarray]:
    """The checked arrays as ImageData's keys (``train_x``, ``train_y``, ...), labels flattened."""
    arrays = {}
    try:
        with np.load(path, allow_pickle=False) as archive:
            for split in splits:
                arrays[f"{split}_x"] = archive[f"{split}_images"]
                arrays[f"{split}_y"] = archive[f"{split}_labels"].reshape(-1)
    except READ_ERRORS as exc:
        raise SuiteError(f"{origin}: not a readable .npz file ({exc}); expected {LAYOUT}") from exc
    return arrays

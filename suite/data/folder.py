"""A user's own images in a folder, one subfolder per class, in either of two layouts:

* ``train/``, ``test/`` and optionally ``val/``, each with one subfolder per class (the same
  classes in each); ``val/`` becomes the data set's own validation split;
* one subfolder per class directly: then a fifth of each class (``TEST_FRACTION``, at least one
  image, never all of them) is held out as the test split, picked by a generator seeded with
  ``HOLDOUT_SEED`` and the class name (CRC-32), so the split is the same on every machine and
  adding a class leaves the other classes' splits alone.

Class names are the subfolder names, sorted; label k is the k-th. Images are the ``.png``,
``.jpg`` and ``.jpeg`` files of a class folder (any case; hidden and other files are ignored), read
with Pillow, pixels as stored (a JPEG's EXIF orientation is not applied: rotations are what the
suite measures). Gray images stay one channel, colour ones three; palette and alpha images become
RGB, and a folder mixing gray and colour becomes RGB throughout: ``source`` says which.

Each split's images are shuffled once with ``ORDER_SEED``: a split read class by class would
otherwise hold out its last classes, not a tenth of each, as the validation split.
"""

from __future__ import annotations

import os
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from suite.data.images import ImageData
from suite.data.memory import refuse_beyond_memory
from suite.errors import SuiteError, UsageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
SPLITS = ("train", "val", "test")
TEST_FRACTION = 0.2  # of each class, held out as the test split when the folder has no test/
HOLDOUT_SEED = 0
ORDER_SEED = 1
GRAY_MODES = ("1", "L", "LA", "La")
ALPHA_MODES = ("LA", "La", "PA", "RGBA", "RGBa")  # the alpha channel is dropped, not composited
# What Pillow raises on a file that is not an image, or a truncated or corrupt one.
PIL_ERRORS = (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError)

Files = dict[str, list[Path]]  # class name -> its image files, sorted


def subfolders(folder: Path) -> list[Path]:
    """The visible subfolders, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def image_files(folder: Path) -> list[Path]:
    """The visible PNG and JPEG files, sorted by name; anything else is not an image of the set."""
    return sorted(
        p
        for p in folder.iterdir()
        if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file()
    )


def class_files(folder: Path) -> Files:
    """Each class subfolder of ``folder`` with its images; refuses none, or a class without images."""
    classes = subfolders(folder)
    if not classes:
        raise SuiteError(f"{folder}: no class subfolders; expected one subfolder of images per class")
    files = {}
    for sub in classes:
        files[sub.name] = image_files(sub)
        if not files[sub.name]:
            raise SuiteError(
                f"{sub}: no .png, .jpg or .jpeg image in class {sub.name!r}; add images or remove the folder"
            )
    return files


def read_layout(root: Path, test_fraction: float) -> tuple[dict[str, Files], str]:
    """The files of each split and a phrase saying which layout they came in."""
    names = [p.name for p in subfolders(root)]
    if not names:
        raise SuiteError(f"{root}: no class subfolders; expected one subfolder of images per class")
    split_names = [n for n in SPLITS if n in names]
    if not split_names:
        held = {name: hold_out(files, test_fraction, name) for name, files in class_files(root).items()}
        layout = (
            f"one subfolder per class, {test_fraction:.0%} of each held out as test (seed {HOLDOUT_SEED})"
        )
        return {
            "train": {name: pair[0] for name, pair in held.items()},
            "test": {name: pair[1] for name, pair in held.items()},
        }, layout
    others = sorted(set(names) - set(SPLITS))
    if "train" not in split_names or "test" not in split_names or others:
        raise SuiteError(
            f"{root}: holds {', '.join(n + '/' for n in names)}; expected train/ and test/ (and optionally "
            "val/), each with one subfolder per class, or one subfolder per class and nothing else"
        )
    splits = {split: class_files(root / split) for split in split_names}
    same_classes(splits, root)
    return splits, f"{', '.join(n + '/' for n in split_names)} subfolders"


def same_classes(splits: dict[str, Files], root: Path) -> None:
    """Refuse splits whose class subfolders differ from train/'s, naming the difference."""
    train = set(splits["train"])
    for split, files in splits.items():
        lacks, extra = sorted(train - set(files)), sorted(set(files) - train)
        if lacks or extra:
            differences = [
                f"lacks {', '.join(lacks)}" if lacks else "",
                f"has {', '.join(extra)}" if extra else "",
            ]
            raise SuiteError(
                f"{root}: {split}/ {' and '.join(d for d in differences if d)} compared with train/; "
                "every split needs the same class subfolders"
            )


def hold_out(files: list[Path], fraction: float, name: str) -> tuple[list[Path], list[Path]]:
    """A class's (train, test) files: ``fraction`` of them, at least one, picked by a generator
    seeded with the class name, so the pick depends only on this class's own files."""
    if len(files) < 2:
        raise SuiteError(
            f"{files[0].parent}: class {name!r} has one image; holding out a test image needs at least 2 "
            "(or give train/ and test/ subfolders)"
        )
    n_test = min(len(files) - 1, max(1, round(fraction * len(files))))
    rng = np.random.default_rng([HOLDOUT_SEED, zlib.crc32(os.fsencode(name))])
    picked = set(rng.choice(len(files), n_test, replace=False).tolist())
    train = [f for i, f in enumerate(files) if i not in picked]
    test = [f for i, f in enumerate(files) if i in picked]
    return train, test


def labelled(files: Files, classes: tuple[str, ...]) -> list[tuple[Path, int]]:
    """Every (file, label) of a split, shuffled once with ``ORDER_SEED``."""
    pairs = [(path, classes.index(name)) for name in classes for path in files[name]]
    order = np.random.default_rng(ORDER_SEED).permutation(len(pairs))
    return [pairs[i] for i in order]


def probe(path: Path) -> tuple[tuple[int, int], str]:
    """An image's (width, height) and mode from its header, without decoding the pixels."""
    try:
        with Image.open(path) as image:
            return image.size, image.mode
    except PIL_ERRORS as exc:
        raise SuiteError(f"{path}: not a readable image ({exc}); remove or replace it") from exc


def target_mode(modes: Counter[str], examples: dict[str, Path]) -> tuple[str, list[str]]:
    """``L`` when every image is gray, else ``RGB``, with a note for each conversion made; refuses
    16-bit and float images (converting them to 8 bits would clip, not scale), naming one."""
    wide = sorted(m for m in modes if m in ("I", "F") or m.startswith("I;"))
    if wide:
        raise SuiteError(
            f"{examples[wide[0]]}: mode {wide[0]} (16-bit or float pixels, like {modes[wide[0]]} image(s)); "
            "convert them to 8-bit gray or RGB"
        )
    target = "L" if all(m in GRAY_MODES for m in modes) else "RGB"
    notes = [
        f"{n} {mode} image(s) converted to {target}" for mode, n in sorted(modes.items()) if mode != target
    ]
    if target == "RGB" and any(m in GRAY_MODES for m in modes):
        notes.insert(0, "gray and colour images mixed: all converted to RGB")
    if any(m in ALPHA_MODES for m in modes):
        notes.append("alpha dropped")
    return target, notes


def check_one_size(sizes: dict[tuple[int, int], Path], origin: str) -> tuple[int, int]:
    """The one (width, height) of all images; refuses several, naming a file of each size."""
    if len(sizes) > 1:
        examples = "; ".join(f"{path} is {h}×{w}" for (w, h), path in list(sizes.items())[:4])
        raise SuiteError(
            f"{origin}: images of {len(sizes)} sizes (height×width): {examples}; resize them to one size"
        )
    return next(iter(sizes))


def survey(files: list[Path], root: Path) -> tuple[tuple[int, int], str, list[str]]:
    """The one image size, the mode to decode to and the conversions it makes, from the files'
    headers; refuses before decoding anything when the decoded images would not fit in memory."""
    (width, height), first_mode = probe(files[0])
    channels = 1 if first_mode in GRAY_MODES else 3
    refuse_beyond_memory(width * height * channels * len(files), str(root), f"{len(files):,} images")
    sizes: dict[tuple[int, int], Path] = {}
    modes: Counter[str] = Counter()
    examples: dict[str, Path] = {}
    for file in files:
        size, mode = probe(file)
        sizes.setdefault(size, file)
        examples.setdefault(mode, file)
        modes[mode] += 1
    (width, height), (mode, notes) = check_one_size(sizes, str(root)), target_mode(modes, examples)
    if mode == "RGB" and channels == 1:  # the first image was gray, some others are colour
        refuse_beyond_memory(width * height * 3 * len(files), str(root), f"{len(files):,} images")
    return (width, height), mode, notes


def decode(pairs: list[tuple[Path, int]], size: tuple[int, int], mode: str) -> np.ndarray:
    """All images as one uint8 array ``(N, H, W)`` (mode L) or ``(N, H, W, 3)`` (RGB)."""
    width, height = size
    images = np.empty((len(pairs), height, width, *(() if mode == "L" else (3,))), dtype=np.uint8)
    for i, (path, _) in enumerate(pairs):
        try:
            with Image.open(path) as image:
                images[i] = np.asarray(image if image.mode == mode else image.convert(mode))
        except PIL_ERRORS as exc:
            raise SuiteError(f"{path}: a corrupt or truncated image ({exc}); remove or replace it") from exc
    return images


def load_folder(path: Path | None, download: bool = False, test_fraction: float = TEST_FRACTION) -> ImageData:
    """The verified splits of an image folder (see the module's docstring for the layouts);
    ``download`` is ignored: a user's folder is never downloaded."""
    if path is None:
        raise UsageError(
            "not given: the folder data set reads a folder of images, one subfolder per class",
            param="data_dir",
        )
    if not path.is_dir():
        raise UsageError(f"{path}: no such directory", param="data_dir")
    if not 0 < test_fraction < 1:
        raise UsageError(f"{test_fraction}: expected a fraction between 0 and 1", param="test_fraction")
    splits, layout = read_layout(path, test_fraction)
    classes = tuple(sorted(splits["train"]))
    if len(classes) < 2:
        raise SuiteError(f"{path}: one class ({classes[0]}); a classifier needs at least 2 class subfolders")
    pairs = {split: labelled(files, classes) for split, files in splits.items()}
    size, mode, notes = survey([file for split_pairs in pairs.values() for file, _ in split_pairs], path)
    arrays: dict[str, np.ndarray] = {}
    for split, split_pairs in pairs.items():
        arrays[f"{split}_x"] = decode(split_pairs, size, mode)
        arrays[f"{split}_y"] = np.array([label for _, label in split_pairs], dtype=np.int64)
    channels = 1 if mode == "L" else 3
    source = f"image folder {path} ({layout}; {channels} channel(s), {size[1]}×{size[0]} (height×width)"
    source += "".join(f"; {note}" for note in notes) + ")"
    return ImageData.from_arrays(arrays, source, "folder", classes)

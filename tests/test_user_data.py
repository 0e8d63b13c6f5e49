"""A user's own data: one .npz file in MedMNIST's layout and a folder of images (both generated
here, tiny), loaded with their channels and splits, and one clear line for every malformed case."""

import re
import zipfile

import numpy as np
import pytest
from PIL import Image

from suite.data import memory
from suite.data.datasets import get_dataset, load_dataset
from suite.data.folder import load_folder
from suite.data.npz import load_npz
from suite.errors import SuiteError, UsageError

COLOURS = np.array([(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)], dtype=np.uint8)


def refused(load, path, pattern, error=SuiteError):
    """``load(path)`` raises one line that names ``path`` and matches ``pattern``."""
    with pytest.raises(error, match=pattern) as raised:
        load(path)
    assert str(path) in str(raised.value) and "\n" not in str(raised.value)
    return raised.value


# --- npz -------------------------------------------------------------------------------------


def npz_arrays(train=40, val=12, test=12, size=(48, 48), classes=4):
    """RGB images whose classes differ only in colour: class k is filled with ``COLOURS[k]``."""
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", train), ("val", val), ("test", test)):
        if not n:
            continue
        labels = np.arange(n) % classes
        rng.shuffle(labels)
        images = np.broadcast_to(COLOURS[labels][:, None, None, :], (n, *size, 3))
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = images.copy(), labels[:, None]
    return arrays


def write_npz(path, arrays, compressed=False):
    (np.savez_compressed if compressed else np.savez)(path, **arrays)
    return path


@pytest.mark.parametrize("compressed", [False, True])
def test_npz_loads_rgb_with_its_val_split_and_colours(tmp_path, compressed):
    arrays = npz_arrays()
    data = load_npz(write_npz(tmp_path / "set.npz", arrays, compressed))
    assert data.name == "npz" and data.classes == ("0", "1", "2", "3")
    assert data.train_x.shape == (40, 3, 48, 48) and data.train_x.dtype.is_floating_point is False
    assert data.test_x.shape == (12, 3, 48, 48) and data.val_x.shape == (12, 3, 48, 48)
    assert data.train_y.tolist() == arrays["train_labels"].ravel().tolist()
    for k in range(4):  # the colour of each class survives in its channels: no conversion to gray
        pixel = data.train_x[data.train_y == k][:, :, 7, 9].numpy()
        assert len(pixel) == 10 and (pixel == COLOURS[k]).all()
    assert data.validation_view().test_x.shape == (12, 3, 48, 48)
    assert "3 channel(s), 48×48 (height×width)" in data.source


def test_npz_gray_non_square_without_val(tmp_path):
    arrays = {key: value for key, value in npz_arrays(val=0, size=(48, 40)).items()}
    for split in ("train", "test"):
        arrays[f"{split}_images"] = arrays[f"{split}_images"][..., 0]
        arrays[f"{split}_labels"] = arrays[f"{split}_labels"].ravel()
    data = load_dataset("npz", write_npz(tmp_path / "gray.npz", arrays))
    assert data.train_x.shape == (40, 1, 48, 40) and data.val_x is None and data.val_y is None
    assert "1 channel(s), 48×40 (height×width), train, test splits" in data.source
    assert get_dataset("npz").validation is None and get_dataset("folder").validation is None


def _without(key):
    return lambda a: {k: v for k, v in a.items() if k != key}


def _set(key, value):
    return lambda a: {**a, key: value(a)}


NPZ_FAULTS = {
    "missing key": (_without("test_labels"), r"no array 'test_labels' \(found: .*train_images"),
    "val labels without images": (_without("val_images"), r"no array 'val_images'"),
    "float images": (
        _set("train_images", lambda a: a["train_images"] / 255),
        r"float64, not uint8.*0\.\.255",
    ),
    "flat images": (_set("train_images", lambda a: a["train_images"][..., 0, 0]), r"shape \(40, 48\)"),
    "channels first": (
        _set("test_images", lambda a: np.moveaxis(a["test_images"], -1, 1)),
        r"test_images have shape \(12, 3, 48, 48\).*channels-first",
    ),
    "other size in test": (_set("test_images", lambda a: a["test_images"][:, :40]), r"same image size"),
    "other channels in val": (
        _set("val_images", lambda a: a["val_images"][..., :1]),
        r"same image size and channels",
    ),
    "count mismatch": (
        _set("train_labels", lambda a: a["train_labels"][:-1]),
        r"39, 1\) for 40 train images",
    ),
    "float labels": (_set("test_labels", lambda a: a["test_labels"] * 1.0), r"test_labels are float64"),
    "object labels": (
        _set("test_labels", lambda a: a["test_labels"].astype(object)),
        r"test_labels are object",
    ),
    "negative label": (_set("val_labels", lambda a: a["val_labels"] - 1), r"val_labels hold -1.*0\.\.K-1"),
    "class not in train": (
        _set("train_labels", lambda a: np.where(a["train_labels"] == 2, 1, a["train_labels"])),
        r"class 2 has no training image",
    ),
    "huge label": (_set("test_labels", lambda a: a["test_labels"] * 10**9), r"class 4 has no training image"),
    "one class": (
        lambda a: {k: v * 0 if k.endswith("labels") else v for k, v in a.items()},
        r"at least 2 classes",
    ),
    "no test images": (_set("test_images", lambda a: a["test_images"][:0]), r"no images"),
}


@pytest.mark.parametrize("fault", NPZ_FAULTS)
def test_a_malformed_npz_is_refused_in_one_line(tmp_path, fault):
    change, pattern = NPZ_FAULTS[fault]
    arrays = change(npz_arrays())
    if fault == "no test images":
        arrays["test_labels"] = arrays["test_labels"][:0]
    refused(load_npz, write_npz(tmp_path / "bad.npz", arrays), pattern)


def test_a_truncated_or_foreign_npz_is_refused(tmp_path):
    whole = write_npz(tmp_path / "whole.npz", npz_arrays()).read_bytes()
    (tmp_path / "cut.npz").write_bytes(whole[: len(whole) // 2])
    refused(load_npz, tmp_path / "cut.npz", r"not a readable \.npz file")
    (tmp_path / "text.npz").write_text("train_images,train_labels\n")
    refused(load_npz, tmp_path / "text.npz", r"not a readable \.npz file")
    np.save(tmp_path / "one.npy", np.zeros(3))  # a plain .npy is not a zip of arrays
    refused(load_npz, tmp_path / "one.npy", r"not a readable \.npz file")


def test_a_corrupt_member_is_refused(tmp_path):
    path = write_npz(tmp_path / "flip.npz", npz_arrays())
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("train_images.npy")
    raw[info.header_offset + 200] ^= 0xFF  # in the pixel data, after the .npy header: a CRC mismatch
    path.write_bytes(bytes(raw))
    refused(load_npz, path, r"not a readable \.npz file")


def test_npz_path_not_given_missing_or_a_folder(tmp_path):
    with pytest.raises(UsageError, match=r"not given: the npz data set reads one \.npz file") as raised:
        load_npz(None)
    assert raised.value.param == "data_dir"
    refused(load_npz, tmp_path / "absent.npz", "no such file", UsageError)
    refused(load_npz, tmp_path, "a directory", UsageError)


def test_npz_too_large_for_memory_is_refused_before_loading(tmp_path, monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: 100_000)
    monkeypatch.setattr(np, "load", lambda *a, **k: pytest.fail("loaded before the memory check"))
    refused(
        load_npz,
        write_npz(tmp_path / "big.npz", npz_arrays()),
        r"432\.0 KiB decoded.*limit of 48\.8 KiB \(half of the 97\.7 KiB",
    )


# --- folder ----------------------------------------------------------------------------------


def write_image(path, pixels):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def gray(k, i, size=32):
    """Class k's i-th image: a constant gray level of its own."""
    return np.full((size, size), 60 * k + i, dtype=np.uint8)


def make_folder(root, classes=("ant", "bee", "cat"), per_class=10, splits=None, suffix=".png"):
    """Gray PNGs, one subfolder per class, under ``root`` or under each of ``splits``."""
    for split in splits or [None]:
        for k, name in enumerate(classes):
            for i in range(per_class):
                folder = root / split / name if split else root / name
                write_image(folder / f"img{i:02}{suffix}", gray(k, i))
    return root


def test_folder_per_class_holds_out_a_fifth_of_each_class(tmp_path):
    root = make_folder(tmp_path / "flat")
    (root / "ant" / "notes.txt").write_text("not an image")
    (root / "ant" / ".hidden.png").write_bytes(b"not an image either")
    (root / ".cache").mkdir()
    data = load_folder(root)
    assert data.name == "folder" and data.classes == ("ant", "bee", "cat")
    assert data.train_x.shape == (24, 1, 32, 32) and data.test_x.shape == (6, 1, 32, 32)
    assert data.train_x.dtype == data.test_x.dtype and str(data.train_x.dtype) == "torch.uint8"
    assert data.val_x is None and "20% of each held out as test (seed 0)" in data.source
    assert np.bincount(data.test_y.numpy()).tolist() == [2, 2, 2]
    assert (data.train_x[:, 0, 0, 0].numpy() // 60 == data.train_y.numpy()).all()  # labels match pixels
    assert data.train_y[:8].unique().numel() > 1  # shuffled: the last tenth is not one class
    again = load_dataset("folder", root)
    assert (again.test_x == data.test_x).all() and (again.train_y == data.train_y).all()


@pytest.mark.parametrize("with_val", [False, True])
def test_folder_with_train_test_and_optional_val(tmp_path, with_val):
    splits = ["train", "test", "val"] if with_val else ["train", "test"]
    root = make_folder(tmp_path / "split", per_class=4, splits=splits, suffix=".PNG")
    data = load_folder(root)
    assert data.train_x.shape == (12, 1, 32, 32) and data.test_x.shape == (12, 1, 32, 32)
    assert (data.val_x is not None) == with_val and "train/" in data.source
    if with_val:
        assert (
            data.val_x.shape == (12, 1, 32, 32) and sorted(data.val_y.tolist()) == [0] * 4 + [1] * 4 + [2] * 4
        )


def test_folder_rgb_keeps_its_colours(tmp_path):
    for k, name in enumerate(("red", "green", "blue")):
        for i in range(3):
            pixels = np.broadcast_to(COLOURS[k], (32, 32, 3)).copy()
            write_image(tmp_path / "rgb" / name / f"{i}.png", pixels)
    write_image(tmp_path / "rgb" / "red" / "3.jpg", np.broadcast_to(COLOURS[0], (32, 32, 3)).copy())
    data = load_folder(tmp_path / "rgb")
    assert data.classes == ("blue", "green", "red") and data.channels == 3
    images = np.concatenate([data.train_x.numpy(), data.test_x.numpy()])
    labels = np.concatenate([data.train_y.numpy(), data.test_y.numpy()])
    for label, colour in ((0, COLOURS[2]), (1, COLOURS[1])):
        assert (images[labels == label][:, :, 5, 5] == colour).all()
    red = images[labels == 2][:, :, 5, 5].astype(int)  # JPEG is lossy, but red stays red
    assert (red[:, 0] > 200).all() and (red[:, 1:] < 60).all()


def test_folder_mixing_gray_palette_and_alpha_becomes_rgb_and_says_so(tmp_path):
    root = make_folder(tmp_path / "mixed", classes=("a", "b"), per_class=3)
    write_image(root / "a" / "rgba.png", np.full((32, 32, 4), 200, dtype=np.uint8))
    Image.fromarray(gray(1, 0)).convert("P").save(root / "b" / "palette.png")
    data = load_folder(root)
    assert data.channels == 3 and data.train_x.shape[1:] == (3, 32, 32)
    assert "gray and colour images mixed: all converted to RGB" in data.source
    assert "1 RGBA image(s) converted to RGB" in data.source and "alpha dropped" in data.source


def test_folder_not_given_or_missing(tmp_path):
    with pytest.raises(UsageError, match="not given") as raised:
        load_folder(None)
    assert raised.value.param == "data_dir"
    refused(load_folder, tmp_path / "absent", "no such directory", UsageError)


def _truncate(root):
    path = root / "bee" / "img03.png"
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) - 30])
    return path


def _garble(root):
    path = root / "ant" / "img00.png"
    path.write_bytes(b"\x89PNG nonsense")
    return path


def _resize(root):
    write_image(root / "cat" / "img05.png", np.zeros((30, 32), dtype=np.uint8))
    return root / "cat" / "img05.png"


FOLDER_FAULTS = {
    "no class subfolders": (lambda root: root, r"no class subfolders"),
    "empty class": (lambda root: (root / "dog").mkdir() or root / "dog", r"no \.png.*image in class 'dog'"),
    "not an image": (_garble, r"not a readable image"),
    "truncated image": (_truncate, r"corrupt or truncated image"),
    "mixed sizes": (_resize, r"2 sizes \(height×width\): .* is 3[02]×32; .* is 3[02]×32; resize"),
    "16-bit image": (
        lambda root: write_image(root / "ant" / "deep.png", np.zeros((32, 32), dtype=np.uint16)),
        r"16-bit or float pixels",
    ),
}


@pytest.mark.parametrize("fault", FOLDER_FAULTS)
def test_a_malformed_folder_is_refused_naming_the_culprit(tmp_path, fault):
    change, pattern = FOLDER_FAULTS[fault]
    root = tmp_path / "set"
    if fault == "no class subfolders":
        root.mkdir()
        (root / "loose.png").write_bytes(b"")
    else:
        make_folder(root)
    culprit = change(root)
    error = refused(load_folder, root, pattern)
    assert str(culprit) in str(error)


def test_folder_layout_faults(tmp_path):
    one = make_folder(tmp_path / "one", classes=("only",))
    refused(load_folder, one, r"one class \(only\).*at least 2")
    lonely = make_folder(tmp_path / "lonely", per_class=1)
    refused(load_folder, lonely, r"class 'ant' has one image")
    half = make_folder(tmp_path / "half", per_class=2, splits=["train"])
    refused(load_folder, half, r"holds train/; expected train/ and test/")
    differ = make_folder(tmp_path / "differ", per_class=2, splits=["train", "test"])
    make_folder(differ, classes=("dog",), per_class=2, splits=["test"])
    for path in (differ / "test" / "cat").iterdir():
        path.unlink()
    (differ / "test" / "cat").rmdir()
    refused(load_folder, differ, re.escape("test/ lacks cat and has dog compared with train/"))


def test_folder_too_large_for_memory_is_refused_before_decoding(tmp_path, monkeypatch):
    root = make_folder(tmp_path / "big")
    monkeypatch.setattr(memory, "available_memory", lambda: 20_000)
    refused(load_folder, root, r"30 images take 30\.0 KiB decoded.*limit of 9\.8 KiB")

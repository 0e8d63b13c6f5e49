"""The data set registry: any 28×28 IDX set (generated here), Fashion-MNIST when Debian's package
is installed, and one clear line for every malformed or missing set."""

import gzip
import re

import numpy as np
import pytest

from suite.data import fashion
from suite.data.datasets import dataset_names, get_dataset, load_dataset
from suite.data.idx import IDX_FILES
from suite.errors import SuiteError, UsageError
from tests.cli import run_main


def write_idx(path, array, magic=None):
    magic = (0x0800 | array.ndim) if magic is None else magic
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def make_idx_set(folder, classes=3, train=96, test=48, gz=False):
    """A tiny IDX set: class k is a bright square at a place of its own (learnable in one epoch)."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for split, n in (("train", train), ("test", test)):
        labels = rng.integers(0, classes, n)
        images = rng.integers(0, 40, (n, 28, 28))
        for i, k in enumerate(labels):
            images[i, 4 + 6 * k : 10 + 6 * k, 4:10] = 255
        arrays[f"{split}_x"], arrays[f"{split}_y"] = images, labels
    for key, stem in IDX_FILES.items():
        write_idx(folder / stem, arrays[key])
        if gz:
            raw = (folder / stem).read_bytes()
            (folder / stem).unlink()
            (folder / f"{stem}.gz").write_bytes(gzip.compress(raw))
    return arrays


def test_registry_declares_names_classes_and_sources():
    assert dataset_names()[:2] == ["mnist", "fashion-mnist"] and "idx" in dataset_names()
    assert get_dataset("fashion-mnist").classes[9] == "Ankle boot" and get_dataset("mnist").digits
    assert not get_dataset("fashion-mnist").digits
    with pytest.raises(UsageError, match="unknown data set") as raised:
        get_dataset("cifar")
    assert raised.value.param == "dataset"


@pytest.mark.parametrize("gz", [False, True])
def test_any_idx_set_loads_with_its_label_range(tmp_path, gz):
    arrays = make_idx_set(tmp_path / "mine", gz=gz)
    data = load_dataset("idx", tmp_path / "mine")
    assert data.name == "idx" and data.classes == ("0", "1", "2")
    assert data.train_x.shape == (96, 1, 28, 28) and data.test_y.tolist() == arrays["test_y"].tolist()


def test_a_run_on_a_generated_idx_set(tmp_path, capsys):
    make_idx_set(tmp_path / "mine")
    out = tmp_path / "run"
    code, err = run_main(
        capsys, "run", "--dataset", "idx", "--data-dir", str(tmp_path / "mine"), "--profile", "smoke",
        "--variants", "cnn,gcnn-c4", "--no-bench", "--no-progress", "--out", str(out),
    )  # fmt: skip
    assert code == 0, err
    import json

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["dataset"] == {"name": "idx", "classes": ["0", "1", "2"], "digits": False}
    assert manifest["config"]["dataset"] == "idx" and manifest["test_digits"] == 48
    assert "gcnn-c4" in (out / "summary.md").read_text()


def _corrupt(folder, fault):
    images = folder / IDX_FILES["train_x"]
    raw = images.read_bytes()
    if fault == "wrong magic":
        images.write_bytes((0x0D03).to_bytes(4, "big") + raw[4:])
    elif fault == "truncated":
        images.write_bytes(raw[:-100])
    elif fault == "wrong size":
        write_idx(images, np.zeros((96, 27, 27)))
    elif fault == "labels out of range":
        write_idx(folder / IDX_FILES["test_y"], np.full(48, 12))
    elif fault == "missing file":
        images.unlink()
    elif fault == "label count":
        write_idx(folder / IDX_FILES["train_y"], np.zeros(95))


@pytest.mark.parametrize(
    ("fault", "fragment"),
    [
        ("wrong magic", "not an IDX file"),
        ("truncated", "bytes of data, header says"),
        ("wrong size", "expected square images of one size"),
        ("labels out of range", "labels go up to 12"),
        ("missing file", "train-images-idx3-ubyte[.gz] not found"),
        ("label count", "95 train labels for 96 images"),
    ],
)
def test_malformed_idx_sets_are_refused_in_one_line(tmp_path, capsys, fault, fragment):
    folder = tmp_path / "bad"
    make_idx_set(folder)
    _corrupt(folder, fault)
    with pytest.raises(SuiteError, match=re.escape(fragment)):
        load_dataset("idx", folder)
    code, err = run_main(capsys, "run", "--dataset", "idx", "--data-dir", str(folder), "--profile", "smoke")
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1 and fragment in lines[0], err


def test_idx_needs_a_data_dir_and_unknown_sets_are_usage_errors(capsys):
    code, err = run_main(capsys, "run", "--dataset", "idx", "--profile", "smoke")
    assert code == 2 and err.strip().splitlines() == [err.strip()]
    assert "--data-dir not given" in err
    code, err = run_main(capsys, "run", "--dataset", "nope")
    assert code == 2 and "--dataset 'nope': unknown data set; known: mnist, fashion-mnist, idx" in err


def test_missing_fashion_mnist_says_what_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(fashion, "DEBIAN_DIR", tmp_path / "not-installed")
    code, err = run_main(capsys, "run", "--dataset", "fashion-mnist", "--profile", "smoke")
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1
    assert "apt-get install dataset-fashion-mnist" in lines[0] and "--data-dir" not in lines[0]


def test_fashion_mnist_checksum_refuses_other_files(tmp_path):
    make_idx_set(tmp_path / "fake")
    with pytest.raises(SuiteError, match="not the standard Fashion-MNIST"):
        load_dataset("fashion-mnist", tmp_path / "fake")


@pytest.mark.skipif(not fashion.DEBIAN_DIR.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_installed_fashion_mnist_is_the_verified_split():
    data = load_dataset("fashion-mnist")
    assert data.train_x.shape == (60_000, 1, 28, 28) and data.test_x.shape == (10_000, 1, 28, 28)
    assert set(data.test_y.unique().tolist()) == set(range(10)) and data.classes[0] == "T-shirt/top"


def test_list_datasets(capsys):
    from suite.cli.main import main

    assert main(["list", "--datasets"]) == 0
    out = capsys.readouterr().out
    assert "fashion-mnist" in out and "Ankle boot" in out
    assert "task: 28×28×1, 10 classes, C4" in out  # each data set's shape, channels, classes, group
    for name in ("npz", "folder", "idx"):  # users' own: read from the files
        assert f"\n{name} " in out
    assert out.count("task: shape, channels and classes from the files; C4") == 3

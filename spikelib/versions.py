"""Versions of the interpreter and packages, recorded beside every result."""

import platform
from importlib import metadata

from spikelib.runs import keras_backend

# What trained results depend on.
TRAINING_PACKAGES = ("numpy", "tensorflow-cpu", "keras")
# What the executed book depends on as well.
BOOK_PACKAGES = TRAINING_PACKAGES + ("spikelib", "dask", "distributed", "pandas",
                                     "scikit-learn", "seaborn", "matplotlib", "papermill",
                                     "jupytext", "jupyter-book", "myst-nb")
# What a Keras backend other than TensorFlow adds to them.
BACKEND_PACKAGES = {"jax": ("jax", "jaxlib")}


def package_versions(packages=TRAINING_PACKAGES):
    """{"python": ..., package: version} for the installed ones of `packages`,
    with the Keras backend and its packages where it is not TensorFlow."""
    found = {"python": platform.python_version()}
    backend = keras_backend()
    if backend != "tensorflow":
        found["keras_backend"] = backend
        packages = tuple(packages) + BACKEND_PACKAGES.get(backend, ())
    for package in packages:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return found

"""Versions of the interpreter and packages, recorded beside every result."""

import platform
from importlib import metadata

# What trained results depend on.
TRAINING_PACKAGES = ("numpy", "tensorflow-cpu", "keras")
# What the executed book depends on as well.
BOOK_PACKAGES = TRAINING_PACKAGES + ("spikelib", "dask", "distributed", "pandas",
                                     "scikit-learn", "seaborn", "matplotlib", "papermill",
                                     "jupytext", "jupyter-book", "myst-nb")


def package_versions(packages=TRAINING_PACKAGES):
    """{"python": ..., package: version} for the installed ones of `packages`."""
    found = {"python": platform.python_version()}
    for package in packages:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return found

"""TensorFlow imported without its start-up lines on stderr (and not at all
under another Keras backend).

TensorFlow's C++ runtime writes an absl notice and a oneDNN line to file
descriptor 2 when it loads, whatever TF_CPP_MIN_LOG_LEVEL says; a command
line tool or a worker of the runner imports it through `import_tensorflow`
so that these lines never reach the user.  Errors raised by the import
itself still do (stderr is restored before they propagate).
"""

import contextlib
import logging
import os
import sys
import threading
import warnings

_IMPORT_LOCK = threading.Lock()


@contextlib.contextmanager
def _stderr_to_devnull():
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tensorflow():
    """`tensorflow`, imported (once) with its start-up chatter discarded and
    its Python and absl loggers at ERROR.

    Safe from several threads at once (a worker with more than one thread):
    one imports, the others wait for the finished module.
    """
    with _IMPORT_LOCK:
        if "tensorflow" not in sys.modules:
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
            with _stderr_to_devnull():
                import tensorflow  # noqa: F401
    import absl.logging
    import tensorflow as tf  # waits for an import that another thread has begun

    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    absl.logging.set_verbosity(absl.logging.ERROR)
    return tf


def import_backend():
    """The Keras backend's start-up done quietly: `import_tensorflow` where
    TensorFlow is the backend (returned); under another backend nothing is
    imported (None), as JAX has no start-up lines on a CPU."""
    from spikelib.runs import keras_backend
    return import_tensorflow() if keras_backend() == "tensorflow" else None


def quiet_notebook():
    """Set up a notebook kernel (or a command that loads trained models, such
    as `python -m spikelib.claims --compute`) whose outputs a reader will see:
    the backend from `import_backend`, and the warnings a reader cannot act on
    filtered (tqdm finding no ipywidgets, so progress bars stay off; Keras
    noting that a loaded model has no build() of its own, although its
    loaded weights are complete)."""
    warnings.filterwarnings("ignore", message="IProgress not found")
    warnings.filterwarnings("ignore", message="`build\\(\\)` was called on layer")
    return import_backend()

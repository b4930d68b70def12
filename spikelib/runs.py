"""A `Run`: one training the book needs, named by one key.

A run is its kind (the spiking autoencoder, "sae", or the conventional
autoencoder matched to it, "ann") plus its `RunConfig`.  Its key joins the
kind, the config digest and the digest of the code that determines trained
results (`code_digest`): rewording a caption, a table or a plot keeps every
key, changing the neuron or the optimiser changes every spiking run's, and
changing the conventional autoencoder only its own runs'.  A run trained
under another Keras backend than TensorFlow is another run (its numbers
differ in the last bits, its initial weights come from that backend's
random generator): the backend's name and its own loop code enter the digest.
"""

import dataclasses
import functools
import hashlib
import json
import os
import sys
from pathlib import Path

from spikelib.config import RunConfig

KINDS = {"sae": "spiking autoencoder", "ann": "conventional autoencoder"}
# The modules whose code determines a trained run's numbers, by kind.
# Plotting, claims, sections' tables, the runner and the notebooks are not
# among them, and neither model's code is in the other's key.
TRAINING_CODE = {
    "sae": ("autoencoder", "baselines", "config", "data", "encoding", "events", "experiment",
            "lambertw", "layer", "loss", "neuron", "optimizer", "pulses", "stopping",
            "convergence", "training"),
    "ann": ("baselines", "config", "conventional", "convergence", "data", "encoding",
            "experiment", "stopping"),
}
# What a backend other than TensorFlow adds to a spiking run's training code.
BACKEND_CODE = {"jax": ("training_jax", "training_many")}
# Split sizes when a config says None (the whole split).
SPLIT_SIZES = {"train": 54000, "validation": 6000, "test": 10000}


def keras_backend():
    """The Keras backend this process trains with, found as Keras finds it
    ($KERAS_BACKEND, else keras.json, else TensorFlow) without importing Keras."""
    if "keras" in sys.modules:
        return sys.modules["keras"].backend.backend()
    if "KERAS_BACKEND" in os.environ:
        return os.environ["KERAS_BACKEND"]
    home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    try:
        return json.loads((home / "keras.json").read_text()).get("backend", "tensorflow")
    except (OSError, ValueError):
        return "tensorflow"


@functools.cache
def code_digest(kind="sae", package=None, backend=None):
    """Short hash of the modules in TRAINING_CODE[kind] (of `package`, default
    spikelib's folder), and of `backend` (default this process's) where it is
    not TensorFlow."""
    package = Path(package) if package else Path(__file__).resolve().parent
    backend = backend or keras_backend()
    digest = hashlib.sha256()
    extra = BACKEND_CODE.get(backend, ()) if kind == "sae" else ()
    for name in TRAINING_CODE[kind] + extra:
        digest.update(name.encode() + (package / f"{name}.py").read_bytes())
    if backend != "tensorflow":
        digest.update(f"backend {backend}".encode())
    return digest.hexdigest()[:8]


@dataclasses.dataclass(frozen=True)
class Run:
    """One training: its kind and its config."""

    kind: str
    config: RunConfig

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"run kind must be one of {sorted(KINDS)}, got {self.kind!r}")

    @property
    def key(self):
        return f"{self.kind}-{self.config.digest()}-{code_digest(self.kind)}"

    def examples(self, split="train"):
        """Examples of `split` the run uses."""
        count = getattr(self.config.data, f"{split}_examples")
        return SPLIT_SIZES[split] if count is None else count

    def training_examples(self):
        """Training examples in all at the full budget (epochs x training split)."""
        return self.config.budget.epochs * self.examples("train")

    def new_model(self):
        """An untrained model of the run's kind and config (built)."""
        if self.kind == "sae":
            from spikelib.autoencoder import SpikingAutoencoder
            return SpikingAutoencoder.from_run_config(self.config)
        from spikelib.conventional import new_conventional
        return new_conventional(self.config.network.n_hidden, self.config.seed)

    def label(self):
        """A short human-readable name: kind, data set, grid row, seed."""
        c = self.config
        tail = ", no inhibition" if c.network.nonnegative_weights else ""
        return (f"{self.kind} {c.data.dataset} (noise {c.data.noise:g}, latency {c.latency:g}, "
                f"hidden {c.network.n_hidden}{tail}) seed {c.seed}")

    def to_dict(self):
        return dict(kind=self.kind, config=self.config.to_dict())

    @classmethod
    def from_dict(cls, values):
        return cls(values["kind"], RunConfig.from_dict(values["config"]))


def unique(runs):
    """`runs` with duplicates (same key) merged, first occurrence kept."""
    seen = {}
    for run in runs:
        seen.setdefault(run.key, run)
    return list(seen.values())

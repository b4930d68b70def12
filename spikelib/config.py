"""One configuration object per experiment run.

The model hyperparameters come from the authors' 75 tuned rows
(`paper_grid.csv`, one per noise x latency x embedding size; source: the
reference implementation of Comşa et al. 2021, google/ihmehimmeli, branch
`autoencoder`, Apache-2.0), shipped with the package.  A run adds the data
set, the budget (epochs, examples) and the seeds; any field can be
overridden.  Configs serialise to JSON beside their results.
"""

import csv
import dataclasses
import hashlib
import json
from importlib import resources

from spikelib.data import DATASETS, canonical_name

GRID_FILE = "paper_grid.csv"
NOISE_LEVELS = (0.0, 0.2, 0.4, 0.6, 0.8)
LATENCIES = (1, 2, 4, 8, 16)
HIDDEN_SIZES = (8, 16, 32)


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Everything that determines one training run."""

    noise: float
    latency: float
    n_hidden: int
    batch_size: int
    learning_rate: float
    learning_rate_pulses: float
    decay_rate: float
    threshold: float
    clip_derivative: float
    penalty_no_spike: float
    n_pulses: int
    nonpulse_weight_mean_multiplier: float
    pulse_weight_mean_multiplier: float
    dataset: str = "mnist"
    epochs: int = 100
    seed: int = 0
    split_seed: int = 0
    train_examples: int | None = None
    validation_examples: int | None = None
    test_examples: int | None = None
    nonnegative_weights: bool = False

    def __post_init__(self):
        object.__setattr__(self, "dataset", canonical_name(self.dataset))
        if not 0.0 <= self.noise <= 1.0:
            raise ValueError(f"noise must be in [0, 1], got {self.noise}")
        if not self.latency > 0:
            raise ValueError(f"latency must be positive, got {self.latency}")
        for name in ("n_hidden", "batch_size", "epochs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("decay_rate", "threshold", "learning_rate", "clip_derivative"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")

    def replace(self, **changes):
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f"unknown config fields: {sorted(unknown)}")
        return dataclasses.replace(self, **changes)

    def to_dict(self):
        return dataclasses.asdict(self)

    def to_json(self):
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, values):
        return cls(**values)

    def digest(self):
        """Short hash identifying the run (cache key for trained models)."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]


def _number(text):
    value = float(text)
    return int(value) if value.is_integer() else value


def paper_grid():
    """The authors' tuned rows as a list of dicts (numbers parsed)."""
    with resources.files("spikelib").joinpath(GRID_FILE).open() as handle:
        return [{key: _number(value) for key, value in row.items()}
                for row in csv.DictReader(handle)]


def grid_row(noise, latency, n_hidden):
    """The tuned row for (noise, latency, n_hidden); clear error if absent."""
    for row in paper_grid():
        if (abs(row["noise"] - noise) < 1e-9 and row["latency"] == latency
                and row["n_hidden"] == n_hidden):
            return row
    raise ValueError(
        f"no tuned grid row for noise={noise}, latency={latency}, n_hidden={n_hidden}; "
        f"the grid has noise in {NOISE_LEVELS}, latency in {LATENCIES}, "
        f"n_hidden in {HIDDEN_SIZES}")


def paper_config(noise, latency, n_hidden, **overrides):
    """RunConfig from the tuned row (noise, latency, n_hidden), then overrides."""
    row = grid_row(noise, latency, n_hidden)
    row["latency"] = float(row["latency"])
    row["noise"] = float(row["noise"])
    return RunConfig(**row).replace(**overrides) if overrides else RunConfig(**row)


__all__ = ["RunConfig", "paper_grid", "grid_row", "paper_config", "DATASETS",
           "NOISE_LEVELS", "LATENCIES", "HIDDEN_SIZES"]

"""One configuration object per experiment run, grouped by what each part sets.

A `RunConfig` is the target latency and the seed plus five small typed
groups: the neuron (`NeuronParameters`), the network built from it
(`NetworkParameters`, including the no-inhibition ablation), the optimiser
(`OptimizerParameters`), the data (`DataParameters`) and the training
budget (`Budget`, with early stopping).  The model hyperparameters come
from the authors' 75 tuned rows (`paper_grid.csv`, one per noise x latency
x embedding size; source: the reference implementation of Comşa et al.
2021, google/ihmehimmeli, branch `autoencoder`, Apache-2.0), shipped with
the package.  Configs serialise to JSON beside their results; `digest()`
names a run.
"""

import csv
import dataclasses
import hashlib
import json
import math
from importlib import resources

from spikelib.data import DATASETS, canonical_name

GRID_FILE = "paper_grid.csv"
NOISE_LEVELS = (0.0, 0.2, 0.4, 0.6, 0.8)
LATENCIES = (1, 2, 4, 8, 16)
HIDDEN_SIZES = (8, 16, 32)
STOPPING_RULES = ("each_epoch", "window")


def _require(condition, name, expected, value):
    if not condition:
        raise ValueError(f"{name} must be {expected}, got {value!r}")


def _positive(group, *names):
    for name in names:
        value = getattr(group, name)
        _require(isinstance(value, (int, float)) and not isinstance(value, bool)
                 and math.isfinite(value) and value > 0, name, "a positive finite number", value)


def _whole(value):
    return isinstance(value, int) and not isinstance(value, bool)


@dataclasses.dataclass(frozen=True)
class NeuronParameters:
    """The alpha neuron and its reference gradient semantics (see `spike_times`).

    The defaults (no clip, no penalty) give the exact gradient.
    """

    decay_rate: float
    threshold: float
    clip_derivative: float = math.inf
    penalty_no_spike: float = 0.0

    def __post_init__(self):
        _positive(self, "decay_rate", "threshold")
        _require(isinstance(self.clip_derivative, (int, float))
                 and not isinstance(self.clip_derivative, bool) and self.clip_derivative > 0,
                 "clip_derivative", "a positive number (inf: no clip)", self.clip_derivative)
        _require(math.isfinite(self.penalty_no_spike) and self.penalty_no_spike >= 0,
                 "penalty_no_spike", "a finite number >= 0", self.penalty_no_spike)


@dataclasses.dataclass(frozen=True)
class NetworkParameters:
    """Layer sizes, pulses and initial weights; `nonnegative_weights` is the ablation."""

    n_hidden: int
    n_pulses: int
    nonpulse_weight_mean_multiplier: float
    pulse_weight_mean_multiplier: float
    nonnegative_weights: bool = False

    def __post_init__(self):
        _require(_whole(self.n_hidden) and self.n_hidden >= 1, "n_hidden", "an integer >= 1",
                 self.n_hidden)
        _require(_whole(self.n_pulses) and self.n_pulses >= 1, "n_pulses", "an integer >= 1",
                 self.n_pulses)
        _require(isinstance(self.nonnegative_weights, bool), "nonnegative_weights",
                 "True or False", self.nonnegative_weights)
        for name in ("nonpulse_weight_mean_multiplier", "pulse_weight_mean_multiplier"):
            _require(math.isfinite(getattr(self, name)), name, "finite", getattr(self, name))


@dataclasses.dataclass(frozen=True)
class OptimizerParameters:
    """Adam (epsilon inside the root) on the weights, a second one on the pulse times."""

    learning_rate: float
    learning_rate_pulses: float
    batch_size: int

    def __post_init__(self):
        _positive(self, "learning_rate", "learning_rate_pulses")
        _require(_whole(self.batch_size) and self.batch_size >= 1, "batch_size",
                 "an integer >= 1", self.batch_size)


@dataclasses.dataclass(frozen=True)
class DataParameters:
    """Which images, how noisy, and how many of each split (None: the whole split)."""

    dataset: str = "mnist"
    noise: float = 0.0
    split_seed: int = 0
    train_examples: int | None = None
    validation_examples: int | None = None
    test_examples: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "dataset", canonical_name(self.dataset))
        _require(isinstance(self.noise, (int, float)) and 0.0 <= self.noise <= 1.0,
                 "noise", "in [0, 1]", self.noise)
        for name in ("train_examples", "validation_examples", "test_examples"):
            value = getattr(self, name)
            _require(value is None or (_whole(value) and value >= 1), name,
                     "an integer >= 1 or None (the whole split)", value)


@dataclasses.dataclass(frozen=True)
class Budget:
    """How long to train: at most `epochs`; stop early when validation stalls.

    With `patience` P, training stops once the validation error has not
    improved by a relative `min_delta` on its best for P epochs (None: never
    stop early).  `rule` says how "improved" is judged (`spikelib.stopping`):
    "each_epoch" compares every epoch with the best so far, so a curve
    falling by a little less than `min_delta` per epoch is stopped;
    "window" compares the best of the last P epochs with the best before
    them, so a run it stops is one `spikelib.convergence` calls flat.  With
    `plateau` p, epochs whose validation error is still at least p x the
    mean image's (the run has not left the mean-image plateau that the tuned
    rows sit on for up to 10 epochs) do not count towards P.  The
    best-validation model is the one tested either way.  (The conventional
    autoencoder always stops by the window.)
    """

    epochs: int = 100
    patience: int | None = None
    min_delta: float = 0.0
    plateau: float | None = None
    rule: str = "each_epoch"

    def __post_init__(self):
        _require(_whole(self.epochs) and self.epochs >= 1, "epochs", "an integer >= 1",
                 self.epochs)
        _require(self.patience is None or (_whole(self.patience) and self.patience >= 1),
                 "patience", "an integer >= 1 or None", self.patience)
        _require(math.isfinite(self.min_delta) and 0 <= self.min_delta < 1, "min_delta",
                 "in [0, 1)", self.min_delta)
        _require(self.plateau is None or (isinstance(self.plateau, (int, float))
                                          and 0 < self.plateau <= 1),
                 "plateau", "in (0, 1] or None", self.plateau)
        _require(self.rule in STOPPING_RULES, "rule", f"one of {STOPPING_RULES}", self.rule)


# Fields of a config group that enter a run's key only away from their default.
DIGEST_OMITS_DEFAULT = {"budget": {"rule": "each_epoch"}}

GROUPS = {"neuron": NeuronParameters, "network": NetworkParameters,
          "optimizer": OptimizerParameters, "data": DataParameters, "budget": Budget}
# Flat field name -> its group, for overrides such as replace(batch_size=7).
FIELD_GROUPS = {field.name: group for group, kind in GROUPS.items()
                for field in dataclasses.fields(kind)}
TOP_LEVEL = ("latency", "seed")


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Everything that determines one training run."""

    latency: float
    neuron: NeuronParameters
    network: NetworkParameters
    optimizer: OptimizerParameters
    data: DataParameters = DataParameters()
    budget: Budget = Budget()
    seed: int = 0

    def __post_init__(self):
        _require(isinstance(self.latency, (int, float)) and math.isfinite(self.latency)
                 and self.latency > 0, "latency", "a positive finite number", self.latency)
        object.__setattr__(self, "latency", float(self.latency))
        _require(_whole(self.seed) and self.seed >= 0, "seed", "an integer >= 0", self.seed)

    @classmethod
    def from_flat(cls, **fields):
        """A config from flat field names (`decay_rate=...`, `dataset=...`)."""
        unknown = set(fields) - set(FIELD_GROUPS) - set(TOP_LEVEL)
        if unknown:
            raise ValueError(f"unknown config fields: {sorted(unknown)}")
        groups = {group: {} for group in GROUPS}
        for name, value in fields.items():
            if name in FIELD_GROUPS:
                groups[FIELD_GROUPS[name]][name] = value
        built = {group: GROUPS[group](**values) for group, values in groups.items()
                 if values or group in ("data", "budget")}
        return cls(**built, **{name: fields[name] for name in TOP_LEVEL if name in fields})

    def replace(self, **changes):
        """A copy with flat fields changed, e.g. `replace(epochs=3, batch_size=7)`."""
        unknown = set(changes) - set(FIELD_GROUPS) - set(TOP_LEVEL)
        if unknown:
            raise ValueError(f"unknown config fields: {sorted(unknown)}")
        top = {name: changes[name] for name in TOP_LEVEL if name in changes}
        for group in GROUPS:
            mine = {name: value for name, value in changes.items()
                    if FIELD_GROUPS.get(name) == group}
            if mine:
                top[group] = dataclasses.replace(getattr(self, group), **mine)
        return dataclasses.replace(self, **top)

    def flat(self):
        """Every field under its flat name, for tables and command lines."""
        values = {name: getattr(self, name) for name in TOP_LEVEL}
        for group in GROUPS:
            values.update(dataclasses.asdict(getattr(self, group)))
        return values

    def to_dict(self):
        return dataclasses.asdict(self)

    def to_json(self):
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, values):
        """Inverse of `to_dict` (grouped); flat dicts are accepted too."""
        if not any(isinstance(value, dict) for value in values.values()):
            return cls.from_flat(**values)
        groups = {group: GROUPS[group](**values[group]) for group in GROUPS if group in values}
        return cls(**groups, **{name: values[name] for name in TOP_LEVEL if name in values})

    def digest(self):
        """Short hash identifying the run's config.

        Fields added after runs were keyed (`DIGEST_OMITS_DEFAULT`) enter it
        only when they differ from their default, so that adding one keeps
        every existing key.
        """
        return hashlib.sha256(json.dumps(self.keyed(), sort_keys=True).encode()).hexdigest()[:16]

    def keyed(self):
        """`to_dict` without the fields at their default that the key omits: what older
        code that lacks those fields reads as this config."""
        values = self.to_dict()
        for group, defaults in DIGEST_OMITS_DEFAULT.items():
            for name, default in defaults.items():
                if values[group][name] == default:
                    del values[group][name]
        return values


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
    """RunConfig from the tuned row (noise, latency, n_hidden), then flat overrides."""
    row = grid_row(noise, latency, n_hidden)
    row["latency"] = float(row["latency"])
    row["noise"] = float(row["noise"])
    for name in ("clip_derivative", "penalty_no_spike", "learning_rate", "learning_rate_pulses",
                 "decay_rate", "threshold", "nonpulse_weight_mean_multiplier",
                 "pulse_weight_mean_multiplier"):
        row[name] = float(row[name])
    config = RunConfig.from_flat(**row)
    return config.replace(**overrides) if overrides else config


__all__ = ["RunConfig", "NeuronParameters", "NetworkParameters", "OptimizerParameters",
           "DataParameters", "Budget", "paper_grid", "grid_row", "paper_config", "DATASETS",
           "NOISE_LEVELS", "LATENCIES", "HIDDEN_SIZES"]

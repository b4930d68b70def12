"""Several runs of the same shapes trained in one compiled step (JAX).

One run of a tuned row cannot fill a wide machine: a step is a few dozen
small kernels on a batch of 5-7 examples.  Runs whose models and batches
have the same shapes (the seeds of one row, or rows of one embedding size
and batch size) can share a step: their weights, optimizer states and
batches are stacked on a leading *member* axis and the step of
`training_jax.ChunkTrainer` is `jax.vmap`ped over it.  Each member keeps
its own initial weights, shuffling and early stopping; a member that has
stopped is carried along and its new values are dropped, so the group
compiles once.

Only under `KERAS_BACKEND=jax`.  `fit_many` is `training.fit` for a group;
the runner groups a plan's runs that differ only in their seed
(`runner.run_plan(group=N)`).  On this CPU a member's weights, validation
and test errors equal those of the run trained alone, bit for bit; its
training error, summed inside the vmapped step, to float32 rounding
(`tests/test_backends.py`).
"""

import math
import time

import jax
import numpy as np

from spikelib.stopping import epochs_without_improvement
from spikelib.training import (Trainer, TrainingState, _pad, _stop_reason, evaluate,
                               evaluation_events, plateau_error)
from spikelib.training_jax import _assign, _values


class ManyTrainer:
    """The chunk step of several `Trainer`s of one shape, vmapped and compiled once."""

    def __init__(self, trainers):
        shapes = {tuple(tuple(v.shape) for v in t.model.weights) + (t.batch_size,)
                  for t in trainers}
        if len(shapes) != 1:
            raise ValueError("runs trained in one step need the same shapes and batch size, "
                             f"got {len(shapes)} different ones")
        self.trainers = trainers
        self._compiled = jax.jit(jax.vmap(trainers[0]._chunk.chunk,
                                          in_axes=(0, 0, 0, 0, 0, 0, None)))

    @staticmethod
    def _state(trainer):
        chunk = trainer._chunk
        return (_values(chunk.variables),
                tuple(_values(optimizer.variables) for optimizer in chunk.optimizers))

    def __call__(self, arrays, n_steps, active):
        """One chunk for every member: `arrays` (times, rows, clean, weights), each
        stacked (members, steps, batch, ...); members not `active` keep their values.
        Returns the summed training error per member."""
        states = [self._state(trainer) for trainer in self.trainers]
        stacked = jax.tree_util.tree_map(lambda *leaves: np.stack(leaves), *states)
        values, optimizer_states, errors = self._compiled(stacked[0], stacked[1], *arrays,
                                                          np.int32(n_steps))
        for member, trainer in enumerate(self.trainers):
            if not active[member]:
                continue
            chunk = trainer._chunk
            _assign(chunk.variables, [value[member] for value in values])
            for optimizer, state in zip(chunk.optimizers, optimizer_states):
                _assign(optimizer.variables, [value[member] for value in state])
        return [float(np.sum(member)) for member in np.asarray(errors, np.float64)]

    def tracing_count(self):
        return self._compiled._cache_size()


def _train_epoch(many, events, clean_times, rngs, active):
    """One epoch of every member in its own random order; mean training error per member."""
    trainers = many.trainers
    plans = [trainer._chunks(rng.permutation(len(clean_times))) for trainer, rng
             in zip(trainers, rngs)]
    steps = plans[0][1]
    totals, count = np.zeros(len(trainers)), 0
    for index in range(len(plans[0][0])):
        chunks = [plan[0][index] for plan in plans]
        padded = [_pad(chunk, steps) for chunk, _ in chunks]
        arrays = (np.stack([events.times[p] for p in padded]),
                  np.stack([events.rows[p] for p in padded]),
                  np.stack([clean_times[p] for p in padded]),
                  np.stack([weights for _, weights in chunks]))
        totals += many(arrays, len(chunks[0][0]), active)
        count += int(chunks[0][1].sum())
    return totals / max(count, 1)


def fit_many(models, configs, data, on_epoch=None):
    """Train `models` (one per config, same shapes) as their budgets say, in one step.

    Like `training.fit`: each keeps its best-validation weights and stops by
    its own rule; `on_epoch(member, state)` gets each member's
    `TrainingState` after each of its epochs (to checkpoint it: a member
    resumes alone, with `fit`).  Returns [(history, stop reason)] in the
    order of `models`.
    """
    trainers = [Trainer(model, config) for model, config in zip(models, configs)]
    many = ManyTrainer(trainers)
    rngs = [np.random.default_rng(config.seed) for config in configs]
    validation_events, test_events = evaluation_events(data)
    events = trainers[0]._events(data.train_inputs)
    members = [dict(history=[], best=None, best_error=math.inf, since=0, reason=None)
               for _ in models]
    epoch = 1
    while any(member["reason"] is None for member in members):
        active = [member["reason"] is None for member in members]
        started = time.perf_counter()
        train_errors = _train_epoch(many, events, data.train_clean, rngs, active)
        train_seconds = time.perf_counter() - started
        for index, (trainer, config, member, rng) in enumerate(zip(trainers, configs, members,
                                                                  rngs)):
            if not active[index]:
                continue
            _after_epoch(trainer.model, config, member, data, epoch,
                         float(train_errors[index]), train_seconds, validation_events,
                         test_events)
            if on_epoch is not None:
                on_epoch(index, TrainingState(
                    epoch, member["history"], [w.numpy() for w in trainer.model.weights],
                    trainer.optimizer_state(), rng.bit_generator.state, member["best"],
                    member["best_error"], member["since"], member["reason"]))
        epoch += 1
    for model, member in zip(models, members):
        if member["best"] is not None:
            _assign(model.weights, member["best"])
    return [(member["history"], member["reason"]) for member in members]


def _after_epoch(model, config, member, data, epoch, train_error, train_seconds,
                 validation_events, test_events):
    """Evaluate one member after an epoch, keep its best weights, judge its stop."""
    budget = config.budget
    started = time.perf_counter()
    validation = float(np.mean(evaluate(model, validation_events, data.validation_clean,
                                        config.latency)))
    test = float(np.mean(evaluate(model, test_events, data.test_clean, config.latency)))
    plateau = plateau_error(budget, data)
    record = dict(epoch=epoch, train_mse=train_error, validation_mse=validation,
                  test_mse=test, train_seconds=train_seconds,
                  evaluation_seconds=time.perf_counter() - started,
                  train_examples_per_second=len(data.train_inputs) / train_seconds,
                  on_plateau=plateau is not None and validation >= plateau)
    member["since"] = epochs_without_improvement(validation, member["best_error"],
                                                 member["since"], budget.min_delta, plateau)
    if validation < member["best_error"]:
        member["best_error"] = validation
        member["best"] = [w.numpy() for w in model.weights]
        record["best"] = True
    member["history"].append(record)
    member["reason"] = _stop_reason(budget, epoch, member["since"], member["history"])


def train_and_test_many(configs, data, on_epoch=None):
    """Spiking runs of one shape trained together; [(model, results dict)] as
    `experiment.train_and_test` returns for each alone."""
    import keras

    from spikelib.autoencoder import SpikingAutoencoder
    from spikelib.experiment import sae_results
    models = []
    for config in configs:
        keras.utils.set_random_seed(config.seed)
        models.append(SpikingAutoencoder.from_run_config(config))
    started = time.perf_counter()
    outcomes = fit_many(models, configs, data, on_epoch)
    seconds = time.perf_counter() - started
    return [(model, sae_results(model, config, data, history, reason, seconds))
            for model, config, (history, reason) in zip(models, configs, outcomes)]

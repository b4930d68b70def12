"""Runs, the plan, the store and resumable training: the guarantees the runner relies on."""

import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from spikelib.config import paper_config
from spikelib.experiment import health, prepare_data, train_and_test
from spikelib.runs import TRAINING_CODE, Run, code_digest, unique
from spikelib.store import MARKER, Store
from spikelib.stopping import epochs_without_improvement, replay

PACKAGE = Path(__file__).resolve().parent.parent / "spikelib"


def _tiny(**changes):
    budget = dict(epochs=3, train_examples=300, validation_examples=100, test_examples=100)
    return paper_config(0.0, 1, 8, **{**budget, **changes})


def _without_timing(history):
    return [{k: v for k, v in record.items() if "seconds" not in k and "per_second" not in k}
            for record in history]


def test_unique_merges_runs_with_one_key():
    a, b = Run("sae", _tiny()), Run("sae", _tiny(seed=1))
    merged = unique([a, b, Run("sae", _tiny()), Run("ann", _tiny())])
    assert [run.key for run in merged] == [a.key, b.key, Run("ann", _tiny()).key]


def test_every_profile_plan_has_one_run_per_key():
    from spikelib.sections import plan
    for profile in ("ci", "quick", "verify", "book", "grid", "paper"):
        runs = plan(profile)
        assert runs and len({run.key for run in runs}) == len(runs)


def _package_copy(tmp_path):
    copy = tmp_path / "spikelib"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def test_code_digest_ignores_plotting_claims_and_sections(tmp_path):
    copy = _package_copy(tmp_path)
    before = {kind: code_digest(kind, copy) for kind in TRAINING_CODE}
    for name in ("plotting.py", "claims.py", "runner.py", "sections/__init__.py"):
        with open(copy / name, "a") as handle:
            handle.write("\n# a reworded caption\n")
    code_digest.cache_clear()
    assert {kind: code_digest(kind, copy) for kind in TRAINING_CODE} == before
    assert {"neuron", "training", "config", "baselines", "stopping"} <= set(TRAINING_CODE["sae"])


def test_each_model_keys_only_its_own_training_code(tmp_path):
    copy = _package_copy(tmp_path)

    def digests_after_changing(name):
        with open(copy / name, "a") as handle:
            handle.write("\nCHANGED = 1\n")
        code_digest.cache_clear()
        return {kind: code_digest(kind, copy) for kind in TRAINING_CODE}

    before = {kind: code_digest(kind, copy) for kind in TRAINING_CODE}
    conventional = digests_after_changing("conventional.py")
    assert conventional["sae"] == before["sae"] and conventional["ann"] != before["ann"]
    neuron = digests_after_changing("neuron.py")
    assert neuron["sae"] != conventional["sae"] and neuron["ann"] == conventional["ann"]
    stopping = digests_after_changing("stopping.py")
    assert stopping["sae"] != neuron["sae"] and stopping["ann"] != neuron["ann"]
    code_digest.cache_clear()


class _Model:
    """Stands in for a Keras model: save_weights writes a file."""

    def __init__(self, payload="weights"):
        self.payload = payload

    def save_weights(self, path):
        Path(path).write_text(self.payload)


def test_a_folder_without_its_marker_is_never_read(tmp_path):
    store, run = Store(tmp_path), Run("sae", _tiny())
    folder = store.folder(run)
    folder.mkdir(parents=True)
    (folder / "results.json").write_text('{"test_mse": 0.5')  # half-written
    assert not store.is_done(run)
    with pytest.raises(FileNotFoundError, match="not finished"):
        store.results(run)
    store.write(run, {"test_mse": 0.1}, _Model())
    assert store.is_done(run) and store.results(run) == {"test_mse": 0.1}
    assert not list(folder.parent.glob(".tmp-*"))


def test_two_writers_racing_on_one_key_leave_one_intact_copy(tmp_path):
    store, run = Store(tmp_path), Run("sae", _tiny())
    store.write(run, {"test_mse": 0.1, "writer": 1}, _Model("first"))
    store.write(run, {"test_mse": 0.1, "writer": 2}, _Model("second"))
    assert store.results(run)["writer"] == 1
    assert (store.folder(run) / "model.weights.h5").read_text() == "first"
    assert not list(store.folder(run).parent.glob(".tmp-*"))


@pytest.mark.parametrize("kind", ["sae", "ann"])
def test_a_stored_model_reloads_with_its_trained_weights(tmp_path, kind):
    from spikelib.baselines import mse
    from spikelib.encoding import as_values
    from spikelib.experiment import train_and_test_conventional
    from spikelib.training import evaluate
    config = _tiny(epochs=1)
    data = prepare_data(config)
    train = train_and_test if kind == "sae" else train_and_test_conventional
    model, results = train(config, data, progress=False)
    store, run = Store(tmp_path), Run(kind, config)
    store.write(run, results, model)
    loaded = store.model(run)
    if kind == "sae":
        error = evaluate(loaded, data.test_inputs, data.test_clean, config.latency).mean()
    else:
        error = mse(loaded.predict(as_values(data.test_inputs), verbose=0), data.test_clean).mean()
    assert float(error) == pytest.approx(results["test_mse"], rel=1e-5)
    for trained, reloaded in zip(model.weights, loaded.weights, strict=True):
        np.testing.assert_array_equal(trained.numpy(), reloaded.numpy())


def test_results_with_nan_are_refused(tmp_path):
    store, run = Store(tmp_path), Run("sae", _tiny())
    with pytest.raises(ValueError):
        store.write(run, {"test_mse": float("nan")}, _Model())
    assert not store.is_done(run) and not list(store.folder(run).parent.glob(".tmp-*"))


class _Killed(Exception):
    pass


def test_resume_from_a_checkpoint_gives_the_uninterrupted_run(tmp_path):
    config = _tiny()
    data = prepare_data(config)
    reference_model, reference = train_and_test(config, data, progress=False)

    store, run = Store(tmp_path), Run("sae", config)

    def save_then_die(state):
        store.save_checkpoint(run, state)
        if state.epoch == 2:
            raise _Killed

    with pytest.raises(_Killed):
        train_and_test(config, data, progress=False, on_epoch=save_then_die)
    state = store.load_checkpoint(run)
    assert state.epoch == 2 and [p.name for p in store.checkpoint_folder(run).iterdir()] == [
        "epoch-0002"]
    model, resumed = train_and_test(config, data, progress=False, state=state)
    assert _without_timing(resumed["history"]) == _without_timing(reference["history"])
    assert resumed["test_mse"] == reference["test_mse"]
    for mine, theirs in zip(model.weights, reference_model.weights):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())


def _assert_arrays_equal(mine, theirs):
    assert len(mine) == len(theirs)
    for a, b in zip(mine, theirs):
        assert np.asarray(a).dtype == np.asarray(b).dtype
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("has_best", [True, False])
def test_a_checkpoint_round_trip_keeps_every_field(tmp_path, has_best):
    """Saved and loaded by the store, a state comes back field for field: the
    weights, best weights and both optimizers' variables with their dtypes,
    the random generator (it draws on as before), history and counters."""
    from spikelib.autoencoder import SpikingAutoencoder
    from spikelib.training import Trainer, TrainingState
    config = _tiny()
    model = SpikingAutoencoder.from_run_config(config)
    trainer = Trainer(model, config)
    noise = np.random.default_rng(5)
    trainer.restore_optimizer_state([[noise.uniform(1, 9, v.shape).astype(v.dtype) for v in values]
                                     for values in trainer.optimizer_state()])
    rng = np.random.default_rng(config.seed)
    rng.permutation(300)
    weights = [w.numpy() for w in model.weights]
    history = [dict(epoch=1, validation_mse=0.1 / 3, on_plateau=False, best=True),
               dict(epoch=2, validation_mse=0.2 / 3, on_plateau=True)]
    state = TrainingState(3, history, weights, trainer.optimizer_state(), rng.bit_generator.state,
                          [2 * w for w in weights] if has_best else None,
                          0.1 / 3 if has_best else float("inf"), 2,
                          "patience" if has_best else None)
    store, run = Store(tmp_path), Run("sae", config)
    store.save_checkpoint(run, state)
    loaded = store.load_checkpoint(run)
    assert store.checkpoint_epoch(run) == 3
    for name in ("epoch", "history", "rng_state", "best_error", "since_improvement",
                 "stop_reason"):
        assert getattr(loaded, name) == getattr(state, name), name
    _assert_arrays_equal(loaded.weights, state.weights)
    assert (loaded.best_weights is None) == (not has_best)
    _assert_arrays_equal(loaded.best_weights or [], state.best_weights or [])
    restored = Trainer(SpikingAutoencoder.from_run_config(config), config)
    restored.restore_optimizer_state(loaded.optimizer_state)
    for mine, theirs in zip(restored.optimizer_state(), state.optimizer_state, strict=True):
        _assert_arrays_equal(mine, theirs)
    resumed = np.random.default_rng()
    resumed.bit_generator.state = loaded.rng_state
    np.testing.assert_array_equal(resumed.permutation(300), rng.permutation(300))


def test_a_checkpoint_folder_in_the_present_format_loads(tmp_path):
    """The files of a checkpoint as the store has written them since runs
    resume (arrays.npz, state.json, the marker), made here by hand, load as
    the state they hold; a newer folder without its marker is passed over."""
    store, run = Store(tmp_path), Run("sae", _tiny())
    folder = store.checkpoint_folder(run) / "epoch-0003"
    folder.mkdir(parents=True)
    weights = [np.arange(6, dtype=np.float32).reshape(2, 3), np.ones(2, np.float32)]
    optimizer = [[np.int64(4), np.full((2, 3), 0.5, np.float32)], [np.float32(0.25)]]
    np.savez(folder / "arrays.npz", weights_0=weights[0], weights_1=weights[1],
             best_0=-weights[0], best_1=-weights[1], optimizer0_0=optimizer[0][0],
             optimizer0_1=optimizer[0][1], optimizer1_0=optimizer[1][0])
    meta = dict(epoch=3, history=[{"epoch": 1, "validation_mse": 0.5}],
                rng_state=np.random.default_rng(0).bit_generator.state, best_error=0.25,
                since_improvement=1, stop_reason=None, has_best=True, n_weights=2,
                n_optimizer=[2, 1])
    (folder / "state.json").write_text(json.dumps(meta))
    (folder / MARKER).write_text("")
    (folder.parent / "epoch-0004").mkdir()
    state = store.load_checkpoint(run)
    assert store.checkpoint_epoch(run) == 3
    assert (state.epoch, state.history, state.rng_state, state.best_error,
            state.since_improvement, state.stop_reason) == (
        3, meta["history"], meta["rng_state"], 0.25, 1, None)
    _assert_arrays_equal(state.weights, weights)
    _assert_arrays_equal(state.best_weights, [-w for w in weights])
    for mine, theirs in zip(state.optimizer_state, optimizer, strict=True):
        _assert_arrays_equal(mine, theirs)


def test_a_run_without_a_checkpoint_starts_from_epoch_0(tmp_path):
    store, run = Store(tmp_path), Run("sae", _tiny())
    assert store.load_checkpoint(run) is None and store.checkpoint_epoch(run) == 0


def test_early_stopping_records_where_and_why():
    config = _tiny(epochs=5, patience=1, min_delta=0.9)
    _, results = train_and_test(config, progress=False)
    assert results["epochs_run"] == 2 and results["stop_reason"] == "patience"
    _, full = train_and_test(_tiny(epochs=2), progress=False)
    assert full["epochs_run"] == 2 and full["stop_reason"] == "max_epochs"


def test_epochs_on_the_mean_image_plateau_do_not_count_towards_patience():
    # A measured curve (validation error per epoch) of the (0, 16, 32) row on
    # MNIST, which sits near the mean image's error (0.0639) for six epochs,
    # then two flat epochs appended.
    curve = [0.0960, 0.0685, 0.0644, 0.0642, 0.0645, 0.0640, 0.0640, 0.0640, 0.0617, 0.0552,
             0.0384, 0.0318, 0.0317, 0.0316]

    def stopped_at(plateau, patience=2, min_delta=0.02):
        return replay(curve, patience, min_delta, plateau)

    assert stopped_at(plateau=None) == 5
    assert stopped_at(plateau=0.9 * 0.0639) == 14
    assert stopped_at(plateau=0.9 * 0.0639, patience=3) is None


def test_replaying_the_rule_on_a_shipped_curve_gives_the_recorded_stop():
    shipped = sorted((Path(__file__).parent.parent / "shipped" / "runs").glob("*/results.json"))
    judged = 0
    for path in shipped:
        results = json.loads(path.read_text())
        budget = results["config"]["budget"]
        if budget["patience"] is None or "mean_image_mse" not in results:
            continue
        history = results["history"]
        # Training's plateau bar is the mean image's error on the validation
        # images; each epoch records whether it was on the plateau.
        plateau = None if budget["plateau"] is None else [
            record["on_plateau"] for record in history]
        validation = [record["validation_mse"] for record in history]
        stop = replay(validation, budget["patience"], budget["min_delta"], plateau,
                      budget.get("rule", "each_epoch"))
        expected = results["epochs_run"] if results["stop_reason"] == "patience" else None
        assert stop == expected, (path.parent.name, stop, results["epochs_run"])
        judged += 1
    assert judged >= 10


def test_a_run_records_its_epochs_on_the_plateau():
    config = _tiny(epochs=2, patience=1, min_delta=0.9, plateau=1.0)
    data = prepare_data(config)
    mean_image = float(np.mean((data.validation_clean.clip(max=1.0)
                                - data.train_clean.clip(max=1.0).mean(axis=0)) ** 2))
    _, on = train_and_test(config, data, progress=False)
    _, off = train_and_test(config.replace(plateau=None), data, progress=False)
    assert all(not record["on_plateau"] for record in off["history"])
    assert off["stop_reason"] == "patience" and off["epochs_run"] == 2
    for record in on["history"]:
        assert record["on_plateau"] == (record["validation_mse"] >= mean_image * (1 - 1e-6))


def test_the_book_profile_sweeps_on_mnist_and_ablates_the_extreme_latencies():
    from spikelib.profiles import get_profile
    from spikelib.sections import fidelity, inhibition, latencies, noise
    book = get_profile("book")
    for section in (latencies, noise, inhibition):
        assert {run.config.data.dataset for run in section.runs(book)} == {"mnist"}
    ablations = [run for run in inhibition.runs(book) if run.config.network.nonnegative_weights]
    assert sorted({run.config.latency for run in ablations}) == [1.0, 16.0]
    assert {run.config.seed for run in fidelity.runs(book)} == {0}
    assert all(run.config.budget.plateau == 0.9 for run in latencies.runs(book))


def test_an_epoch_with_a_partial_batch_compiles_the_training_step_once():
    from spikelib.autoencoder import SpikingAutoencoder
    from spikelib.training import Trainer
    config = _tiny()
    assert config.data.train_examples % config.optimizer.batch_size != 0
    data = prepare_data(config)
    trainer = Trainer(SpikingAutoencoder.from_run_config(config), config)
    trainer.train_epoch(data.train_inputs, data.train_clean, np.random.default_rng(0))
    assert trainer._chunk.tracing_count() == 1


def test_an_epoch_counts_every_example_once():
    """The progress bar and the epoch's mean error count each training example
    once, however short the last chunk of batches is (formerly padded batches
    counted too)."""
    from spikelib.autoencoder import SpikingAutoencoder
    from spikelib.training import Trainer

    class Counter:
        total = 0

        def update(self, n):
            self.total += n

    config = _tiny()
    data = prepare_data(config)
    trainer = Trainer(SpikingAutoencoder.from_run_config(config), config)
    counter = Counter()
    trainer.train_epoch(data.train_inputs, data.train_clean, np.random.default_rng(0), counter)
    assert counter.total == len(data.train_inputs)


def test_padding_a_partial_batch_does_not_change_its_loss():
    from spikelib.loss import training_loss
    rng = np.random.default_rng(0)
    outputs = rng.uniform(1, 2, (5, 784)).astype(np.float32)
    clean = rng.uniform(0, 1, (5, 784)).astype(np.float32)
    padded = np.concatenate([outputs, outputs[-1:].repeat(2, 0)])
    clean_padded = np.concatenate([clean, clean[-1:].repeat(2, 0)])
    weights = np.array([1, 1, 1, 1, 1, 0, 0], np.float32)
    expected = np.mean(0.5 * np.sum((outputs - 1.0 - clean) ** 2, axis=1))
    assert float(training_loss(padded, clean_padded, 1.0, weights)) == pytest.approx(expected,
                                                                                      rel=1e-6)


def test_health_flags_dead_and_input_blind_networks():
    fired = np.array([[0.5, 1.0], [0.7, 1.2]])
    assert health(fired, fired)["health"] == "ok"
    assert health(fired, np.full((2, 2), np.inf))["health"] == "dead"
    silent_hidden = np.full((2, 2), np.inf)
    assert health(silent_hidden, fired)["health"] == "input_blind"
    constant = np.array([[0.5, 1.0], [0.5, 1.0]])
    result = health(constant, fired)
    assert result["health"] == "input_blind" and result["silent_hidden_share"] == 0.0
    half = np.array([[0.5, np.inf], [0.7, np.inf]])
    assert health(half, fired)["silent_hidden_share"] == 0.5


def test_health_flags_a_reconstruction_no_better_than_the_mean_image():
    fired = np.array([[0.5, 1.0], [0.7, 1.2]])
    assert health(fired, fired, test_mse=0.02, mean_image_mse=0.067)["health"] == "ok"
    assert health(fired, fired, test_mse=279.0, mean_image_mse=0.067)["health"] == "off_target"
    assert health(fired, fired, test_mse=np.nan, mean_image_mse=0.067)["health"] == "off_target"


def test_an_unwritable_results_folder_is_a_clear_error(tmp_path):
    from spikelib.store import check_writable
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(PermissionError, match="SPIKELIB_RESULTS"):
        check_writable(blocker / "results")


def test_the_publishability_check_leaves_only_the_parent(tmp_path):
    from spikelib.store import check_publishable
    check_publishable(tmp_path / "a" / "b" / "run")
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == [Path("a"),
                                                                             Path("a/b")]
    (tmp_path / "file").write_text("")
    with pytest.raises(OSError):
        check_publishable(tmp_path / "file" / "run")


def test_a_worker_near_the_memory_map_limit_trains_in_fresh_processes(tmp_path):
    """With the threshold at 0, every run trains in its own child process, with
    the result it has in this process."""
    from spikelib.runner import run_plan

    runs = [Run("sae", _tiny(epochs=1, train_examples=60, validation_examples=20,
                             test_examples=20, seed=seed)) for seed in range(2)]
    summary = run_plan(runs, tmp_path, workers=1, progress=False, fresh_process_share=0.0)
    assert summary.ok and len(summary.finished) == 2
    store = Store(tmp_path)
    assert len({store.results(run)["pid"] for run in runs}) == 2
    _, here = train_and_test(runs[0].config, progress=False)
    assert (_without_timing(store.results(runs[0])["history"])
            == _without_timing(here["history"]))


def test_a_compile_near_the_memory_map_limit_is_refused(monkeypatch):
    """A clear error instead of a crash inside TensorFlow; no error below the limit."""
    import tensorflow as tf

    from spikelib import compiled

    function = compiled.Compiled(lambda x: x * 2.0)
    assert float(function(tf.constant(1.0))) == 2.0
    monkeypatch.setattr(compiled, "map_share", lambda: 0.97)
    assert float(function(tf.constant(2.0))) == 4.0  # traced already: nothing to compile
    with pytest.raises(RuntimeError, match="memory-map limit"):
        function(tf.constant([1.0, 2.0]))


def test_the_grid_profile_trains_every_tuned_row_on_both_data_sets_once():
    from spikelib.config import paper_grid
    from spikelib.profiles import get_profile
    from spikelib.sections import grid, latencies, noise, plan
    profile = get_profile("grid")
    spiking = [run for run in grid.runs(profile) if run.kind == "sae"]
    rows = {(r.config.data.dataset, r.config.data.noise, r.config.latency,
             r.config.network.n_hidden) for r in spiking}
    assert len(spiking) == len(rows) == 2 * len(paper_grid())
    assert all(r.config.budget.epochs == 100 and r.config.data.train_examples is None
               for r in spiking)
    keys = {run.key for run in plan(profile)}
    for section in (latencies, noise):
        assert {run.key for run in section.runs(profile)} <= {run.key for run in spiking}
    assert len(keys) == len(plan(profile))
    assert grid.runs(get_profile("book")) == [] and grid.runs(get_profile("ci")) == []


def test_the_grid_claims_stay_pending_until_every_run_of_their_section_is_done(
        tmp_path, monkeypatch):
    from types import SimpleNamespace

    from spikelib import claims, sections
    from spikelib.profiles import get_profile
    from spikelib.sections import grid
    monkeypatch.setenv("SPIKELIB_RESULTS", str(tmp_path))
    # Nothing shipped: the claims whose sections the repository ships whole get verdicts.
    monkeypatch.setattr("spikelib.shipped.adopt", lambda runs, store, folder=None: [])
    profile = get_profile("grid")
    rows = grid.claims_progress("grid")
    assert [row["claim"] for row in rows] == list(profile.shows_claims)
    for row in rows:
        planned = sections.section(row["section"]).runs(profile)
        assert row["planned"] == len(planned) and row["finished"] < row["planned"]
        assert row["verdict"] == "pending"
    monkeypatch.setattr(sections.Store, "is_done", lambda store, run: True)
    monkeypatch.setattr(sections, "load", lambda *args, **kwargs: None)
    monkeypatch.setattr(claims, "check", lambda claim, profile: SimpleNamespace(
        status="FAIL", figures={"ratio": "1.5"}, caveats=("A caveat.",)))
    rows = grid.claims_progress("grid")
    assert {row["verdict"] for row in rows} == {"FAIL"}
    assert {row["figures"] for row in rows} == {"ratio: 1.5. A caveat."}


def test_the_checkpoint_epoch_reads_zero_while_the_run_is_published(tmp_path):
    """Publishing a run removes its checkpoints while the runner's progress
    bar may be listing them: a folder that vanishes mid-listing reads as none."""
    store, run = Store(tmp_path), Run("sae", _tiny())
    folder = store.checkpoint_folder(run)
    stop = threading.Event()

    def churn():
        while not stop.is_set():
            for epoch in range(1, 4):
                (folder / f"epoch-{epoch:04d}").mkdir(parents=True, exist_ok=True)
                (folder / f"epoch-{epoch:04d}" / MARKER).write_text("")
            shutil.rmtree(folder, ignore_errors=True)

    worker = threading.Thread(target=churn)
    worker.start()
    try:
        seen = {store.checkpoint_epoch(run) for _ in range(20000)}
    finally:
        stop.set()
        worker.join()
    assert seen <= {0, 1, 2, 3} and 0 in seen

"""The engine under TensorFlow and under JAX: same maths, separate runs.

Keras fixes its backend when it is imported, so each backend trains in a
process of its own; both start from the same initial weights.
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from spikelib.runs import TRAINING_CODE, code_digest

pytest.importorskip("jax")

_TRAIN_ONE_EPOCH = textwrap.dedent("""
    import json, sys
    import numpy as np
    from spikelib.autoencoder import SpikingAutoencoder
    from spikelib.config import paper_config
    from spikelib.experiment import prepare_data
    from spikelib.training import Trainer, evaluate

    initial, out = sys.argv[1], sys.argv[2]
    config = paper_config(0.2, 2, 16, train_examples=100, validation_examples=10,
                          test_examples=40)
    model = SpikingAutoencoder.from_run_config(config)
    try:
        weights = np.load(initial)
        for index, variable in enumerate(model.weights):
            variable.assign(weights[f"w{index}"])
    except FileNotFoundError:
        np.savez(initial, **{f"w{i}": v.numpy() for i, v in enumerate(model.weights)})
    data = prepare_data(config)
    trainer = Trainer(model, config)
    train_error = trainer.train_epoch(data.train_inputs, data.train_clean,
                                      np.random.default_rng(0))
    test = evaluate(model, data.test_inputs, data.test_clean, config.latency)
    np.savez(out, test=test, **{f"w{i}": v.numpy() for i, v in enumerate(model.weights)},
             **{f"o{i}": v.numpy() for i, v in enumerate(trainer.weights_optimizer.variables)},
             **{f"p{i}": v.numpy() for i, v in enumerate(trainer.pulses_optimizer.variables)})
    print(json.dumps(dict(train_error=train_error, traces=trainer._chunk.tracing_count())))
""")


def _train_under(backend, initial, out):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-c", _TRAIN_ONE_EPOCH, str(initial), str(out)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), np.load(out)


@pytest.fixture(scope="module")
def one_epoch_each(tmp_path_factory):
    """One epoch (5 Adam steps of 23 examples, the last partial) of a row whose
    layers both fire from the start under each backend."""
    folder = tmp_path_factory.mktemp("backends")
    initial = folder / "initial.npz"
    trained = {backend: _train_under(backend, initial, folder / f"{backend}.npz")
               for backend in ("tensorflow", "jax")}
    return trained, np.load(initial)


def test_an_epoch_under_jax_equals_one_under_tensorflow(one_epoch_each):
    """Same initial weights and batches: the weights after 5 Adam steps, both
    optimizers' moments and the test errors agree to float32 rounding
    (measured: 3e-7 of each array's largest value)."""
    trained, initial = one_epoch_each
    (tf_info, tf_out), (jax_info, jax_out) = trained["tensorflow"], trained["jax"]
    for name in initial.files:
        assert not np.array_equal(tf_out[name], initial[name]), f"{name} did not train"
    for name in tf_out.files:
        scale = max(np.abs(tf_out[name]).max(), 1e-30)
        assert np.abs(jax_out[name] - tf_out[name]).max() <= 1e-5 * scale, name
    assert jax_info["train_error"] == pytest.approx(tf_info["train_error"], rel=1e-5)


def test_each_backend_compiles_the_training_loop_once_per_epoch(one_epoch_each):
    trained, _ = one_epoch_each
    assert {backend: info["traces"] for backend, (info, _) in trained.items()} == {
        "tensorflow": 1, "jax": 1}


def test_a_run_trained_under_jax_has_a_key_of_its_own(tmp_path):
    """The backend and its own loop code enter the digest; TensorFlow's does not read them."""
    package = tmp_path / "spikelib"
    shutil.copytree(os.path.dirname(__import__("spikelib").__file__), package)
    code_digest.cache_clear()
    before = {backend: code_digest("sae", package, backend) for backend in ("tensorflow", "jax")}
    assert before["tensorflow"] != before["jax"]
    assert code_digest("ann", package, "tensorflow") != code_digest("ann", package, "jax")
    with open(package / "training_jax.py", "a") as module:
        module.write("\n# changed\n")
    code_digest.cache_clear()
    assert code_digest("sae", package, "tensorflow") == before["tensorflow"]
    assert code_digest("sae", package, "jax") != before["jax"]
    code_digest.cache_clear()
    assert "training_jax" not in TRAINING_CODE["sae"]


_PLAN_AND_RESUME = textwrap.dedent("""
    import json, sys
    import numpy as np
    from spikelib.config import paper_config
    from spikelib.experiment import prepare_data, train_and_test
    from spikelib.runner import run_plan
    from spikelib.runs import Run
    from spikelib.store import Store

    root = sys.argv[1]
    config = paper_config(0.2, 2, 16, epochs=3, train_examples=120, validation_examples=40,
                          test_examples=40)
    runs = [Run("sae", config), Run("ann", config.replace(epochs=2))]
    summary = run_plan(runs, root, workers=1, progress=False, shipped=False)
    store = Store(root)
    results = {run.kind: store.results(run) for run in runs}

    class Killed(Exception):
        pass

    def save_then_die(state):
        store.save_checkpoint(runs[0], state)
        if state.epoch == 2:
            raise Killed

    data = prepare_data(config)
    try:
        train_and_test(config, data, progress=False, on_epoch=save_then_die)
    except Killed:
        pass
    _, resumed = train_and_test(config, data, progress=False,
                                state=store.load_checkpoint(runs[0]))
    untimed = lambda history: [{k: v for k, v in r.items()
                                if "second" not in k and k != "train_mse"} for r in history]
    print(json.dumps(dict(
        ok=summary.ok, keys=[run.key for run in runs],
        backends=[r["versions"].get("keras_backend") for r in results.values()],
        test_mse={kind: r["test_mse"] for kind, r in results.items()},
        resumed_equal=untimed(resumed["history"]) == untimed(results["sae"]["history"])
        and resumed["test_mse"] == results["sae"]["test_mse"])))
""")


def test_under_jax_the_runner_trains_a_plan_and_a_killed_run_resumes_exactly(tmp_path):
    """A plan of a spiking and a conventional run on a Dask worker under JAX,
    with keys of their own; a run killed after epoch 2 and resumed from its
    checkpoint ends as the uninterrupted run of the plan did."""
    env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-c", _PLAN_AND_RESUME, str(tmp_path / "results")],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["ok"] and report["backends"] == ["jax", "jax"]
    assert all(np.isfinite(value) for value in report["test_mse"].values())
    assert report["resumed_equal"]
    code_digest.cache_clear()
    assert [key.rsplit("-", 1)[1] for key in report["keys"]] == [
        code_digest("sae", backend="jax"), code_digest("ann", backend="jax")]
    assert code_digest("sae", backend="jax") != code_digest("sae", backend="tensorflow")


_GROUPED = textwrap.dedent("""
    import json, sys
    from spikelib.config import paper_config
    from spikelib.runner import run_plan
    from spikelib.runs import Run
    from spikelib.store import Store

    root = sys.argv[1]
    config = paper_config(0.0, 1, 8, epochs=3, patience=1, min_delta=0.3,
                          train_examples=150, validation_examples=40, test_examples=40)
    runs = [Run("sae", config.replace(seed=seed)) for seed in range(2)]
    untimed = lambda history: [{k: v for k, v in r.items()
                                if "second" not in k and k != "train_mse"} for r in history]
    report = {}
    for group in (2, 1):
        summary = run_plan(runs, f"{root}/{group}", workers=1, progress=False, shipped=False,
                           group=group)
        results = [Store(f"{root}/{group}").results(run) for run in runs]
        report[group] = dict(ok=summary.ok, groups=[r.get("group", 1) for r in results],
                             histories=[untimed(r["history"]) for r in results],
                             train=[[h["train_mse"] for h in r["history"]] for r in results],
                             test_mse=[r["test_mse"] for r in results],
                             stops=[r["stop_reason"] for r in results])
    print(json.dumps(report))
""")


def test_under_jax_seeds_of_a_row_train_in_one_step_as_they_train_alone(tmp_path):
    """Two seeds of a row through the runner in one group and one by one: the same
    validation and test errors per epoch, stops and final test errors, bit for bit;
    the training error, summed inside the vmapped step, to float32 rounding."""
    env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-c", _GROUPED, str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    grouped, alone = report["2"], report["1"]
    assert grouped["ok"] and alone["ok"]
    assert grouped["groups"] == [2, 2] and alone["groups"] == [1, 1]
    for name in ("histories", "test_mse", "stops"):
        assert grouped[name] == alone[name], name
    for mine, theirs in zip(grouped["train"], alone["train"]):
        np.testing.assert_allclose(mine, theirs, rtol=1e-6)


def test_groups_need_jax(tmp_path):
    from spikelib.config import paper_config
    from spikelib.runner import run_plan
    from spikelib.runs import Run
    runs = [Run("sae", paper_config(0.0, 1, 8, epochs=1, seed=seed)) for seed in range(2)]
    with pytest.raises(ValueError, match="KERAS_BACKEND=jax"):
        run_plan(runs, tmp_path, group=2, shipped=False)


def test_only_seeds_of_one_spiking_row_share_a_group():
    from spikelib.config import paper_config
    from spikelib.runner import groups
    from spikelib.runs import Run
    row = paper_config(0.0, 1, 8, epochs=2)
    seeds = [Run("sae", row.replace(seed=seed)) for seed in range(5)]
    other_row = Run("sae", paper_config(0.2, 1, 8, epochs=2))
    conventional = [Run("ann", row.replace(seed=seed)) for seed in range(2)]
    found = groups(seeds + [other_row] + conventional, 2)
    assert [len(members) for members in found] == [2, 2, 1, 1, 1, 1]
    assert found[:3] == [seeds[:2], seeds[2:4], seeds[4:]]
    assert groups(seeds, 1) == [[run] for run in seeds]


def test_under_jax_a_notebook_or_a_worker_does_not_import_tensorflow():
    code = textwrap.dedent("""
        import sys
        from spikelib.quiet import quiet_notebook
        from spikelib.runner import configure_threads
        assert quiet_notebook() is None
        assert configure_threads(1) == 1
        import keras
        assert keras.backend.backend() == "jax"
        assert "tensorflow" not in sys.modules
    """)
    env = dict(os.environ, KERAS_BACKEND="jax")
    subprocess.run([sys.executable, "-c", code], check=True, env=env)

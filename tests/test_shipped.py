"""Shipped runs: used only where they match the code, and proven by re-deriving them."""

import json

import pytest

from spikelib import shipped
from spikelib.config import paper_config
from spikelib.machine import environment
from spikelib.runner import configure_threads, execute, run_plan
from spikelib.runs import Run
from spikelib.store import Store


def _tiny(**changes):
    budget = dict(epochs=2, train_examples=200, validation_examples=100, test_examples=100,
                  batch_size=20)
    return paper_config(0.0, 1, 8, **{**budget, **changes})


@pytest.fixture(scope="module", autouse=True)
def first_epochs_once():
    """Each run's first epoch is re-derived once in this module (about 15 s each), then
    reused: these tests check what the proof does with the numbers; that the derivation
    itself is exact is checked by its first call here and by `make shipped-proof`."""
    derived, derive = {}, shipped._first_epoch

    def once(run):
        if run.key not in derived:
            derived[run.key] = derive(run)
        return dict(derived[run.key])

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(shipped, "_first_epoch", once)
        yield


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """Two finished runs (spiking and conventional), shipped into a folder of their own."""
    configure_threads(1)
    root = tmp_path_factory.mktemp("made")
    runs = [Run("sae", _tiny()), Run("ann", _tiny())]
    for run in runs:
        execute(run, str(root))
    folder = tmp_path_factory.mktemp("shipped")
    shipped.ship(runs, Store(root), folder)
    return runs, root, folder


def _copy(made, tmp_path):
    import shutil
    runs, _, folder = made
    copy = tmp_path / "shipped"
    shutil.copytree(folder, copy)
    return runs, copy


def test_a_plan_copies_shipped_runs_and_trains_nothing(made, tmp_path):
    runs, root, folder = made
    assert shipped.shipped_for(runs, folder) == runs
    store = Store(tmp_path / "fresh")
    adopted = shipped.adopt(runs, store, folder)
    assert adopted == runs and all(store.is_done(run) and store.is_shipped(run) for run in runs)
    assert shipped.summary(folder) == dict(runs=2, usable=2, mib=pytest.approx(
        shipped.summary(folder)["mib"]), commit=shipped.summary(folder)["commit"],
        machines={environment()["cpu"]: 2})
    for run in runs:
        assert store.results(run) == Store(root).results(run)
    summary = run_plan(runs, tmp_path / "fresh", progress=False)
    assert summary.ok and summary.finished == [] and summary.already_done == 2


def test_the_proof_re_derives_and_reloads_exactly_on_the_same_machine(made):
    runs, _, folder = made
    ok, checks = shipped.verify(folder, sample=2, seed=0, progress=lambda line: None)
    assert ok, [check.line() for check in checks if not check.ok]
    epochs = [c for c in checks if c.quantity.startswith("epoch 1")]
    reloads = [c for c in checks if c.quantity == "test_mse (reloaded)"]
    assert {c.key for c in epochs} == {run.key for run in runs} and len(reloads) == 2
    assert all(c.exact for c in checks)


def test_a_run_records_the_machine_of_its_first_epoch_and_ship_keeps_it(made):
    """The manifest names the machine that trained a run, not the one that ships it."""
    runs, root, folder = made
    manifest = shipped.read_manifest(folder)
    for run in runs:
        made_on = Store(root).results(run)["made_on"]
        assert made_on == environment()
        entry = manifest["runs"][run.key]["made"]
        assert {name: entry[name] for name in made_on} == made_on


def test_a_resumed_run_keeps_the_machine_of_its_first_epoch(tmp_path):
    """A run killed after its first epoch and resumed elsewhere records the machine
    that trained the first epoch: only there does that epoch re-derive bit for bit."""
    from spikelib.experiment import prepare_data, train_and_test
    configure_threads(1)
    run, store = Run("sae", _tiny()), Store(tmp_path)
    first = dict(environment(), cpu="the first machine", vector_features=["avx2"])
    store.note_machine(run, first)
    train_and_test(run.config, prepare_data(run.config), progress=False,
                   on_epoch=lambda state: store.save_checkpoint(run, state)
                   if state.epoch == 1 else None)
    assert store.checkpoint_epoch(run) == 1
    results = execute(run, str(tmp_path))
    assert results["resumed_from_epoch"] == 1 and results["made_on"] == first


def test_a_run_made_elsewhere_is_compared_within_the_spread_of_chaotic_training(made,
                                                                                tmp_path):
    """Where no shipped run was trained on a machine like this one, the first epoch
    re-derives as another draw: validation and test errors within the measured spread."""
    runs, copy = _copy(made, tmp_path)
    manifest = json.loads((copy / shipped.MANIFEST).read_text())
    for entry in manifest["runs"].values():
        entry["made"].update(cpu="another machine", vector_features=["sse4_2"])
    (copy / shipped.MANIFEST).write_text(json.dumps(manifest))
    ok, checks = shipped.verify(copy, sample=2, seed=0, progress=lambda line: None)
    assert ok, [check.line() for check in checks if not check.ok]
    epochs = sorted((c.quantity, c.tolerance) for c in checks if c.quantity.startswith("epoch"))
    assert epochs == [("epoch 1 test_mse", shipped.CHAOTIC_TOLERANCE["sae"]),
                      ("epoch 1 val_loss", shipped.CHAOTIC_TOLERANCE["ann"]),
                      ("epoch 1 validation_mse", shipped.CHAOTIC_TOLERANCE["sae"])]
    assert all(c.tolerance == shipped.RELOAD_TOLERANCE for c in checks
               if c.quantity == "test_mse (reloaded)")
    name = f"runs/{runs[0].key}/results.json"
    results = json.loads((copy / name).read_text())
    results["history"][0]["validation_mse"] *= 3.0  # beyond the spread of any machine
    (copy / name).write_text(json.dumps(results))
    _reseal(copy, name)
    ok, checks = shipped.verify(copy, sample=2, seed=0, reload=False, progress=lambda line: None)
    assert not ok and [c.quantity for c in checks if not c.ok] == ["epoch 1 validation_mse"]


def test_the_sample_is_drawn_first_from_runs_made_on_a_machine_like_this_one(made, tmp_path):
    runs, copy = _copy(made, tmp_path)
    manifest = json.loads((copy / shipped.MANIFEST).read_text())
    manifest["runs"][runs[1].key]["made"].update(cpu="another machine", vector_features=[])
    (copy / shipped.MANIFEST).write_text(json.dumps(manifest))
    for seed in range(3):
        ok, checks = shipped.verify(copy, sample=1, seed=seed, reload=False,
                                    progress=lambda line: None)
        assert ok and {c.key for c in checks} == {runs[0].key} and all(c.exact for c in checks)


def test_a_changed_byte_fails_the_manifest(made, tmp_path):
    runs, copy = _copy(made, tmp_path)
    weights = copy / "runs" / runs[0].key / "model.weights.h5"
    data = bytearray(weights.read_bytes())
    data[-100] ^= 0x01
    weights.write_bytes(bytes(data))
    with pytest.raises(shipped.ManifestError, match="changed: runs/.*model.weights.h5"):
        shipped.verify(copy, sample=0)
    (copy / "runs" / runs[1].key / "extra.txt").write_text("")
    with pytest.raises(shipped.ManifestError, match="not in the manifest"):
        shipped.read_manifest(copy)


def _reseal(copy, name):
    manifest = json.loads((copy / shipped.MANIFEST).read_text())
    manifest["files"][name] = shipped._sha256(copy / name)
    (copy / shipped.MANIFEST).write_text(json.dumps(manifest))


def test_a_changed_history_number_fails_the_re_derivation(made, tmp_path):
    runs, copy = _copy(made, tmp_path)
    name = f"runs/{runs[0].key}/results.json"
    results = json.loads((copy / name).read_text())
    results["history"][0]["validation_mse"] *= 1.0 + 1e-6
    (copy / name).write_text(json.dumps(results))
    _reseal(copy, name)  # even with the manifest rewritten to match
    ok, checks = shipped.verify(copy, sample=2, seed=0, reload=False, progress=lambda line: None)
    failed = [c for c in checks if not c.ok]
    assert not ok and [c.quantity for c in failed] == ["epoch 1 validation_mse"]


def test_a_changed_weight_fails_the_reloaded_test_error(made, tmp_path):
    import h5py
    import numpy as np
    runs, copy = _copy(made, tmp_path)
    name = f"runs/{runs[0].key}/model.weights.h5"
    with h5py.File(copy / name, "r+") as handle:
        weights = []
        handle.visititems(lambda key, item: weights.append(item)
                          if isinstance(item, h5py.Dataset) and item.size > 1 else None)
        for item in weights:
            item[...] = np.array(item) + 0.1
    _reseal(copy, name)
    ok, checks = shipped.verify(copy, sample=0, progress=lambda line: None)
    assert not ok and [c.key for c in checks if not c.ok] == [runs[0].key]


def test_new_training_code_uses_shipped_runs_only_once_certified(made, tmp_path, monkeypatch):
    runs, copy = _copy(made, tmp_path)
    real = shipped.code_digest
    monkeypatch.setattr(shipped, "code_digest", lambda kind: "0" * 8)
    changed = [Run(run.kind, run.config) for run in runs]
    monkeypatch.setattr(Run, "key", property(
        lambda self: f"{self.kind}-{self.config.digest()}-{'0' * 8}"))
    assert shipped.shipped_for(changed, copy) == []
    said = []
    ok, checks = shipped.verify(copy, sample=2, progress=said.append)
    assert ok and checks == [] and "2 of 2 shipped runs are stale" in said[0]
    assert shipped.certify(copy, sample=1, seed=0, progress=lambda line: None)
    assert shipped.shipped_for(changed, copy) == changed
    manifest = shipped.read_manifest(copy)
    assert manifest["code"]["sae"] == sorted({real("sae"), "0" * 8})


def test_pruning_removes_the_runs_no_plan_has_and_keeps_the_manifest_whole(made, tmp_path):
    runs, copy = _copy(made, tmp_path)
    kept, dropped = runs
    assert shipped.prune([kept], copy) == [dropped.key]
    assert not (copy / "runs" / dropped.key).exists()
    manifest = shipped.read_manifest(copy)  # raises on any mismatch with the files
    assert list(manifest["runs"]) == [kept.key]
    assert shipped.shipped_for(runs, copy) == [kept]


@pytest.fixture
def real_copy(tmp_path):
    """A copy of the repository's shipped folder holding one of its conventional runs."""
    import shutil
    copy = tmp_path / "shipped"
    shutil.copytree(shipped.SHIPPED, copy)
    manifest = shipped.read_manifest(copy)
    usable = [item for item in shipped.shipped_runs(copy).values() if item.run.kind == "ann"
              and shipped.usable(item.run, manifest, shipped.shipped_runs(copy)) == item]
    if not usable:
        pytest.skip("no shipped conventional run matches the present code")
    shipped.prune([usable[0].run], copy)
    return usable[0], copy


def test_corrupting_a_real_shipped_run_fails_the_proof(real_copy):
    item, copy = real_copy
    ok, checks = shipped.verify(copy, sample=1, seed=0, progress=lambda line: None)
    quantities = sorted(check.quantity for check in checks)
    assert ok and quantities in (["epoch 1 loss", "epoch 1 val_loss", "test_mse (reloaded)"],
                                 ["epoch 1 val_loss", "test_mse (reloaded)"]), \
        [c.line() for c in checks]
    name = f"runs/{item.key}/results.json"
    results = json.loads((copy / name).read_text())
    results["history"]["val_loss"][0] *= 1.5  # beyond the tolerance of any machine
    (copy / name).write_text(json.dumps(results))
    with pytest.raises(shipped.ManifestError, match="changed: runs/.*results.json"):
        shipped.read_manifest(copy)
    _reseal(copy, name)
    ok, checks = shipped.verify(copy, sample=1, seed=0, reload=False, progress=lambda line: None)
    assert not ok and [c.quantity for c in checks if not c.ok] == ["epoch 1 val_loss"]
    weights = copy / "runs" / item.key / "model.weights.h5"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01
    weights.write_bytes(bytes(data))
    with pytest.raises(shipped.ManifestError, match="changed: runs/.*model.weights.h5"):
        shipped.verify(copy, sample=0)


def test_a_retrained_run_replaces_its_older_copy_and_vouches_for_no_other(made, tmp_path,
                                                                         monkeypatch):
    import shutil
    runs, root, folder = made
    copy = tmp_path / "shipped"
    shutil.copytree(folder, copy)
    store_copy = tmp_path / "store"
    shutil.copytree(root, store_copy)
    sae, ann = runs
    monkeypatch.setattr(shipped, "code_digest", lambda kind: "0" * 8)
    monkeypatch.setattr(Run, "key", property(
        lambda self: f"{self.kind}-{self.config.digest()}-{'0' * 8}"))
    store = Store(store_copy)
    made_by_old_code = store_copy / "runs" / _old_key(sae, root)
    store.publish_files(sae, [made_by_old_code / name for name in shipped.RUN_FILES])
    shipped.ship([sae], store, copy)
    manifest = shipped.read_manifest(copy)
    assert sorted(manifest["runs"]) == sorted([sae.key, _old_key(ann, root)])
    assert shipped.shipped_for(runs, copy) == [sae]  # the older conventional run is stale
    assert manifest["code"].get("ann", []) == manifest["code"].get("sae", []) == []


def _old_key(run, root):
    return next(p.name for p in (root / "runs").iterdir()
                if p.name.startswith(f"{run.kind}-{run.config.digest()}-"))


def _git(*arguments):
    import subprocess
    subprocess.run(["git", *arguments], check=True, capture_output=True)


def test_certifying_against_an_earlier_commit_compares_two_codes_on_this_machine(made,
                                                                                 tmp_path):
    """A change that leaves every number alone (here: a comment in the training
    loop) is certified by training with both codes here; a change of the method
    (Adam's epsilon) is refused and leaves the manifest as it was."""
    import shutil
    from pathlib import Path
    from spikelib.runs import code_digest
    runs, copy = _copy(made, tmp_path)
    package = Path(shipped.__file__).resolve().parent
    repository = tmp_path / "repository"
    shutil.copytree(package, repository / "spikelib",
                    ignore=shutil.ignore_patterns("__pycache__"))
    _git("-C", str(repository), "init", "-q")
    _git("-C", str(repository), "add", "spikelib")
    _git("-C", str(repository), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "a")
    neutral, changed = tmp_path / "neutral" / "spikelib", tmp_path / "changed" / "spikelib"
    for target in (neutral, changed):
        shutil.copytree(repository / "spikelib", target)
    with open(neutral / "training.py", "a") as module:
        module.write("\n# The loop above is unchanged.\n")
    optimizer = changed / "optimizer.py"
    optimizer.write_text(optimizer.read_text().replace("epsilon=1e-8", "epsilon=1e-4"))
    said = []
    assert not shipped.certify_against("HEAD", copy, sample=1, seed=0, progress=said.append,
                                       repository=repository, package=changed)
    assert "differs" in said[-1]
    assert shipped.read_manifest(copy)["code"] == shipped.read_manifest(made[2])["code"]
    assert shipped.certify_against("HEAD", copy, sample=1, seed=0, progress=said.append,
                                   repository=repository, package=neutral)
    code_digest.cache_clear()
    assert code_digest("sae", neutral) in shipped.read_manifest(copy)["code"]["sae"]
    assert "ann" not in shipped.read_manifest(copy)["code"]  # its code did not change


def test_a_run_copied_from_the_shipped_runs_is_not_shipped_again(made, tmp_path):
    """Shipping a profile whose store holds copies of shipped runs leaves their
    entries alone: what made them (machine, commit) is not overwritten by this one."""
    runs, copy = _copy(made, tmp_path)
    store = Store(tmp_path / "fresh")
    assert shipped.adopt(runs, store, copy) == runs
    before = shipped.read_manifest(copy)
    shipped.ship(runs, store, copy)
    assert shipped.read_manifest(copy) == before


def test_a_run_the_new_stopping_rule_stops_where_it_stopped_is_shipped_again(tmp_path):
    configure_threads(1)
    old = Run("sae", _tiny(epochs=4, patience=1, min_delta=0.5))
    new = Run("sae", old.config.replace(rule="window"))
    assert new.key != old.key
    execute(old, str(tmp_path / "old"))
    assert Store(tmp_path / "old").results(old)["stop_reason"] == "patience"
    folder = tmp_path / "shipped"
    shipped.ship([old], Store(tmp_path / "old"), folder)
    assert shipped.restop([old, new], folder) == [(old.key, new.key)]
    assert shipped.shipped_for([new], folder) == [new]
    assert shipped.read_manifest(folder)["runs"][new.key]["restopped_from"] == old.key
    execute(new, str(tmp_path / "new"))  # trained afresh under the window rule: the same run
    copy = json.loads((folder / "runs" / new.key / "results.json").read_text())
    fresh = Store(tmp_path / "new").results(new)
    for name in ("test_mse", "stop_reason", "config", "best_epoch"):
        assert copy[name] == fresh[name], name
    errors = ("train_mse", "validation_mse", "test_mse")
    assert ([[record[e] for e in errors] for record in copy["history"]]
            == [[record[e] for e in errors] for record in fresh["history"]])


def test_a_run_still_falling_under_the_new_rule_is_not_shipped_again():
    from spikelib.config import Budget
    falling = [0.05 * 0.995 ** epoch for epoch in range(4)]
    results = dict(history=[dict(validation_mse=e, on_plateau=False) for e in falling],
                   stop_reason="patience")
    assert shipped._stops_where_it_stopped(results, Budget(100, 3, 0.01))
    assert not shipped._stops_where_it_stopped(results, Budget(100, 3, 0.01, rule="window"))


def test_the_reload_sample_holds_the_re_derived_runs_and_its_count():
    import numpy as np
    items = [shipped.ShippedRun(f"sae-{i:016x}-00000000", None) for i in range(10)]
    chosen = [items[7], items[2]]
    for count in (0, 2, 5, 10, 20):
        sample = shipped._reload_sample(items, chosen, count, np.random.default_rng(count))
        assert len(sample) == max(2, min(count, 10))
        assert items[7] in sample and items[2] in sample
        assert sample == [item for item in items if item in sample]  # shipped order


def test_a_run_finished_by_an_earlier_proven_code_is_shipped_as_made(made, tmp_path):
    import shutil
    runs, root, folder = made
    copy = tmp_path / "shipped"
    shutil.copytree(folder, copy)
    sae = runs[0]
    stem = sae.key.rsplit("-", 1)[0]
    store = Store(tmp_path / "campaign")
    older = shipped.MadeRun(sae.kind, sae.config, f"{stem}-0ld0c0de")
    shutil.copytree(Store(root).folder(sae), store.folder(older))
    assert shipped.finished_by_proven_code([sae], store, copy) == []  # not proven
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["code"]["sae"] = ["0ld0c0de"]
    (copy / "manifest.json").write_text(json.dumps(manifest))
    found = shipped.finished_by_proven_code([sae], store, copy)
    assert [item.key for item in found] == [older.key]
    shipped.ship(found, store, copy)
    assert older.key in shipped.read_manifest(copy)["runs"]
    assert sae.key not in shipped.read_manifest(copy)["runs"]  # replaced by the run as made


def test_the_readme_says_how_much_of_the_grid_is_shipped():
    """The README's count of the campaign follows the shipped runs (ship, then update it)."""
    import re
    from pathlib import Path
    from spikelib.sections.grid import shipped_progress
    readme = " ".join((Path(shipped.ROOT) / "README.md").read_text().split())
    found = re.search(r"ships (\d+) of its (\d+) \(row, data set\) pairs and (\d+) of its (\d+) "
                      r"conventional autoencoders", readme)
    assert found, "the README no longer says how much of the grid is shipped"
    progress = shipped_progress()
    assert tuple(int(value) for value in found.groups()) == (
        progress["pairs"], progress["planned_pairs"], progress["conventional"],
        progress["planned_conventional"])
    assert f"{progress['pairs']} of {progress['planned_pairs']} (row, data set) pairs" in \
        shipped.status()

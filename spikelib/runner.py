"""Execute a plan of runs on Dask distributed, resumably.

`run_plan(runs, root)` submits every unfinished run to a Dask cluster:
an embedded `LocalCluster` on this machine by default, or any running
cluster given by address (`dask scheduler` / `dask worker`, Kubernetes,
Slurm through dask-jobqueue).  Each task (`execute`) trains one run (or,
under JAX, `execute_group` a group of seeds of one row in one step) on a
worker, checkpoints it after every epoch, publishes it atomically in the
results folder (which every worker must see: `SPIKELIB_RESULTS`) and
returns its results dict, never a model.  Longest runs (as `spikelib.cost`
estimates them) go first; a failed run is retried, also when its worker is
lost; a run that keeps failing is reported with its config and error while
the others go on.
"""

import dataclasses
import json
import os
import socket
import subprocess
import sys
import time
import traceback

from tqdm import tqdm

from spikelib.cost import run_seconds
from spikelib.machine import NOT_RECORDED, environment
from spikelib.store import Store, check_writable

# Defaults of the embedded cluster, chosen by measurement on a 2-core
# machine (see the README): one single-threaded worker per core.
THREADS_PER_WORKER = 1
# Retries of a failed run before it is reported (a lost worker counts too).
RETRIES = 2
# Seconds between progress updates (finished runs and checkpointed epochs).
POLL_SECONDS = 2.0
# Once XLA's never-freed compiled code uses this share of the kernel's
# memory-map limit in a worker (`spikelib.compiled`; ~55 short runs), the
# worker trains each further run in a fresh child process.
FRESH_PROCESS_SHARE = 0.5
_configured = {}


def configure_threads(threads):
    """Size TensorFlow's thread pools to this process's share of the cores (once);
    under JAX, whose pool `_jax_threads` sizes, TensorFlow is not imported."""
    if _configured:
        return _configured["threads"]
    from spikelib.quiet import import_backend
    tf = import_backend()
    if tf is None:
        _configured["threads"] = threads
        return threads
    # A worker traces each run's step functions once; TensorFlow counts the
    # traces of successive runs as "retracing" and warns, which is noise here.
    tf.get_logger().setLevel("ERROR")
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # the runtime already started in this process
        pass
    _configured["threads"] = threads
    return threads


def _jax_threads(threads):
    """XLA_FLAGS that size a JAX worker's thread pool (JAX reads them when it
    starts); nothing under TensorFlow, whose pools `configure_threads` sizes."""
    from spikelib.runs import keras_backend
    if keras_backend() != "jax":
        return {}
    flags = f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'} " \
            f"intra_op_parallelism_threads={threads}"
    return {"XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} {flags}".strip()}


def _worker_identity():
    try:
        from distributed import get_worker
        worker = get_worker()
        return worker.address, worker.state.nthreads
    except (ImportError, ValueError):
        return f"local-{os.getpid()}", os.cpu_count() or 1


def execute(run, root, fresh_process_share=FRESH_PROCESS_SHARE):
    """Train `run` into the results folder `root` unless it is there; its results dict.

    Resumes from the run's last checkpoint.  Runs on a Dask worker (or in
    this process): the results folder must be writable from here.  Once
    this process's compiled code nears the memory-map limit, the run trains
    in a fresh child process (`FRESH_PROCESS_SHARE`).
    """
    address, threads = _worker_identity()
    configure_threads(threads)  # imports TensorFlow without its start-up lines
    from spikelib.compiled import map_share
    store = Store(root)
    if store.is_done(run):
        return store.results(run)
    check_writable(root)
    if map_share() >= fresh_process_share:
        return _execute_in_child(run, root, address, threads)
    return _train(run, store, address, threads)


def _train(run, store, address, threads):
    """Train `run` in this process and publish it in `store`; its results dict."""
    from spikelib.experiment import (prepare_data, train_and_test,
                                     train_and_test_conventional)
    data = prepare_data(run.config)
    if run.kind == "sae":
        state = store.load_checkpoint(run)
        if state is None:
            store.note_machine(run, environment())
        made_on = store.noted_machine(run) or NOT_RECORDED
        model, results = train_and_test(
            run.config, data, progress=False, state=state,
            on_epoch=lambda new_state: store.save_checkpoint(run, new_state))
        results["resumed_from_epoch"] = state.epoch if state is not None else 0
    else:
        made_on = environment()
        model, results = train_and_test_conventional(run.config, data)
    results.update(key=run.key, worker=address, host=socket.gethostname(), pid=os.getpid(),
                   threads=threads, made_on=made_on)
    return store.write(run, results, model)


def execute_group(runs, root):
    """Train spiking `runs` that differ only in their seed in one compiled step
    (`spikelib.training_many`, JAX) into `root`; their results dicts.

    Each member checkpoints after each of its epochs; a member that a
    killed group left with a checkpoint is resumed alone (`execute`).
    """
    address, threads = _worker_identity()
    configure_threads(threads)
    store = Store(root)
    todo = [run for run in runs if not store.is_done(run)]
    resumed = [run for run in todo if store.checkpoint_epoch(run) > 0]
    fresh = [run for run in todo if run not in resumed]
    results = [store.results(run) for run in runs if run not in todo]
    results += [execute(run, root) for run in resumed]
    if len(fresh) == 1:
        results.append(execute(fresh[0], root))
    elif fresh:
        check_writable(root)
        from spikelib.experiment import prepare_data
        from spikelib.training_many import train_and_test_many
        data = prepare_data(fresh[0].config)
        made_on = environment()
        for run in fresh:
            store.note_machine(run, made_on)
        trained = train_and_test_many(
            [run.config for run in fresh], data,
            on_epoch=lambda member, state: store.save_checkpoint(fresh[member], state))
        for run, (model, outcome) in zip(fresh, trained):
            outcome.update(key=run.key, worker=address, host=socket.gethostname(),
                           pid=os.getpid(), threads=threads, resumed_from_epoch=0,
                           group=len(fresh), made_on=made_on)
            results.append(store.write(run, outcome, model))
    return results


def groups(runs, size):
    """`runs` in groups of at most `size` that can share a step: spiking runs whose
    configs differ only in the seed; every other run alone."""
    if size <= 1:
        return [[run] for run in runs]
    by_shape = {}
    for run in runs:
        shape = run.config.replace(seed=0).to_json() if run.kind == "sae" else run.key
        by_shape.setdefault((run.kind, shape), []).append(run)
    return [members[i:i + size] for members in by_shape.values()
            for i in range(0, len(members), size)]


def _execute_in_child(run, root, address, threads):
    """`_train` in a new Python process (`python -m spikelib.runner`); its results dict."""
    arguments = [sys.executable, "-m", "spikelib.runner", json.dumps(run.to_dict()), str(root),
                 address, str(threads)]
    finished = subprocess.run(arguments, capture_output=True, text=True,
                              env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    if finished.returncode != 0:
        tail = "\n".join(finished.stderr.strip().splitlines()[-20:])
        raise RuntimeError(f"training {run.label()} in a child process failed "
                           f"(exit status {finished.returncode}):\n{tail}")
    return Store(root).results(run)


@dataclasses.dataclass
class Summary:
    """What a call of `run_plan` did."""

    planned: int
    already_done: int
    finished: list
    failed: dict  # run key -> (run, error text)
    seconds: float
    shipped: int = 0  # of already_done: copied from the repository's shipped runs

    @property
    def ok(self):
        return not self.failed

    def report(self):
        shipped = f" ({self.shipped} of them shipped)" if self.shipped else ""
        lines = [f"runs: {self.planned} planned, {self.already_done} already done{shipped}, "
                 f"{len(self.finished)} trained now, {len(self.failed)} failed, "
                 f"{self.seconds:.0f} s"]
        for run, error in self.failed.values():
            lines.append(f"FAILED {run.label()} [{run.key}]\n  config: {run.config.to_json()}\n"
                         f"  error: {error}")
        return "\n".join(lines)


def _client(scheduler, workers, threads_per_worker):
    """A Dask client: of the cluster at `scheduler`, or of a new LocalCluster."""
    from distributed import Client, LocalCluster
    scheduler = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS")
    if scheduler:
        return Client(scheduler), None
    threads = threads_per_worker or THREADS_PER_WORKER
    workers = workers or max(1, (os.cpu_count() or 1) // threads)
    env = {"TF_CPP_MIN_LOG_LEVEL": "3", "OMP_NUM_THREADS": str(threads),
           "TF_NUM_INTRAOP_THREADS": str(threads), "TF_NUM_INTEROP_THREADS": "1",
           "SPIKELIB_RESULTS": os.environ.get("SPIKELIB_RESULTS", ""), **_jax_threads(threads)}
    cluster = LocalCluster(n_workers=workers, threads_per_worker=threads, processes=True,
                           dashboard_address=None, env=env, silence_logs=40)
    return Client(cluster), cluster


def _examples_done(store, run):
    """Training examples of `run` done so far, by its latest checkpoint."""
    return store.checkpoint_epoch(run) * run.examples("train")


def run_plan(runs, root, scheduler=None, workers=None, threads_per_worker=None,
             retries=RETRIES, progress=True, fresh_process_share=FRESH_PROCESS_SHARE,
             shipped=None, group=1):
    """Train every unfinished run of `runs` into `root` on Dask; returns a `Summary`.

    A run that the repository ships for the present code (`spikelib.shipped`)
    is copied in, not trained, unless `shipped` is False (default: unless the
    environment sets SPIKELIB_RETRAIN=1).  With `group` > 1 (JAX only), up
    to `group` spiking runs that differ only in their seed train in one task
    and one compiled step (`execute_group`).
    """
    if group > 1:
        from spikelib.runs import keras_backend
        if keras_backend() != "jax":
            raise ValueError(f"training runs in groups of {group} needs KERAS_BACKEND=jax "
                             f"(this process: {keras_backend()})")
    from distributed import wait
    started = time.perf_counter()
    store = Store(root)
    if shipped is None:
        shipped = os.environ.get("SPIKELIB_RETRAIN", "") in ("", "0")
    adopted = []
    if shipped:
        from spikelib.shipped import adopt
        adopted = adopt([run for run in runs if not store.is_done(run)], store)
    todo = sorted((run for run in runs if not store.is_done(run)),
                  key=lambda run: -run_seconds(run))
    summary = Summary(len(runs), len(runs) - len(todo), [], {}, 0.0, len(adopted))
    if not todo:
        summary.seconds = time.perf_counter() - started
        return summary
    check_writable(root)
    client, cluster = _client(scheduler, workers, threads_per_worker)
    try:
        futures = {}
        for members in groups(todo, group):
            run = members[0]
            if len(members) == 1:
                future = client.submit(execute, run, str(root), fresh_process_share,
                                       key=f"train-{run.key}", pure=False, retries=retries,
                                       priority=round(run_seconds(run)))
            else:
                future = client.submit(execute_group, members, str(root),
                                       key=f"train-group-{run.key}", pure=False,
                                       retries=retries, priority=round(run_seconds(run)))
            futures[future] = members
        total = sum(run.training_examples() for run in todo)
        bar = tqdm(total=total, unit="ex", unit_scale=True, disable=not progress,
                   desc=f"{len(todo)} runs", dynamic_ncols=True,
                   mininterval=1.0 if sys.stderr.isatty() else 30.0)
        pending = set(futures)
        with bar:
            while pending:
                try:
                    wait(pending, timeout=POLL_SECONDS, return_when="FIRST_COMPLETED")
                except TimeoutError:
                    pass
                done = {future for future in pending if future.done()}
                pending -= done
                for future in done:
                    members = futures[future]
                    if future.status == "finished":
                        result = future.result()
                        summary.finished.extend(result if len(members) > 1 else [result])
                        continue
                    error = future.exception()
                    text = "".join(traceback.format_exception_only(type(error), error)).strip()
                    for run in members:
                        summary.failed[run.key] = (run, text)
                        bar.write(f"run failed: {run.label()}: {text}")
                finished = [run for f in futures if f not in pending for run in futures[f]]
                examples = sum(run.training_examples() for run in finished) + sum(
                    _examples_done(store, run) for f in pending for run in futures[f])
                bar.n = min(examples, total)
                bar.set_description(f"{len(finished)}/{len(todo)} runs"
                                    + (f", {len(summary.failed)} failed" if summary.failed else ""),
                                    refresh=False)
                bar.update(0)  # redraws at most every `mininterval` (30 s in a log file)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    summary.seconds = time.perf_counter() - started
    return summary


def main(argv=None):
    """Train one run in this process: `python -m spikelib.runner RUN_JSON ROOT WORKER THREADS`
    (what `execute` starts in a child process)."""
    from spikelib.runs import Run
    run_json, root, address, threads = argv if argv is not None else sys.argv[1:]
    run = Run.from_dict(json.loads(run_json))
    configure_threads(int(threads))
    _train(run, Store(root), address, int(threads))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

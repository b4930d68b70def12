"""Command line: `python -m spikelib train ...`, `python -m spikelib run --profile P`.

`train` trains one tuned grid row, looked up by (noise, latency, hidden);
every other config field can be overridden with its own flag
(`--epochs 3`, `--batch-size 7`, `--train-examples 5000`, ...), and the run
writes results.json and model.weights.h5 to --out.  `run` trains every run
of a profile's plan on Dask (an embedded LocalCluster, or the cluster at
--scheduler); `--dry-run` prints the plan and its cost without training.
`tables` computes every section's tables from the finished runs (`make
tables`, between the runs and the notebooks).
"""

import argparse
import dataclasses
import json
import math
import os
import sys
import time
import types
import typing
from pathlib import Path

from spikelib.config import FIELD_GROUPS, GROUPS, paper_config, paper_grid

_GRID_KEYS = {"noise", "latency", "n_hidden"}


def _boolean(text):
    """Strict booleans: true/false, yes/no, 1/0 (any case); anything else is an error."""
    value = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
    try:
        return value[text.lower()]
    except KeyError:
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}") from None


def _number(kind):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {'an integer' if kind is int else 'a number'}, got {text!r}") from None
        if kind is float and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        return value
    parse.__name__ = kind.__name__
    return parse


def _positive(text):
    value = _number(int)(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def _field_type(field):
    kind = typing.get_type_hints(GROUPS[FIELD_GROUPS[field.name]])[field.name]
    if kind is bool:
        return _boolean
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        kind = next(arg for arg in typing.get_args(kind) if arg is not type(None))
    return _number(kind) if kind in (int, float) else kind


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one line: the message and where the usage is."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parser():
    parser = _Parser(prog="spikelib", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train and test one spiking autoencoder")
    train.add_argument("--noise", type=_number(float), default=0.0)
    train.add_argument("--latency", type=_number(float), default=1.0)
    train.add_argument("--hidden", type=_number(int), default=32, dest="n_hidden")
    train.add_argument("--seed", type=_number(int), default=None)
    for group in GROUPS.values():
        for field in dataclasses.fields(group):
            if field.name not in _GRID_KEYS:
                train.add_argument("--" + field.name.replace("_", "-"), dest=field.name,
                                   type=_field_type(field), default=None)
    train.add_argument("--out", type=Path, default=None, help="results folder")
    train.add_argument("--overwrite", action="store_true",
                       help="replace the results already in --out")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument("--verbose", action="store_true", help="show TensorFlow's own logs")
    run = commands.add_parser("run", help="train every run of a profile's plan on Dask")
    run.add_argument("--profile", default="book",
                     help="ci, quick, verify, book, grid or paper (default book)")
    run.add_argument("--scheduler", default=None, metavar="ADDRESS",
                     help="a running Dask scheduler, e.g. tcp://host:8786 "
                          "(default: $DASK_SCHEDULER_ADDRESS, else an embedded LocalCluster)")
    run.add_argument("--workers", type=_positive, default=None,
                     help="workers of the embedded cluster (default: one per core)")
    run.add_argument("--threads-per-worker", type=_positive, default=None,
                     help="threads per worker of the embedded cluster (default 1)")
    run.add_argument("--group", type=_positive, default=1, metavar="N",
                     help="train up to N seeds of a row in one compiled step "
                          "(KERAS_BACKEND=jax only; default 1)")
    run.add_argument("--only", nargs="+", default=None, metavar="SECTION",
                     help="the runs of these sections only (e.g. a campaign trains the "
                          "runs of the claims first: latencies embedding_sizes)")
    run.add_argument("--dry-run", action="store_true", help="print the plan and its cost only")
    run.add_argument("--retrain", action="store_true",
                     help="train every run, also those the repository ships (default: "
                          "$SPIKELIB_RETRAIN)")
    tables = commands.add_parser(
        "tables", help="compute every section's tables from a profile's finished runs")
    tables.add_argument("--profile", default="book",
                        help="ci, quick, verify, book, grid or paper (default book)")
    tables.add_argument("--only", nargs="+", default=None, metavar="SECTION",
                        help="these sections only (e.g. latencies noise)")
    tables.add_argument("--force", action="store_true",
                        help="recompute also the tables whose runs and code are unchanged")
    commands.add_parser("grid", help="print the tuned grid rows")
    return parser


def _check_out(out, overwrite):
    """Refuse, before any training, an --out that is a file, holds another
    run, or cannot be created and written."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file, expected a folder")
    results = out / "results.json"
    if results.exists() and not overwrite:
        raise ValueError(f"--out {out} already holds a run ({results}); choose another folder "
                         "or pass --overwrite")
    if out.exists() and not results.exists() and any(out.iterdir()):
        raise ValueError(f"--out {out} holds files that are not a run; choose a new or empty "
                         "folder (the run replaces the folder's contents)")
    from spikelib.store import check_publishable
    try:
        check_publishable(out)
    except OSError as error:
        raise ValueError(f"--out {out}: cannot create a folder there ({error.strerror})") from None


def _train(args):
    overrides = {name: value for name, value in vars(args).items()
                 if (name in FIELD_GROUPS or name == "seed") and name not in _GRID_KEYS
                 and value is not None}
    config = paper_config(args.noise, args.latency, args.n_hidden, **overrides)
    out = args.out or Path("results") / "runs" / config.digest()
    _check_out(out, args.overwrite)
    _load_tensorflow(args)
    from spikelib.experiment import train_and_test
    print(f"config {config.digest()}: {config.to_json()}", file=sys.stderr)
    model, results = train_and_test(config, progress=not args.quiet)
    from spikelib.store import write_run
    if not write_run(out, results, model, replace=args.overwrite):
        raise ValueError(f"--out {out} was filled by another run while this one trained; "
                         "this run's results were not written")
    print(json.dumps({"test_mse": results["test_mse"], "best_epoch": results["best_epoch"],
                      "epochs_run": results["epochs_run"], "health": results["health"],
                      "train_seconds": round(results["train_seconds"], 1),
                      "results": str(out / "results.json")}))
    return 0


def describe_plan(runs, store, workers, use_shipped=True):
    """The plan as printed by --dry-run: counts, examples, what is done or shipped, cost."""
    from collections import Counter

    from spikelib.cost import duration, epoch_share, wall_seconds
    from spikelib.shipped import shipped_for, shipped_runs
    done = store.finished(runs)
    shipped = shipped_for([run for run in runs if run not in done]) if use_shipped else []
    by_config = shipped_runs() if shipped else {}
    share = epoch_share([(run, store.results(run)) for run in done]
                        + [(run, by_config[run.key.rsplit("-", 1)[0]].results)
                           for run in shipped])
    todo = [run for run in runs if run not in done and run not in shipped]
    kinds = Counter(run.kind for run in runs)
    examples = sum(run.training_examples() for run in runs)
    lines = [f"plan: {len(runs)} runs ("
             + ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
             + f"), {examples:,} training examples at most",
             f"done: {len(done)} runs; shipped with the repository: {len(shipped)} runs; "
             f"to train: {len(todo)} runs, "
             f"{sum(run.training_examples() for run in todo):,} training examples",
             "estimated wall time of what is left (upper bound: early stopping only shortens):"]
    for cores in sorted({workers, 16}):
        lines.append(f"  {cores:>3} single-threaded workers ({cores} cores): "
                     f"{duration(wall_seconds(todo, cores))}")
    if share is not None and share < 1.0 and any(run.kind == "sae" for run in todo):
        lines.append(f"expected, if the spiking runs left stop where the "
                     f"{sum(run.kind == 'sae' for run in done + shipped)} finished ones did "
                     f"(on average after {share:.0%} of their epoch cap): "
                     f"{duration(wall_seconds(todo, workers, share))} on {workers} workers")
    return "\n".join(lines)


def _check_sections(only):
    """Refuse section names that are not sections (before any work)."""
    from spikelib.sections import SECTIONS
    unknown = sorted(set(only or ()) - set(SECTIONS))
    if unknown:
        raise ValueError(f"unknown section {', '.join(unknown)}; the sections are "
                         f"{', '.join(SECTIONS)}")


def _run(args):
    from spikelib.profiles import get_profile
    from spikelib.sections import plan
    from spikelib.store import Store, results_root
    profile = get_profile(args.profile)
    _check_sections(args.only)
    _load_tensorflow(args)
    runs = plan(profile, only=args.only)
    root = results_root(profile)
    workers = args.workers or max(1, (os.cpu_count() or 1) // (args.threads_per_worker or 1))
    print(f"profile {profile.name}: {profile.description}; results in {root}", file=sys.stderr)
    if args.only:
        print(f"sections: {', '.join(args.only)}", file=sys.stderr)
    use_shipped = not args.retrain and os.environ.get("SPIKELIB_RETRAIN", "") in ("", "0")
    print(describe_plan(runs, Store(root), workers, use_shipped), file=sys.stderr)
    if args.dry_run:
        return 0
    from spikelib.runner import run_plan
    summary = run_plan(runs, root, scheduler=args.scheduler, workers=args.workers,
                       threads_per_worker=args.threads_per_worker, shipped=use_shipped,
                       group=args.group)
    print(summary.report(), file=sys.stderr)
    return 0 if summary.ok else 1


def _tables(args):
    """The sections' tables, computed between the runs and the notebooks (`make tables`)."""
    from spikelib.profiles import get_profile
    from spikelib.sections import SECTIONS, compute_all
    profile = get_profile(args.profile)
    _check_sections(args.only)
    from spikelib.quiet import quiet_notebook
    quiet_notebook()
    started = time.perf_counter()
    done = compute_all(profile, only=args.only, force=args.force,
                       progress=lambda line: print(line, file=sys.stderr))
    print(f"tables of profile {profile.name}: {len(done)} sections in "
          f"{time.perf_counter() - started:.0f} s", file=sys.stderr)
    return 0


def _load_tensorflow(args):
    if not getattr(args, "verbose", False):
        _quiet_tensorflow()


def _quiet_tensorflow():
    """No TensorFlow/absl start-up lines on stderr (TensorFlow not imported
    under another backend).

    Called once every argument is validated (a bad value never waits for
    TensorFlow); --verbose keeps the lines.
    """
    from spikelib.quiet import import_backend
    import_backend()


def main(argv=None):
    args = _parser().parse_args(argv)
    from spikelib.data import DataUnavailableError
    try:
        if args.command == "train":
            return _train(args)
        if args.command == "run":
            return _run(args)
        if args.command == "tables":
            return _tables(args)
        for row in paper_grid():
            print(json.dumps(row))
    except (ValueError, DataUnavailableError) as error:
        print(f"spikelib: error: {error}", file=sys.stderr)
        return 2
    return 0

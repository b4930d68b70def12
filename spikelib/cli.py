"""Command line: `python -m spikelib train --dataset mnist --noise 0 --latency 1 --hidden 32`.

The tuned grid row is looked up by (noise, latency, hidden); every other
config field can be overridden with its own flag (`--epochs 3`,
`--batch-size 7`, `--train-examples 5000`, ...).  The run writes
results.json and model.weights.h5 to --out (default results/runs/<digest>).
"""

import argparse
import dataclasses
import json
import sys
import typing
from pathlib import Path

from spikelib.config import RunConfig, paper_config, paper_grid

_GRID_KEYS = {"noise", "latency", "n_hidden"}


def _field_type(field):
    kind = typing.get_type_hints(RunConfig)[field.name]
    if kind is bool:
        return lambda text: text.lower() in ("1", "true", "yes")
    if typing.get_origin(kind) in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return int
    return kind


def _parser():
    parser = argparse.ArgumentParser(prog="spikelib", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train and test one spiking autoencoder")
    train.add_argument("--noise", type=float, default=0.0)
    train.add_argument("--latency", type=float, default=1.0)
    train.add_argument("--hidden", type=int, default=32, dest="n_hidden")
    for field in dataclasses.fields(RunConfig):
        if field.name not in _GRID_KEYS:
            train.add_argument("--" + field.name.replace("_", "-"), dest=field.name,
                               type=_field_type(field), default=None)
    train.add_argument("--out", type=Path, default=None, help="results folder")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    commands.add_parser("grid", help="print the tuned grid rows")
    return parser


def _train(args):
    from spikelib.experiment import train_and_test, write_results
    overrides = {name: value for name, value in vars(args).items()
                 if name in {f.name for f in dataclasses.fields(RunConfig)} - _GRID_KEYS
                 and value is not None}
    config = paper_config(args.noise, args.latency, args.n_hidden, **overrides)
    print(f"config {config.digest()}: {config.to_json()}", file=sys.stderr)
    model, results = train_and_test(config, progress=not args.quiet)
    out = args.out or Path("results") / "runs" / config.digest()
    write_results(results, model, out)
    print(json.dumps({"test_mse": results["test_mse"], "best_epoch": results["best_epoch"],
                      "train_seconds": round(results["train_seconds"], 1),
                      "results": str(out / "results.json")}))


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        if args.command == "train":
            _train(args)
        else:
            for row in paper_grid():
                print(json.dumps(row))
    except ValueError as error:
        print(f"spikelib: error: {error}", file=sys.stderr)
        return 2
    return 0

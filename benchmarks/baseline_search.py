"""The search that picked the conventional autoencoder's choices (`spikelib.conventional`).

For each data set at embedding size 16 (where the earlier sigmoid-code
baseline fell furthest behind PCA), every combination of code activation,
learning rate and batch size is trained for a fixed number of epochs on the
`book` profile's split; only the validation split is looked at.  Writes one
row per (data set, choice, epoch) with the validation error and the PCA
code's validation error of the same size, to `spikelib/baseline_search.csv`.

    python benchmarks/baseline_search.py --dataset mnist --out /tmp/mnist.csv
"""

import argparse
import itertools
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from spikelib.quiet import quiet_notebook  # noqa: E402

quiet_notebook()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import tensorflow as tf  # noqa: E402

from spikelib.baselines import pca_error  # noqa: E402
from spikelib.conventional import ConventionalParameters, train_conventional  # noqa: E402
from spikelib.experiment import prepare_data  # noqa: E402
from spikelib.profiles import get_profile  # noqa: E402

ACTIVATIONS = ("sigmoid", "relu", "linear")
LEARNING_RATES = (1e-3, 3e-3)
BATCH_SIZES = (32, 128)


def search(dataset, n_hidden, epochs):
    config = get_profile("book").config(dataset, n_hidden=n_hidden).replace(
        epochs=epochs, patience=None, min_delta=0.0, plateau=None)
    data = prepare_data(config)
    pca = float(np.mean(pca_error(data.train_clean, data.validation_inputs,
                                  data.validation_clean, n_hidden)))
    rows = []
    for activation, rate, batch in itertools.product(ACTIVATIONS, LEARNING_RATES, BATCH_SIZES):
        parameters = ConventionalParameters(activation, rate, batch)
        _, _, history = train_conventional(config, data, parameters)
        for epoch, validation in enumerate(history["val_loss"], start=1):
            rows.append(dict(dataset=dataset, n_hidden=n_hidden, code_activation=activation,
                             learning_rate=rate, batch_size=batch, epoch=epoch,
                             validation_mse=float(validation), pca_validation_mse=pca))
        best = min(history["val_loss"])
        print(f"{dataset} {activation:8s} lr {rate:g} batch {batch:4d}: best validation "
              f"{best:.5f} (PCA {pca:.5f}) at epoch {int(np.argmin(history['val_loss'])) + 1}",
              flush=True)
    return pd.DataFrame(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    search(args.dataset, args.hidden, args.epochs).to_csv(args.out, index=False)


if __name__ == "__main__":
    main()

"""Every tuned row of the paper grid trains on both data sets without NaN or Inf.

A few hundred examples for one epoch per (row, data set): finite training
losses, finite weights and pulse times after training, a finite test error.
About 150 runs, each compiled anew, so it is marked slow: `make sweep` runs
it (`make test` deselects it), in two processes (pytest-xdist): XLA's
compiled code is never freed, and ~110 runs fill one process's memory maps
(`spikelib.compiled`).
"""

import numpy as np
import pytest

from spikelib.config import DATASETS, paper_config, paper_grid
from spikelib.experiment import train_and_test

ROWS = [(row["noise"], row["latency"], row["n_hidden"]) for row in paper_grid()]


@pytest.mark.slow
@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("noise, latency, n_hidden", ROWS,
                         ids=[f"noise{n:g}-latency{l:g}-hidden{h}" for n, l, h in ROWS])
def test_tuned_row_trains_finite(noise, latency, n_hidden, dataset):
    config = paper_config(noise, latency, n_hidden, dataset=dataset, train_examples=300,
                          validation_examples=100, test_examples=200, epochs=1, seed=0)
    model, results = train_and_test(config, progress=False)
    losses = [record["train_mse"] for record in results["history"]]
    assert np.all(np.isfinite(losses)), losses
    for weight in model.trainable_weights:
        values = np.asarray(weight)
        assert np.all(np.isfinite(values)), f"{weight.path} holds NaN or Inf"
    assert np.isfinite(results["test_mse"]) and results["test_mse"] >= 0.0
    assert results["health"] in ("ok", "dead", "input_blind", "off_target")

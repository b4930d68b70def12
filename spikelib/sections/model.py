"""Section "The neuron: one spike, in closed form" (no training).

A small layer with hand-made weights: the closed-form spike times of
`spike_times`, and a check that its custom gradient is the derivative of
that closed form (against central finite differences, float64: under JAX
this needs JAX_ENABLE_X64=1, see `spikelib.autodiff`).
"""

import numpy as np
from keras import ops

from spikelib.autodiff import tensor, value_and_gradient
from spikelib.neuron import spike_times
from spikelib.sections.schema import BUDGET, Table

DECAY_RATE, THRESHOLD = 1.0, 1.0
# Four input spikes; the third arrives through negative (inhibitory) weights.
INPUT_TIMES = np.array([[0.1, 0.4, 0.9, 1.5]])
WEIGHTS = np.array([[2.0, 1.2, 0.9],
                    [1.5, 1.0, 0.9],
                    [-1.0, -1.0, -2.5],
                    [0.5, 2.5, 2.0]])
NEURONS = ("A: fires early", "B: fires after the inhibition", "C: silenced by inhibition")
# Step of the central finite difference.
EPSILON = 1e-6

TABLES = {
    # d t* / d w of every input of every neuron that fires: custom gradient vs finite difference.
    "model_gradient_check": Table("model_gradient_check", {
        "neuron": "str", "input": "int", "input_time": "float", "weight": "float",
        "spike_time": "float", "autodiff": "float", "finite_difference": "float",
        "abs_error": "float", **BUDGET}),
}


def runs(profile):
    """Nothing is trained in this section."""
    return []


def closed_form(input_times, weights, decay_rate=DECAY_RATE, threshold=THRESHOLD):
    """Spike times (n_out,) of one example, float64, +inf where silent."""
    return ops.convert_to_numpy(spike_times(tensor(input_times, "float64"),
                                            tensor(weights, "float64"), decay_rate, threshold))[0]


def weight_gradients(input_times, weights, decay_rate=DECAY_RATE, threshold=THRESHOLD):
    """d t*_j / d w_ij of one example by the custom gradient, (n_in, n_out), unclipped."""
    inputs = tensor(input_times, "float64")
    columns = []
    for j in range(weights.shape[1]):
        def spike_time(w, j=j):
            return spike_times(inputs, w, decay_rate, threshold)[0, j]
        _, (gradient,) = value_and_gradient(spike_time, tensor(weights, "float64"))
        columns.append(gradient[:, j])
    return np.stack(columns, axis=1)


def finite_differences(input_times, weights, decay_rate=DECAY_RATE, threshold=THRESHOLD,
                       epsilon=EPSILON):
    """(t*(w + eps) - t*(w - eps)) / 2 eps for every weight, (n_in, n_out); NaN if silent."""
    result = np.full(weights.shape, np.nan)
    firing = np.isfinite(closed_form(input_times, weights, decay_rate, threshold))
    for i, j in np.ndindex(weights.shape):
        if not firing[j]:
            continue
        shifted = []
        for sign in (1.0, -1.0):
            w = weights.astype(np.float64).copy()
            w[i, j] += sign * epsilon
            shifted.append(closed_form(input_times, w, decay_rate, threshold)[j])
        result[i, j] = (shifted[0] - shifted[1]) / (2.0 * epsilon)
    return result


def gradient_check(input_times=INPUT_TIMES, weights=WEIGHTS, names=NEURONS):
    """One row per (firing neuron, input): autodiff, finite difference, their gap."""
    times = closed_form(input_times, weights)
    autodiff = weight_gradients(input_times, weights)
    numeric = finite_differences(input_times, weights)
    return [dict(neuron=names[j].split(":")[0], input=i + 1, input_time=input_times[0, i],
                 weight=weights[i, j], spike_time=times[j], autodiff=autodiff[i, j],
                 finite_difference=numeric[i, j],
                 abs_error=abs(autodiff[i, j] - numeric[i, j]))
            for j in range(weights.shape[1]) if np.isfinite(times[j])
            for i in range(weights.shape[0])]


def tables(profile, results):
    rows = [dict(row, **profile.budget()) for row in gradient_check()]
    return {"model_gradient_check": TABLES["model_gradient_check"].frame(rows)}

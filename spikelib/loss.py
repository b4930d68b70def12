"""The reconstruction loss and its reference gradient scale (the model page, loss).

Per output k: out_k = t_k - L, or 1.0 if the output is silent; the target
is the clean value (1.0 for black).  The reported error is the mean over
the 784 outputs of (out_k - target_k)^2.  Training descends the per-example
SUM 1/2 sum_k (out_k - target_k)^2, averaged over the batch: its gradient
t_k - L - target_k is the error the reference passes back, and the tuned
learning rates, clips and penalties assume that scale.
"""

from keras import ops


def _outputs_and_targets(output_times, clean_times, latency):
    fired = ops.isfinite(output_times)
    safe = ops.where(fired, output_times, latency + 1.0)
    outputs = ops.where(fired, safe - latency, 1.0)
    return outputs, ops.minimum(clean_times, 1.0)


def reconstruction_error(output_times, clean_times, latency):
    """Per-example mean squared spike-time error, shape (batch,)."""
    outputs, targets = _outputs_and_targets(output_times, clean_times, latency)
    return ops.mean(ops.square(outputs - targets), axis=-1)


def training_loss(output_times, clean_times, latency, example_weights=None):
    """Batch mean of 1/2 sum_k (out_k - target_k)^2: the reference's gradient scale.

    `example_weights` (batch,) of 1 and 0 average over the examples of
    weight 1 only (a partial batch padded to the full size).
    """
    outputs, targets = _outputs_and_targets(output_times, clean_times, latency)
    per_example = 0.5 * ops.sum(ops.square(outputs - targets), axis=-1)
    if example_weights is None:
        return ops.mean(per_example)
    return ops.sum(per_example * example_weights) / ops.sum(example_weights)

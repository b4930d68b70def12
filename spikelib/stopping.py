"""When training stops: one rule for the spiking and the conventional autoencoder.

Training stops once the validation error has not improved on its best by a
relative `min_delta` for `patience` epochs, epochs still on the mean-image
plateau not counted, or at the epoch cap (`config.Budget`).  Whether a run
stopped by the cap was still learning is judged by `spikelib.convergence`.
"""


def epochs_without_improvement(validation, best_error, since_improvement, min_delta,
                               plateau=None):
    """The count of epochs without improvement after an epoch with error `validation`.

    It restarts at 0 when `validation` beats `best_error` by the relative
    `min_delta`, or while the run is still on the plateau (`validation` at
    least `plateau`, an error; None: no plateau rule).
    """
    if validation < best_error * (1.0 - min_delta):
        return 0
    if plateau is not None and validation >= plateau:
        return 0
    return since_improvement + 1


def replay(validation, patience, min_delta, plateau=None):
    """The epoch (1-based) at which the rule stops a run with this validation curve.

    None when the curve ends before the rule stops it.  Replaying recorded
    curves is how a rule is checked against others: a run stopped later
    tells how much an earlier stop would have lost.
    """
    best_error, since_improvement = float("inf"), 0
    for epoch, error in enumerate(validation, start=1):
        since_improvement = epochs_without_improvement(error, best_error, since_improvement,
                                                       min_delta, plateau)
        best_error = min(best_error, error)
        if since_improvement >= patience:
            return epoch
    return None

"""When training stops: the rules that end a run before its epoch cap.

Training stops once the validation error has not improved by a relative
`min_delta` for `patience` epochs, epochs still on the mean-image plateau
not counted, or at the epoch cap (`config.Budget`).  Two rules judge
"improved":

- "each_epoch": every epoch is compared with the best so far; `patience`
  epochs in a row without a gain of `min_delta` stop the run.  A curve
  falling steadily by a little less than `min_delta` per epoch is stopped.
- "window": the best of the last `patience` epochs is compared with the
  best before them, the criterion `spikelib.convergence.still_learning`
  judges every run by; a run it stops is flat by that criterion.  The
  conventional autoencoder always stops so.

The window never stops a run earlier than the per-epoch rule: when the
best of the window misses the best before it by `min_delta`, so does each
epoch of the window miss the best so far.  Whether a run stopped by the
cap was still learning is judged by `spikelib.convergence`.
"""

from spikelib.convergence import still_learning


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


def window_flat(validation, patience, min_delta, on_plateau=None):
    """Whether the window rule stops a run after the epochs of `validation`.

    True when the last `patience` epochs are all off the mean-image plateau
    (`on_plateau`: per epoch, whether it was on it; None: no plateau rule)
    and together gained less than `min_delta` on the best before them.
    """
    if len(validation) <= patience:
        return False
    if on_plateau is not None and any(on_plateau[-patience:]):
        return False
    return not still_learning(validation, "patience", patience, min_delta)


def replay(validation, patience, min_delta, plateau=None, rule="each_epoch"):
    """The epoch (1-based) at which `rule` stops a run with this validation curve.

    `plateau`: the error at or above which an epoch is on the plateau, or
    the recorded per-epoch flags; None: no plateau rule.  None when the
    curve ends before the rule stops it.  Replaying recorded curves is how a
    rule is checked against others: a run stopped later tells how much an
    earlier stop would have lost.
    """
    if plateau is None:
        flags = [False] * len(validation)
    elif isinstance(plateau, (int, float)):
        flags = [error >= plateau for error in validation]
    else:
        flags = list(plateau)
    best_error, since_improvement = float("inf"), 0
    for epoch, (error, flat) in enumerate(zip(validation, flags), start=1):
        since_improvement = 0 if flat else epochs_without_improvement(
            error, best_error, since_improvement, min_delta)
        best_error = min(best_error, error)
        if rule == "window":
            if window_flat(validation[:epoch], patience, min_delta, flags[:epoch]):
                return epoch
        elif since_improvement >= patience:
            return epoch
    return None

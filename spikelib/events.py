"""Input spike times as "events": each example's non-silent inputs, sorted.

A silent input (+inf) adds nothing to the membrane potential and gets no
chain-rule gradient, and the sorted spike-time computation puts it last.
The training and test inputs are fixed (the noise is drawn once), so every
example's inputs are sorted once, here, and a layer is fed only the first
`width` of them with the weight row of each (`spike_times(...,
input_rows=...)`); `width` is the largest number of non-silent inputs in
the data, rounded up, so nothing that spikes is dropped.
"""

import dataclasses

import numpy as np

# Event widths are rounded up to a multiple of this (fewer distinct shapes).
WIDTH_STEP = 16


@dataclasses.dataclass
class Events:
    """times (n, width) ascending, +inf padded; rows (n, width) their input index."""

    times: np.ndarray
    rows: np.ndarray

    def __len__(self):
        return len(self.times)

    @property
    def width(self):
        return self.times.shape[1]

    def take(self, index):
        """The events of examples `index` (an array of indices or a slice)."""
        return Events(self.times[index], self.rows[index])


def event_width(counts, step=WIDTH_STEP):
    """Largest count rounded up to a multiple of `step` (at least `step`)."""
    largest = int(np.max(counts, initial=0))
    return max(step, -(-largest // step) * step)


def to_events(times, width=None):
    """Sort each example's input times; keep the first `width` (default: all non-silent).

    The times stay float64 if they are, else become float32.
    """
    times = np.asarray(times)
    times = times.astype(np.float64 if times.dtype == np.float64 else np.float32)
    order = np.argsort(times, axis=1, kind="stable")
    if width is None:
        width = min(event_width(np.isfinite(times).sum(axis=1)), times.shape[1])
    order = order[:, :width]
    rows = order.astype(np.int16 if times.shape[1] < 2 ** 15 else np.int32)
    return Events(np.take_along_axis(times, order, axis=1), rows)

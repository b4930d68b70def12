"""One look for every figure of the book: seaborn theme, image grids, saving."""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

PALETTE = "colorblind"


def set_theme():
    """The book's seaborn theme; call once at the top of a notebook."""
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE,
                  rc={"figure.dpi": 110, "savefig.dpi": 150, "savefig.bbox": "tight"})


def image_grid(rows, n_columns=8, cell=0.9):
    """A figure with one row of images per (label, images) pair of `rows` (a dict).

    Images are arrays of shape (n, 28, 28) with values in [0, 1] (or uint8).
    """
    fig, axes = plt.subplots(len(rows), n_columns, squeeze=False,
                             figsize=(cell * n_columns + 1.2, cell * len(rows)))
    for axes_row, (label, images) in zip(axes, rows.items()):
        images = np.asarray(images)
        scale = 255.0 if images.dtype == np.uint8 else 1.0
        for column, ax in enumerate(axes_row):
            ax.imshow(images[column].reshape(28, 28) / scale, cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
        axes_row[0].set_ylabel(label, rotation=0, ha="right", va="center")
    fig.subplots_adjust(wspace=0.05, hspace=0.05)
    return fig


def save_figure(fig, root, name):
    """Write figures/<name>.png under a results folder; returns the path."""
    path = Path(root) / "figures" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path

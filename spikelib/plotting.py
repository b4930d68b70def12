"""One look for every figure of the book: seaborn theme, image grids, saving."""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

PALETTE = "colorblind"


# Figures are drawn for 110 dots per inch on the page and rendered at twice
# that density, so they stay sharp on high-density screens.
DPI = 110


def set_theme():
    """The book's seaborn theme; call once at the top of a notebook.

    In a notebook kernel, inline figures become "retina" PNGs: twice the
    pixels, shown at the size they were drawn for.  Saved figures get the
    same density.
    """
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE,
                  rc={"figure.dpi": DPI, "savefig.dpi": 2 * DPI, "savefig.bbox": "tight"})
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:
        return
    if get_ipython() is not None:
        set_matplotlib_formats("retina")


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

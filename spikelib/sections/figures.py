"""Figure pieces the chapters share: names, widths, health marks, learning curves.

A run whose `health` is not "ok" (a dead, input-blind or off-target network) is drawn
as a hollow grey marker and left out of every mean line: it is not a result.
"""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D

DATASET_NAMES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}
# Figure widths in inches: one panel, or a wide figure of panels.
SINGLE, WIDE = 6.4, 9.6
UNHEALTHY = dict(marker="o", facecolors="none", edgecolors="0.55", s=46, linewidths=1.2,
                 zorder=4)
UNHEALTHY_LABEL = "dead, input-blind or off-target network"
IDENTITY = ["dataset", "noise", "latency", "n_hidden", "seed"]


def dataset_name(dataset):
    return DATASET_NAMES.get(dataset, dataset)


def unhealthy_handle():
    """Legend entry for the hollow grey marker of unhealthy runs."""
    return Line2D([], [], linestyle="none", marker="o", markerfacecolor="none",
                  markeredgecolor="0.55", markersize=7, label=UNHEALTHY_LABEL)


def runs_and_mean(ax, frame, x, y="test_mse", color=None, label=None, marker="o"):
    """Every healthy seed as a small dot, their mean as a line; unhealthy runs hollow grey.

    Returns True when some run of `frame` is unhealthy.
    """
    healthy = frame[frame["health"] == "ok"]
    line = ax.plot([], [], marker=marker, color=color, label=label)[0]
    color = line.get_color()
    if len(healthy):
        means = healthy.groupby(x)[y].mean().sort_index()
        line.set_data(means.index.to_numpy(), means.to_numpy())
        ax.scatter(healthy[x], healthy[y], s=14, color=color, alpha=0.55, zorder=3)
    unhealthy = frame[frame["health"] != "ok"]
    if len(unhealthy):
        ax.scatter(unhealthy[x], unhealthy[y], **UNHEALTHY)
    return bool(len(unhealthy))


def learning_curves(curves, runs, hue, hue_label, references=None, log=False):
    """Test error per epoch of every run, one panel per data set, one colour per `hue`.

    `runs` (the section's run table) gives each run's health: unhealthy runs
    are drawn grey and dashed.  `references[dataset]` lists (label, value,
    style) horizontal lines, e.g. the mean-image error.
    """
    frame = curves.merge(runs[IDENTITY + ["health"]], on=IDENTITY, how="left")
    datasets = list(dict.fromkeys(frame["dataset"]))
    values = sorted(frame[hue].unique())
    colours = dict(zip(values, plt.get_cmap("viridis")(np.linspace(0.0, 0.85, len(values)))))
    fig, axes = plt.subplots(1, len(datasets), figsize=(WIDE, 3.6), squeeze=False,
                             sharey=False)
    for ax, dataset in zip(axes[0], datasets):
        part = frame[frame["dataset"] == dataset]
        for key, run in part.groupby(IDENTITY):
            run = run.sort_values("epoch")
            ok = (run["health"] == "ok").all()
            value = run[hue].iloc[0]
            ax.plot(run["epoch"], run["test_mse"], marker="o", markersize=4,
                    color=colours[value] if ok else "0.55", linestyle="-" if ok else "--",
                    markerfacecolor=None if ok else "none")
        for label, value, style in (references or {}).get(dataset, []):
            ax.axhline(value, linewidth=1.2, label=label, **style)
        ax.set_title(dataset_name(dataset))
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        if log:
            ax.set_yscale("log")
    axes[0, 0].set_ylabel("test MSE")
    handles = [Line2D([], [], color=colours[v], marker="o", label=f"{hue_label} {v:g}")
               for v in values]
    handles += [h for h in axes[0, 0].get_legend_handles_labels()[0]]
    if (frame["health"] != "ok").any():
        handles.append(Line2D([], [], color="0.55", linestyle="--", marker="o",
                              markerfacecolor="none", label=UNHEALTHY_LABEL))
    fig.legend(handles=handles, loc="upper center", ncol=min(len(handles), 4),
               bbox_to_anchor=(0.5, 1.0), frameon=False, fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.86 if len(handles) <= 4 else 0.8))
    return fig


def summary_figure(comparison):
    """Test MSE per embedding size of the spiking AE, conventional AE, PCA and the mean image.

    `comparison` is the comparison section's run table.  Means over the
    healthy seeds; a hollow marker is a mean that includes a run still
    learning when it stopped.
    """
    datasets = list(dict.fromkeys(comparison["dataset"]))
    fig, axes = plt.subplots(1, len(datasets), figsize=(WIDE, 3.4), squeeze=False)
    styles = {"sae": ("spiking AE", "C0", "o"), "ann": ("conventional AE", "C1", "s")}
    for ax, dataset in zip(axes[0], datasets):
        part = comparison[(comparison["dataset"] == dataset) & (comparison["health"] == "ok")]
        for model, (label, colour, marker) in styles.items():
            rows = part[part["model"] == model].groupby("n_hidden").agg(
                test_mse=("test_mse", "mean"), still_learning=("still_learning", "any"))
            ax.plot(rows.index, rows["test_mse"], color=colour, label=label)
            for n_hidden, row in rows.iterrows():
                ax.plot([n_hidden], [row.test_mse], marker=marker, color=colour,
                        markerfacecolor="white" if row.still_learning else colour)
        pca = comparison[comparison["dataset"] == dataset].groupby("n_hidden")["pca_mse"].mean()
        ax.plot(pca.index, pca.to_numpy(), color="0.35", linestyle="-.", label="PCA, same size")
        ax.axhline(comparison.loc[comparison["dataset"] == dataset, "mean_image_mse"].mean(),
                   color="0.4", linestyle=":", label="mean image")
        sizes = sorted(comparison["n_hidden"].unique())
        ax.set_xscale("log", base=2)
        ax.set_xticks(sizes, [str(n) for n in sizes])
        ax.minorticks_off()
        ax.set_yscale("log")
        ax.set_title(dataset_name(dataset))
        ax.set_xlabel("hidden neurons (embedding size)")
    axes[0, 0].set_ylabel("test MSE (log scale)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(labels), frameon=False,
               fontsize=9, bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    return fig


def grid_heat_maps(table, datasets, sizes, noise_levels, latencies, value="test_mse",
                   scale=None, label="test MSE", fmt="{:.3f}"):
    """One heat map of `value` over noise (rows) x latency (columns) per data set
    (figure rows) and embedding size (columns); a cell without a finished run
    is blank with a dash, an unhealthy run's blank with an "x".

    `scale`: a column to divide `value` by (e.g. "pca_mse"), shown as a ratio.
    """
    fig, axes = plt.subplots(len(datasets), len(sizes), squeeze=False, layout="constrained",
                             figsize=(WIDE, 2.6 * len(datasets) + 0.4))
    cells = np.full((len(datasets), len(sizes), len(noise_levels), len(latencies)), np.nan)
    unhealthy = np.zeros(cells.shape, bool)
    for _, row in table.iterrows():
        index = (datasets.index(row["dataset"]), sizes.index(row["n_hidden"]),
                 noise_levels.index(row["noise"]), latencies.index(row["latency"]))
        cells[index] = row[value] / (row[scale] if scale else 1.0)
        unhealthy[index] = row["health"] != "ok"
    shown = np.where(unhealthy, np.nan, cells)
    finite = shown[np.isfinite(shown)]
    limits = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
    middle = (limits[0] + limits[1]) / 2
    for d, dataset in enumerate(datasets):
        for s, n_hidden in enumerate(sizes):
            ax = axes[d, s]
            image = ax.imshow(shown[d, s], cmap="viridis_r", vmin=limits[0], vmax=limits[1],
                              aspect="auto")
            for i in range(len(noise_levels)):
                for j in range(len(latencies)):
                    cell = shown[d, s, i, j]
                    text = ("x" if unhealthy[d, s, i, j] else "–" if not np.isfinite(cell)
                            else fmt.format(cell))
                    light = np.isfinite(cell) and cell > middle
                    ax.text(j, i, text, ha="center", va="center", fontsize=7,
                            color="white" if light else "0.15")
            ax.set_xticks(range(len(latencies)), [f"{v:g}" for v in latencies])
            ax.set_yticks(range(len(noise_levels)),
                          [f"{v:g}" for v in noise_levels] if s == 0 else [])
            ax.grid(False)
            ax.set_title(f"{dataset_name(dataset)}, {n_hidden} hidden", fontsize=10)
            if d == len(datasets) - 1:
                ax.set_xlabel("target latency")
            if s == 0:
                ax.set_ylabel("noise")
    fig.colorbar(image, ax=axes, shrink=0.85, label=label)
    return fig

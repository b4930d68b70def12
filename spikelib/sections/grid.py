"""Section "The whole grid": every tuned row of the paper on every data set.

Every (noise, latency, embedding size) row of the authors' grid on each
data set of the profile and each seed, beside the references of the same
data: the mean image, PCA with as many components as the embedding, and the
conventional autoencoder of the same size (the comparison section's runs,
noise 0).  Only a profile with `full_grid` (the `grid` profile) trains it;
for the others its plan is empty.
"""

from spikelib.analysis import reference_errors
from spikelib.runs import Run
from spikelib.sections import comparison
from spikelib.sections.common import CURVE, RUN, curve_rows, run_row
from spikelib.sections.schema import Table

TABLES = {
    # One row per data set, grid row and seed, with the references of its data and size.
    "grid": Table("grid", {**RUN, "mean_image_mse": "float", "pca_mse": "float",
                           "ann_mse": "float"}),
    "grid_curves": Table("grid_curves", CURVE),
}


def rows(profile):
    """(dataset, noise, latency, n_hidden, seed) of every spiking run, in grid order."""
    if not profile.full_grid:
        return []
    return [(dataset, noise, latency, n_hidden, seed) for dataset in profile.datasets
            for n_hidden in profile.hidden_sizes for noise in profile.noise_levels
            for latency in profile.latencies for seed in profile.seeds]


def run(profile, dataset, noise, latency, n_hidden, seed):
    """The spiking run of one grid row on `dataset` with `seed`."""
    return Run("sae", profile.config(dataset, noise=noise, latency=latency, n_hidden=n_hidden,
                                     seed=seed))


def conventional_runs(profile):
    """The conventional autoencoder of every data set, size and seed (noise 0)."""
    if not profile.full_grid:
        return []
    return [comparison.run(profile, dataset, n_hidden, seed, "ann")
            for dataset in profile.datasets for n_hidden in profile.hidden_sizes
            for seed in profile.seeds]


def runs(profile):
    return [run(profile, *row) for row in rows(profile)] + conventional_runs(profile)


def tables(profile, results, finished_only=False):
    """The grid tables; `finished_only`: of the runs finished so far (a
    campaign in progress), the others left out."""
    table, curves, conventional = [], [], {}
    for item in conventional_runs(profile):
        if finished_only and not results.store.is_done(item):
            continue
        config = item.config
        conventional[(config.data.dataset, config.network.n_hidden, config.seed)] = \
            results(item)["test_mse"]
    for row in rows(profile):
        item = run(profile, *row)
        if finished_only and not results.store.is_done(item):
            continue
        found = results(item)
        dataset, _, _, n_hidden, seed = row
        table.append(dict(**run_row(profile, item, found), **reference_errors(item.config),
                          ann_mse=conventional.get((dataset, n_hidden, seed), float("nan"))))
        curves.extend(curve_rows(profile, item, found))
    return {"grid": TABLES["grid"].frame(table),
            "grid_curves": TABLES["grid_curves"].frame(curves)}


def claims_progress(profile="grid"):
    """[{claim, section, finished, planned, verdict, figures}] of the claims `profile`
    shows; `figures`: what the verdict rests on, as `spikelib.claims.check` gives it,
    with its caveats.

    A claim gets its verdict (`spikelib.claims.check`) only once every run
    of its section has finished; until then it is "pending": a campaign in
    progress gives no verdict, whichever way its finished runs point.
    """
    from spikelib import claims, sections
    from spikelib.claims_html import label, number
    from spikelib.shipped import adopt
    results = sections.Results(profile)
    rows = []
    for claim_id in results.profile.shows_claims:
        name = claims.CLAIMS[claim_id][1]
        planned = sections.section(name).runs(results.profile)
        adopt([item for item in planned if not results.store.is_done(item)], results.store)
        finished = sum(results.store.is_done(item) for item in planned)
        verdict, figures = "pending", ""
        if finished == len(planned):
            sections.load(name, results.profile, progress=False)
            found = claims.check(claim_id, results.profile)
            verdict = found.status
            figures = " ".join(["; ".join(f"{label(name)}: {number(value)}"
                                          for name, value in found.figures.items()) + ".",
                                *found.caveats])
        rows.append(dict(claim=claim_id, section=name, finished=finished,
                         planned=len(planned), verdict=verdict, figures=figures))
    return rows


def shipped_progress(profile="grid", folder=None):
    """How much of the campaign the repository ships for the present code:
    {"pairs", "planned_pairs"} of (row, data set) pairs (one seed), and
    {"conventional", "planned_conventional"} autoencoders."""
    from spikelib.profiles import get_profile
    from spikelib.shipped import SHIPPED, shipped_for
    profile = get_profile(getattr(profile, "name", profile))
    spiking = [run(profile, *row) for row in rows(profile)]
    conventional = conventional_runs(profile)
    folder = folder or SHIPPED
    return dict(pairs=len(shipped_for(spiking, folder)), planned_pairs=len(spiking),
                conventional=len(shipped_for(conventional, folder)),
                planned_conventional=len(conventional))


def campaign(profile="grid"):
    """(Results, tables) of the grid campaign as far as it has come, training nothing.

    The runs the repository ships for the present code are copied in first
    (`spikelib.shipped`), so a fresh clone shows the shipped campaign.
    """
    from spikelib.sections import Results
    from spikelib.shipped import adopt
    results = Results(profile)
    planned = runs(results.profile)
    adopt([item for item in planned if not results.store.is_done(item)], results.store)
    return results, tables(results.profile, results, finished_only=True)

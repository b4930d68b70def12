"""The sections of the paper as library modules; the notebooks present them.

Each section module (`datasets`, `latencies`, ...) declares

- `TABLES`: its tables' column schemas (`schema.Table`), defined once;
- `runs(profile) -> list[Run]`: every training it needs;
- `tables(profile, results) -> dict[str, DataFrame]`: every table its
  chapter and the claims use, computed from finished runs (`results` is a
  `Results`: results dicts, trained models and prepared data).

`compute(name, profile)` is what a notebook calls: it trains whatever of
the section's runs is missing through the runner (`spikelib.runner`, the
same plan executor and store as `make runs`), computes the tables, writes
them to `results/<profile>/tables/` and returns them.  `plan(profile)` is
the union of every section's runs.
"""

import dataclasses
import importlib

from spikelib.profiles import get_profile
from spikelib.runs import unique
from spikelib.store import Store, results_root, write_table

# In book order.
SECTIONS = ("model", "datasets", "latencies", "noise", "embedding_sizes", "classification",
            "inhibition", "comparison", "fidelity", "grid")


def section(name):
    """The section module `name` (e.g. "latencies")."""
    if name not in SECTIONS:
        raise ValueError(f"unknown section {name!r}; the sections are {', '.join(SECTIONS)}")
    return importlib.import_module(f"spikelib.sections.{name}")


def plan(profile):
    """Every run of every section under `profile`, duplicates merged by key."""
    profile = get_profile(getattr(profile, "name", profile))
    return unique(run for name in SECTIONS if profile.covers(name)
                  for run in section(name).runs(profile))


class Results:
    """Finished runs of one profile: results dicts, trained models, prepared data."""

    def __init__(self, profile):
        self.profile = get_profile(getattr(profile, "name", profile))
        self.root = results_root(self.profile)
        self.store = Store(self.root)

    def __call__(self, run):
        """The results dict of a finished run."""
        return self.store.results(run)

    def model(self, run):
        return self.store.model(run)

    def data(self, config):
        from spikelib.experiment import prepare_data
        return prepare_data(config)


@dataclasses.dataclass
class SectionResults:
    """What a notebook gets: the section's tables, and access to its runs."""

    name: str
    profile: object
    tables: dict
    results: Results


def compute(name, profile, train_missing=True, progress=True, **runner_options):
    """The tables of section `name` under `profile`, training missing runs first."""
    module = section(name)
    results = Results(profile)
    missing = [run for run in module.runs(results.profile) if not results.store.is_done(run)]
    if missing:
        if not train_missing:
            raise FileNotFoundError(f"section {name}: {len(missing)} runs of profile "
                                    f"{results.profile.name} are not trained; run "
                                    f"`make runs PROFILE={results.profile.name}`")
        from spikelib.runner import run_plan
        summary = run_plan(missing, results.root, progress=progress, **runner_options)
        if not summary.ok:
            raise RuntimeError(summary.report())
    frames = module.tables(results.profile, results)
    for table_name, frame in frames.items():
        write_table(module.TABLES[table_name].frame(frame), results.root, table_name)
    return SectionResults(name, results.profile, frames, results)


def read(name, profile, tables=None):
    """The written tables of section `name` (all, or those named), checked; no training."""
    module = section(name)
    root = results_root(get_profile(getattr(profile, "name", profile)))
    names = module.TABLES if tables is None else tables
    return {table_name: module.TABLES[table_name].read(root) for table_name in names}

"""The sections of the paper as library modules; the notebooks present them.

Each section module (`datasets`, `latencies`, ...) declares

- `TABLES`: its tables' column schemas (`schema.Table`), defined once;
- `runs(profile) -> list[Run]`: every training it needs;
- `tables(profile, results) -> dict[str, DataFrame]`: every table its
  chapter and the claims use, computed from finished runs (`results` is a
  `Results`: results dicts, trained models and prepared data).

`compute(name, profile)` trains whatever of the section's runs is missing
through the runner (`spikelib.runner`, the same plan executor and store as
`make runs`), computes the tables, writes them to
`results/<profile>/tables/` with a stamp of what they were computed from
(the keys of the section's runs, the library's code and the Keras backend
that evaluates the models) and returns them.
`load(name, profile)` is what a notebook calls: the written tables while
their stamp matches, `compute` otherwise.  `make tables` (this module's
command line) computes every section between the runs and the notebooks.
`plan(profile)` is the union of every section's runs (`plan(profile, only)`: of
some sections, e.g. a campaign's runs that the claims read first).
"""

import dataclasses
import functools
import hashlib
import importlib
import json
import time
from pathlib import Path

from spikelib.profiles import get_profile
from spikelib.runs import keras_backend, unique
from spikelib.store import Store, results_root, write_table

# The last `make tables`: seconds and status of each section, in results/<profile>/.
TIMING = "tables.json"
# In book order.
SECTIONS = ("model", "datasets", "latencies", "noise", "embedding_sizes", "classification",
            "inhibition", "comparison", "fidelity", "grid")


def section(name):
    """The section module `name` (e.g. "latencies")."""
    if name not in SECTIONS:
        raise ValueError(f"unknown section {name!r}; the sections are {', '.join(SECTIONS)}")
    return importlib.import_module(f"spikelib.sections.{name}")


def plan(profile, only=None):
    """Every run of every section under `profile` (or of the sections `only`),
    duplicates merged by key."""
    profile = get_profile(getattr(profile, "name", profile))
    return unique(run for name in SECTIONS if profile.covers(name) and (not only or name in only)
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

    def table_data(self, config):
        """The test split (noisy, clean) and clean training images of a run's data:
        `data` without noising the training and validation splits."""
        from spikelib.analysis import table_data
        return table_data(config.data, config.seed)


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
    frames = {table_name: module.TABLES[table_name].frame(frame)
              for table_name, frame in module.tables(results.profile, results).items()}
    for table_name, frame in frames.items():
        write_table(frame, results.root, table_name)
    _stamp_path(results.root, name).write_text(json.dumps(_stamp(module, results)) + "\n")
    return SectionResults(name, results.profile, frames, results)


def load(name, profile, progress=True, **runner_options):
    """The tables of section `name`: as written, if computed from the present runs and
    code (`make tables`); computed (training what is missing) otherwise."""
    module = section(name)
    results = Results(profile)
    path = _stamp_path(results.root, name)
    if path.exists() and json.loads(path.read_text()) == _stamp(module, results):
        frames = {table_name: table.read(results.root)
                  for table_name, table in module.TABLES.items()}
        return SectionResults(name, results.profile, frames, results)
    return compute(name, profile, progress=progress, **runner_options)


@functools.cache
def library_digest():
    """Hash of spikelib's code and package data: what a table is computed with."""
    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.suffix in (".py", ".csv") and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(package)).encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def _stamp(module, results):
    runs = module.runs(results.profile)
    return dict(runs=sorted(run.key for run in runs),
                done=sum(results.store.is_done(run) for run in runs), code=library_digest(),
                backend=keras_backend())


def _stamp_path(root, name):
    return Path(root) / "tables" / f"{name}.stamp.json"


def compute_all(profile, only=None, force=False, progress=print):
    """`make tables`: every section `profile` covers (or those in `only`), in book order;
    [(section, seconds, "computed" | "up to date")]."""
    profile = get_profile(getattr(profile, "name", profile))
    done = []
    for name in SECTIONS:
        if not profile.covers(name) or (only and name not in only):
            continue
        started = time.perf_counter()
        root = results_root(profile)
        stamp = _stamp_path(root, name)
        fresh = (not force and stamp.exists()
                 and json.loads(stamp.read_text()) == _stamp(section(name), Results(profile)))
        if not fresh:
            compute(name, profile, progress=False)
        done.append((name, time.perf_counter() - started, "up to date" if fresh else "computed"))
        progress(f"tables of {name}: {done[-1][2]} ({done[-1][1]:.0f} s)")
    if not only:
        timing = {name: dict(seconds=seconds, status=status) for name, seconds, status in done}
        (results_root(profile) / TIMING).write_text(json.dumps(timing, indent=1) + "\n")
    return done


def tables_seconds(profile):
    """Seconds the last `make tables` of `profile` computed for (None: not run)."""
    path = results_root(get_profile(getattr(profile, "name", profile))) / TIMING
    if not path.exists():
        return None
    return sum(entry["seconds"] for entry in json.loads(path.read_text()).values())


def read(name, profile, tables=None):
    """The written tables of section `name` (all, or those named), checked; no training."""
    module = section(name)
    root = results_root(get_profile(getattr(profile, "name", profile)))
    names = module.TABLES if tables is None else tables
    return {table_name: module.TABLES[table_name].read(root) for table_name in names}

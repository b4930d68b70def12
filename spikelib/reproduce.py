"""Run every notebook of the book under one profile: `python -m spikelib.reproduce --profile ci`.

For each section notebook `notebooks/NN_name.md` in order, then the book's own
executed pages (`book/claims.md`, `book/rerun.md`): convert the MyST notebook
to .ipynb with jupytext, execute it with papermill on the `spikelib` kernel
with `profile` injected as a parameter (and `SPIKELIB_PROFILE` set in the
environment), and write the executed notebook to `book/chapters/<name>.ipynb`,
where the Jupyter Book picks it up (the book itself never executes anything).

Each executed notebook records what it was built from in its metadata
(`BUILD_KEY`: profile, UTC time, spikelib's version and `git describe` of the
code), which the book's footer shows (`book/_ext/build_info.py`), and hides
its parameter cells (the default one and the one papermill injects).

One progress line is printed per notebook.  With `--jobs N` the section
notebooks run N at a time, each in a process of its own (they only read
their sections' tables, which `make tables` computed before; the book's own
pages, which read the sections' results and timings, run after them, one by
one).  The run stops at the first failing notebook (no further notebook is
started; those running finish), reports the cell and its error and where
the partial output notebook is, and exits with status 1.  Timings, statuses
and package versions go to `results/<profile>/reproduce.json` (rewritten
after every notebook, so a page executed later in the run can read the
earlier timings).
"""

import argparse
import concurrent.futures
import contextlib
import datetime
import json
import multiprocessing
import os
import platform
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from spikelib.versions import BOOK_PACKAGES, package_versions

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
BOOK = ROOT / "book"
CHAPTERS = BOOK / "chapters"
KERNEL = "spikelib"
# The book's own executed pages, run after the sections in this order.
BOOK_PAGES = ("claims", "rerun", "intro")
# Notebook metadata key of the build record (read by book/_ext/build_info.py).
BUILD_KEY = "spikelib_build"
# Cells that set the profile: the notebook's default and papermill's injected one.
PARAMETER_TAGS = ("parameters", "injected-parameters")
_SECTION = re.compile(r"^\d\d_[A-Za-z0-9_]+\.md$")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def notebook_sources(notebooks=None, book=None):
    """[(name, source .md)] in run order: the numbered sections, then the book pages."""
    notebooks = NOTEBOOKS if notebooks is None else notebooks
    book = BOOK if book is None else book
    sections = sorted(path for path in Path(notebooks).glob("*.md") if _SECTION.match(path.name))
    pages = [Path(book) / f"{name}.md" for name in BOOK_PAGES]
    return [(path.stem, path) for path in sections] + [
        (path.stem, path) for path in pages if path.exists()]


def select(sources, only):
    """The sources named by --only: an exact name, its number ("03") or its suffix ("latencies")."""
    if not only:
        return sources
    wanted = set()
    for item in only:
        hits = [(name, path) for name, path in sources
                if item in (name, name.split("_", 1)[0], name.split("_", 1)[-1])]
        if not hits:
            raise SystemExit(f"reproduce: no notebook matches {item!r}; known: "
                             + ", ".join(name for name, _ in sources))
        wanted.update(name for name, _ in hits)
    return [(name, path) for name, path in sources if name in wanted]


def _git(*arguments):
    """The output of `git arguments` in the repository, or None outside a git checkout."""
    try:
        return subprocess.run(["git", *arguments], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip() or None
    except (OSError, subprocess.CalledProcessError):
        return None


def versions():
    """Versions of the interpreter, the packages the book depends on, and the commit."""
    found = package_versions(BOOK_PACKAGES)
    for key, arguments in (("git_commit", ("rev-parse", "HEAD")),
                           ("git_describe", ("describe", "--always", "--dirty"))):
        value = _git(*arguments)
        if value:
            found[key] = value
    return found


def build_record(profile, found=None):
    """What a notebook executed now is built from: profile, UTC time, spikelib and commit.

    `found` are `versions()` (computed when not given); `commit` is `git describe
    --always --dirty` ("-dirty": the tree had uncommitted changes), None outside git.
    """
    found = versions() if found is None else found
    return {"profile": profile,
            "executed": datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds"),
            "spikelib": found.get("spikelib"), "commit": found.get("git_describe")}


def run_seconds(results):
    """Seconds a finished run spent training and evaluating, from its results dict.

    `train_seconds` covers one training session; a run resumed from a
    checkpoint (`resumed_from_epoch` > 0) adds the training and evaluation
    seconds its history records for the epochs before it.
    """
    seconds = float(results.get("train_seconds", 0.0))
    resumed = results.get("resumed_from_epoch") or 0
    history = results.get("history")
    if resumed and isinstance(history, list):
        seconds += sum(record.get("train_seconds", 0.0) + record.get("evaluation_seconds", 0.0)
                       for record in history if record.get("epoch", 0) <= resumed)
    return seconds


def training_time(profile):
    """What training the runs of `profile`'s plan took, from their records.

    {"planned": runs in the plan, "finished": finished runs, "seconds": the sum
    of their `run_seconds`, "busiest_worker": the largest sum over the runs of
    one worker (a lower bound on the runner's wall time, its workers training
    side by side), "workers": distinct workers, "shipped": finished runs
    copied from the shipped runs (their seconds are those of the machine
    that made them)}.
    """
    from spikelib.sections import plan
    from spikelib.store import Store, results_root
    store = Store(results_root(profile))
    runs = plan(profile)
    per_worker = {}
    finished = shipped = 0
    for item in store.finished(runs):
        shipped += store.is_shipped(item)
        results = store.results(item)
        worker = results.get("worker") or f"{results.get('host', '')}:{results.get('pid', '')}"
        per_worker[worker] = per_worker.get(worker, 0.0) + run_seconds(results)
        finished += 1
    return {"planned": len(runs), "finished": finished,
            "seconds": sum(per_worker.values()),
            "busiest_worker": max(per_worker.values(), default=0.0),
            "workers": len(per_worker), "shipped": shipped}


def notebook_seconds(report, leave_out=("rerun",)):
    """Wall seconds of the notebooks a `reproduce.json` report timed, without those
    `leave_out`: the sections' wall time where they ran side by side
    (`sections_wall_seconds`), plus the seconds of each other notebook."""
    notebooks = report.get("notebooks", {})
    side_by_side = report.get("sections_wall_seconds")
    return (side_by_side or 0.0) + sum(
        entry.get("seconds", 0.0) for name, entry in notebooks.items()
        if name not in leave_out and not (side_by_side is not None and name not in BOOK_PAGES))


def check_kernel():
    """Fail early, with the fix, when the `spikelib` Jupyter kernel is not registered."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    try:
        KernelSpecManager().get_kernel_spec(KERNEL)
    except NoSuchKernel:
        raise SystemExit(f"reproduce: the Jupyter kernel {KERNEL!r} is not registered; run "
                         "`make kernel` (or: .venv/bin/python -m ipykernel install --sys-prefix "
                         f"--name {KERNEL} --display-name \"Python 3 (spikelib)\")") from None


def to_ipynb(source, destination):
    """MyST Markdown notebook -> .ipynb (unexecuted)."""
    import jupytext
    notebook = jupytext.read(source, fmt="md:myst")
    notebook.metadata["kernelspec"] = {"name": KERNEL, "display_name": "Python 3 (spikelib)",
                                       "language": "python"}
    jupytext.write(notebook, destination, fmt="ipynb")


def tidy_output(path, record=None):
    """Hide the parameter cells of an executed notebook and store its build `record`.

    The default `parameters` cell and papermill's `injected-parameters` cell get
    the `remove-cell` tag: the profile is stated in each page's footer, not as
    code.  `record` (see `build_record`) goes to the notebook's metadata.
    """
    import nbformat
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if any(tag in tags for tag in PARAMETER_TAGS) and "remove-cell" not in tags:
            cell.metadata["tags"] = [*tags, "remove-cell"]
    if record is not None:
        notebook.metadata[BUILD_KEY] = record
    nbformat.write(notebook, path)


@contextlib.contextmanager
def stderr_to(path):
    """Send this process's stderr file descriptor, inherited by the kernel, to `path`.

    The kernel's own chatter (TensorFlow start-up logs, ipykernel warnings) then
    goes to a log file instead of interleaving with the progress lines.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "wb") as log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def execute(name, source, profile, chapters=None, timeout=None, log=None, found=None):
    """Execute one notebook; returns the path of the executed notebook. Raises on failure.

    `found` are the `versions()` recorded in the notebook (computed when not given).
    """
    import papermill
    chapters = CHAPTERS if chapters is None else Path(chapters)
    chapters.mkdir(parents=True, exist_ok=True)
    unexecuted = chapters / f".{name}.input.ipynb"
    output = chapters / f"{name}.ipynb"
    to_ipynb(source, unexecuted)
    try:
        with stderr_to(log) if log else contextlib.nullcontext():
            papermill.execute_notebook(
                str(unexecuted), str(output), parameters={"profile": profile},
                kernel_name=KERNEL, cwd=str(source.parent), progress_bar=False,
                log_output=False, execution_timeout=timeout)
    finally:
        unexecuted.unlink(missing_ok=True)
    tidy_output(output, build_record(profile, found))
    return output


class NotebookFailure(Exception):
    """A notebook's error as papermill reports it (cell, exception, traceback),
    in a form a worker process can hand back."""

    def __init__(self, ename, evalue, cell_index=None, exec_count=None, traceback=(),
                 interrupted=False):
        super().__init__(f"{ename}: {evalue}")
        self.ename, self.evalue = ename, evalue
        self.cell_index, self.exec_count = cell_index, exec_count
        self.traceback, self.interrupted = list(traceback), interrupted

    def __reduce__(self):
        return (NotebookFailure, (self.ename, self.evalue, self.cell_index, self.exec_count,
                                  self.traceback, self.interrupted))

    @classmethod
    def of(cls, error):
        return cls(getattr(error, "ename", type(error).__name__),
                   str(getattr(error, "evalue", error)), getattr(error, "cell_index", None),
                   getattr(error, "exec_count", None), getattr(error, "traceback", None) or (),
                   isinstance(error, KeyboardInterrupt))


def _execute_timed(name, source, profile, timeout, log, found, chapters):
    """(name, seconds, NotebookFailure or None) of one notebook (in any process)."""
    start = time.perf_counter()
    try:
        execute(name, source, profile, chapters=chapters, timeout=timeout, log=log, found=found)
    except (Exception, KeyboardInterrupt) as error:
        return name, time.perf_counter() - start, NotebookFailure.of(error)
    return name, time.perf_counter() - start, None


def _executed(items, jobs, arguments, starting):
    """(name, seconds, failure) of each notebook of `items` as it finishes: one by one
    in this process (`starting(name)` called first), or `jobs` at a time in worker
    processes.  After a failure no further notebook is started."""
    if jobs <= 1 or len(items) <= 1:
        for name, source in items:
            starting(name)
            result = _execute_timed(name, source, *arguments(name))
            yield result
            if result[2] is not None:
                return
        return
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        pending = [pool.submit(_execute_timed, name, source, *arguments(name))
                   for name, source in items]
        try:
            for future in concurrent.futures.as_completed(pending):
                if future.cancelled():
                    continue
                result = future.result()
                yield result
                if result[2] is not None:
                    for other in pending:
                        other.cancel()
        except BaseException:
            for other in pending:
                other.cancel()
            raise


def describe_failure(name, source, output, error, profile, log=None):
    """A readable report of a failed notebook."""
    lines = [f"reproduce: notebook {name} failed ({_shown(source)})"]
    cell_index = getattr(error, "cell_index", None)
    if cell_index is not None:
        lines.append(f"  cell: index {cell_index} of the notebook (execution count {error.exec_count})")
        lines.append(f"  error: {error.ename}: {error.evalue}")
        trace = [_ANSI.sub("", line) for line in (error.traceback or [])]
        trace = "\n".join(trace).splitlines()[-25:]
        if trace:
            lines.append("  traceback (last lines):")
            lines.extend("    " + line for line in trace)
    else:
        lines.append(f"  error: {getattr(error, 'ename', type(error).__name__)}: "
                     f"{getattr(error, 'evalue', error)}")
    if output is not None and output.exists():
        lines.append(f"  partial output notebook: {_shown(output)}")
    if log is not None and Path(log).exists():
        lines.append(f"  kernel log (stderr): {log}")
    lines.append(f"  rerun just this one: python -m spikelib.reproduce --profile "
                 f"{profile} --only {name}")
    return "\n".join(lines)


def _shown(path):
    """A path relative to the repository when it is inside it."""
    path = Path(path)
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def _interrupt(signum, frame):
    """SIGTERM ends the run like Ctrl-C: the report says "interrupted"."""
    raise KeyboardInterrupt(f"signal {signum}")


def set_aside(output, destination):
    """Move a partial executed notebook out of the book (to `destination`); its new path."""
    if not output.exists():
        return None
    destination.parent.mkdir(parents=True, exist_ok=True)
    os.replace(output, destination)
    return destination


def write_report(path, report):
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    tmp.replace(path)


def load_report(path, profile, only):
    """The report to update: a fresh one, or (with --only) the previous one of this profile."""
    if only and path.exists():
        try:
            report = json.loads(path.read_text())
            if report.get("profile") == profile:
                return report
        except (OSError, ValueError):
            pass
    return {"profile": profile, "notebooks": {}}


def book_profile(profile):
    """`profile`, if it covers every section (a book needs every chapter); else ValueError."""
    if profile.sections is not None:
        raise ValueError(f"profile {profile.name!r} covers only the sections "
                         f"{', '.join(profile.sections)}: it checks claims "
                         f"(python -m spikelib.claims --profile {profile.name} --compute), "
                         "it does not build the book")
    return profile


def run(profile, only=None, timeout=None, out=sys.stdout, jobs=1):
    """Execute the notebooks, the sections `jobs` at a time; returns the process exit
    status (0 ok, 1 a notebook failed, 130 interrupted)."""
    from spikelib.profiles import get_profile
    from spikelib.store import results_root

    book_profile(get_profile(profile))  # a clear error for an unknown name or a partial profile
    signal.signal(signal.SIGTERM, _interrupt)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    sources = select(notebook_sources(), only)
    if not sources:
        print(f"reproduce: no notebooks found in {NOTEBOOKS}", file=sys.stderr)
        return 1
    check_kernel()

    report_path = results_root(profile) / "reproduce.json"
    report = load_report(report_path, profile, only)
    found = versions()
    report.update(started=datetime.datetime.now(datetime.timezone.utc).isoformat(
        timespec="seconds"), versions=found, status="running",
        machine={"platform": platform.platform(), "cpus": os.cpu_count()})
    for name, _ in sources:
        report["notebooks"][name] = {"status": "pending"}
    write_report(report_path, report)

    width = max(len(name) for name, _ in sources)
    digits = len(str(len(sources)))
    sources_of = dict(sources)
    finished = []

    def log_of(name):
        return results_root(profile) / "logs" / f"{name}.log"

    def arguments(name):
        entry = report["notebooks"][name]
        entry.update(source=_shown(sources_of[name]), output=_shown(CHAPTERS / f"{name}.ipynb"),
                     log=str(log_of(name)))
        return profile, timeout, log_of(name), found, CHAPTERS

    def starting(name):
        print(f"[{len(finished) + 1:>{digits}}/{len(sources)}] {name:<{width}} ...", end="",
              flush=True, file=out)

    def line(name, word, seconds, started_alone):
        prefix = "" if started_alone else (f"[{len(finished):>{digits}}/{len(sources)}] "
                                           f"{name:<{width}} ...")
        print(f"{prefix} {word:<6} {seconds:8.1f} s", file=out, flush=True)

    sections = [item for item in sources if item[0] not in BOOK_PAGES]
    pages = [item for item in sources if item[0] in BOOK_PAGES]
    total_start = time.perf_counter()
    status = 0
    report.pop("sections_wall_seconds", None)
    for items, workers in ((sections, jobs), (pages, 1)):
        if status:
            break
        alone = workers <= 1 or len(items) <= 1
        group_start = time.perf_counter()
        try:
            for name, seconds, failure in _executed(items, workers, arguments, starting):
                finished.append(name)
                entry = report["notebooks"][name]
                if failure is None:
                    entry.update(status="ok", seconds=round(seconds, 1))
                    write_report(report_path, report)
                    line(name, "ok", seconds, alone)
                    continue
                word = "interrupted" if failure.interrupted else "failed"
                line(name, word, seconds, alone)
                partial = set_aside(CHAPTERS / f"{name}.ipynb",
                                    log_of(name).parent / f"{name}.partial.ipynb")
                entry.update(status=word, seconds=round(seconds, 1),
                             error=f"{failure.ename}: {failure.evalue}")
                if not status:  # the first failure names the run's
                    report.update(status=word, failed=name)
                    status = 130 if failure.interrupted else 1
                print(describe_failure(name, sources_of[name], partial, failure, profile,
                                       log_of(name)), file=sys.stderr, flush=True)
        except KeyboardInterrupt:
            report.update(status="interrupted")
            status = 130
        if items is sections and not alone:
            report["sections_wall_seconds"] = round(time.perf_counter() - group_start, 1)
            write_report(report_path, report)
    for name, _ in sources:
        if report["notebooks"][name]["status"] == "pending":
            report["notebooks"][name]["status"] = "not run"
    total = time.perf_counter() - total_start
    if status == 0:
        report.update(status="ok")
        report.pop("failed", None)
    report["seconds"] = round(total, 1)
    write_report(report_path, report)
    print(f"reproduce: profile {profile}: {'all ok' if status == 0 else 'FAILED'} in "
          f"{total:.0f} s; executed notebooks in {_shown(CHAPTERS)}/, "
          f"timings in {report_path}", file=out, flush=True)
    return status


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m spikelib.reproduce",
        description="Execute the book's notebooks under a profile (jupytext + papermill).")
    parser.add_argument("--profile", default="book", help="ci, quick, book or paper (default book)")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="run only this notebook (e.g. 03_latencies, 03, latencies, "
                             "claims); repeatable")
    parser.add_argument("--timeout", type=int, default=None,
                        help="per-cell timeout in seconds (default none)")
    parser.add_argument("--jobs", type=int, default=1, metavar="N",
                        help="execute the section notebooks N at a time, each in a process of "
                             "its own, once their tables are computed (make tables); "
                             "default 1")
    args = parser.parse_args(argv)
    try:
        from spikelib.profiles import get_profile
        book_profile(get_profile(args.profile))
    except ValueError as error:
        parser.error(str(error))
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    return run(args.profile, only=args.only, timeout=args.timeout, jobs=args.jobs)


if __name__ == "__main__":
    raise SystemExit(main())

"""A line in every page's footer: when the book was built, from which code, under which profile.

``python -m spikelib.reproduce`` stores in each executed notebook
(``book/chapters/*.ipynb``, metadata key ``spikelib_build``) the profile it ran
under, the UTC time, spikelib's version and ``git describe --always --dirty``
of the code.  A chapter's footer states its own record; every other page
(the intro, the model, the API) states the records of all chapters: the
latest time, and each profile and commit that occurs, so a book whose
chapters were executed under different profiles or commits says so.

Nothing is added, and the build says why, when no executed notebook has a
record (a book built without ``spikelib.reproduce``).
"""

import datetime
import html
import json
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

#: The notebook metadata key written by ``spikelib.reproduce``.
BUILD_KEY = "spikelib_build"
#: The CSS class of the footer line.
CLASS = "build-info"


def read_record(path):
    """The build record of an executed notebook, or None."""
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))["metadata"][BUILD_KEY]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return record if isinstance(record, dict) and record.get("profile") else None


def commit_words(describe):
    """``git describe`` output as a reader reads it: 'commit e5fd619 with uncommitted changes'."""
    if not describe:
        return "an unknown commit"
    dirty = describe.endswith("-dirty")
    name = describe[:-len("-dirty")] if dirty else describe
    return f"commit {name}" + (" with uncommitted changes" if dirty else "")


def when(records):
    """The latest execution time of `records`, as 'YYYY-MM-DD HH:MM UTC'."""
    times = [datetime.datetime.fromisoformat(r["executed"]) for r in records
             if r.get("executed")]
    if not times:
        return "at an unknown time"
    latest = max(t if t.tzinfo else t.replace(tzinfo=datetime.timezone.utc) for t in times)
    return latest.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _words(values, one, many):
    values = sorted(set(values))
    return f"{one if len(values) == 1 else many} {', '.join(values)}"


def footer_text(records):
    """'Built <date> from spikelib <version> (<commit>), profile <name>.' for `records`."""
    records = list(records)
    versions = sorted({str(r.get("spikelib") or "?") for r in records})
    commits = [commit_words(r.get("commit")) for r in records]
    return (f"Built {when(records)} from spikelib {', '.join(versions)} "
            f"({'; '.join(sorted(set(commits)))}), "
            f"{_words((str(r['profile']) for r in records), 'profile', 'profiles')}.")


def collect(app, env):
    """Read the build record of every notebook page once all sources are read."""
    found = {}
    for docname in env.found_docs:
        path = Path(env.doc2path(docname))
        if path.suffix == ".ipynb":
            record = read_record(path)
            if record is not None:
                found[docname] = record
    app.builder.spikelib_builds = found
    if not found:
        logger.info("build_info: no executed notebook has a build record; "
                    "the footer states no build")


def add_footer(app, pagename, templatename, context, doctree):
    records = getattr(app.builder, "spikelib_builds", {})
    if not records:
        return
    own = records.get(pagename)
    line = footer_text([own] if own else records.values())
    rerun = context["pathto"]("book/chapters/rerun") if "book/chapters/rerun" in (
        app.env.found_docs) else None
    line = html.escape(line)
    if rerun:
        line += f' <a href="{html.escape(rerun)}">How to rebuild it</a>.'
    context["theme_extra_footer"] = (f'<p class="{CLASS}">{line}</p>'
                                     + (context.get("theme_extra_footer") or ""))


def setup(app):
    app.connect("env-updated", collect)
    app.connect("html-page-context", add_footer)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}

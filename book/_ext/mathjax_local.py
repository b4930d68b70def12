"""Serve MathJax 3 from the built book itself, so equations render offline.

Sphinx's ``sphinx.ext.mathjax`` loads MathJax from a CDN by default; a reader
who opens ``_build/html`` from ``file://`` without a network then sees TeX
source.  This extension copies a trimmed MathJax 3 (the ``tex-chtml.js``
component, its web fonts and the TeX extensions it may autoload, about
1.5 MB instead of the 24 MB of the full distribution) into
``_build/html/_static/mathjax/`` at the end of an HTML build, from the files
of an installed wheel (nothing is committed to git, nothing is downloaded):

* ``sphinx-mathjax-offline`` (MathJax 3.2.2, in the ``book`` extra), or
* ``django-static-mathjax`` (its ``es5/`` build), or
* a MathJax 3 ``es5`` folder named by the environment variable
  ``SPIKELIB_MATHJAX_DIR``.

``mathjax_path`` (in ``_config.yml``) must then be the relative
``mathjax/tex-chtml.js``; the extension sets it when it is left at a CDN
address, and fails the build with the fix when no MathJax 3 is installed.
"""

import os
import shutil
from importlib import metadata
from pathlib import Path

from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

#: Where the copy goes, below the HTML output's ``_static`` folder.
TARGET = "mathjax"
#: The MathJax component the book loads (TeX input, CommonHTML output, menu).
COMPONENT = "tex-chtml.js"
#: What the component needs besides itself: the CommonHTML web fonts, and the
#: TeX packages that ``autoload``/``require`` fetch on demand (all-packages.js,
#: 200 kB, is only for the ``tex-full`` components and is left out).
NEEDED = ("output/chtml/fonts/woff-v2", "input/tex/extensions")
LEFT_OUT = {"all-packages.js"}
#: (distribution, the part of a file's path that ends in the MathJax es5 root).
WHEELS = (
    ("sphinx-mathjax-offline", "static/mathjax/" + COMPONENT),
    ("django-static-mathjax", "static/mathjax/es5/" + COMPONENT),
)


def find_mathjax():
    """The folder of an installed MathJax 3 es5 build (holding tex-chtml.js), or None."""
    override = os.environ.get("SPIKELIB_MATHJAX_DIR")
    if override:
        folder = Path(override)
        return folder if (folder / COMPONENT).is_file() else None
    for distribution, suffix in WHEELS:
        try:
            files = metadata.files(distribution) or []
        except metadata.PackageNotFoundError:
            continue
        for file in files:
            if file.as_posix().endswith(suffix):
                path = Path(file.locate())
                if path.is_file():
                    return path.parent
    return None


def _is_html(app):
    return app.builder.format == "html" and app.builder.name not in ("epub",)


def check_source(app):
    """At builder-inited: point mathjax_path at the local copy and make sure there is one."""
    if not _is_html(app):
        return
    path = app.config.mathjax_path or ""
    if "://" in path or path.startswith("//"):
        logger.info(f"mathjax_local: mathjax_path was {path!r}; using the local "
                    f"{TARGET}/{COMPONENT} instead")
        app.config.mathjax_path = f"{TARGET}/{COMPONENT}"
    if find_mathjax() is None:
        raise ExtensionError(
            "mathjax_local: no MathJax 3 found to copy into the book. Install the book's "
            "extras (`pip install -e '.[book]'`, which brings the wheel "
            "sphinx-mathjax-offline), or set SPIKELIB_MATHJAX_DIR to a MathJax 3 es5 folder.")


def copy_mathjax(app, exception):
    """At build-finished: copy the trimmed MathJax into _static/mathjax of the output."""
    if exception is not None or not _is_html(app):
        return
    source = find_mathjax()
    target = Path(app.outdir) / "_static" / TARGET
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    shutil.copy2(source / COMPONENT, target / COMPONENT)
    for part in NEEDED:
        shutil.copytree(source / part, target / part,
                        ignore=lambda folder, names: [n for n in names if n in LEFT_OUT])
    size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
    logger.info(f"mathjax_local: copied MathJax 3 from {source} to {target} "
                f"({size / 1e6:.1f} MB)")


def setup(app):
    app.setup_extension("sphinx.ext.mathjax")
    app.connect("builder-inited", check_source)
    app.connect("build-finished", copy_mathjax)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}

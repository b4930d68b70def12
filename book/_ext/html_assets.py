"""Page assets: each script once, and no source maps in the built book.

Each script of a page once: no "Identifier ... has already been declared".

With Sphinx 7.4, an inline script that an extension adds after the builder
started (sphinx-togglebutton's ``togglebuttonSelector``, sphinx-thebe's
``const THEBE_JS_URL``) is registered twice, once with the file name ``None``
and once with ``''``, and so appears twice on every page; the second
``const`` declaration is a SyntaxError in the browser console.  This
extension drops the repeats from each page's scripts, keeping the first.

The theme's ``*.map`` files (source maps of its minified CSS and JavaScript,
3 MB, read only by a browser's developer tools) are removed from the output
at the end of the build, which keeps ``_build/html`` small.
"""

from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)


def _key(script):
    filename = getattr(script, "filename", script)
    attributes = getattr(script, "attributes", {})
    return (filename or "", getattr(script, "priority", None),
            tuple(sorted((k, str(v)) for k, v in attributes.items())))


def drop_repeated_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        key = _key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


def drop_source_maps(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    maps = list((Path(app.outdir) / "_static").rglob("*.map"))
    size = sum(path.stat().st_size for path in maps)
    for path in maps:
        path.unlink()
    if maps:
        logger.info(f"html_assets: removed {len(maps)} source maps ({size / 1e6:.1f} MB)")


def setup(app):
    app.connect("build-finished", drop_source_maps)
    # After the extensions that add page scripts in html-page-context (default 500).
    app.connect("html-page-context", drop_repeated_scripts, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}

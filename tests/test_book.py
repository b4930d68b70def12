"""The built Jupyter Book (`make book PROFILE=ci` writes _build/html) and its pipeline.

The tests on the HTML skip when the book was not built; `make test` builds it
with PROFILE=ci first.  The tests of the table of contents and of the
reproduce module need no build.  `BOOK_HTML=DIR` checks a book built
elsewhere (its executed notebooks are still those of book/chapters).
"""

import datetime
import html
import importlib.util
import io
import json
import os
import re
import subprocess
from html.parser import HTMLParser
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat

import pytest
import yaml

from spikelib import reproduce

ROOT = Path(__file__).resolve().parent.parent
# The built HTML: _build/html, or the folder named by $BOOK_HTML.
HTML = Path(os.environ.get("BOOK_HTML") or ROOT / "_build" / "html")
CLAIM_IDS = [f"C{i}" for i in range(1, 8)]
# Labels of book/model.md that the chapters and the API docs link to.
MODEL_SECTIONS = ["sec-neuron", "sec-spike-time", "sec-gradient", "sec-pulses", "sec-init",
                  "sec-encoding", "sec-noise", "sec-autoencoder", "sec-loss", "sec-training",
                  "sec-hyperparameters", "sec-decoding"]
MODEL_EQUATIONS = ["eq-potential", "eq-firing", "eq-sums", "eq-spike-time", "eq-candidate",
                   "eq-derivative-weight", "eq-derivative-time", "eq-clip",
                   "eq-no-spike-penalty", "eq-pulse-times", "eq-init", "eq-encoding",
                   "eq-target", "eq-noise", "eq-output", "eq-loss", "eq-output-error",
                   "eq-hidden-error", "eq-adam", "eq-decode"]


def toc_files():
    """Every file of _toc.yml, in order (without suffix)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return files


def section_names():
    return [name for name, path in reproduce.notebook_sources()
            if path.parent == reproduce.NOTEBOOKS]


class _Page(HTMLParser):
    """Image sources, link targets, element ids and classes, and visible text of a page."""

    def __init__(self):
        super().__init__()
        self.images, self.links, self.ids, self.classes, self.text = [], [], set(), set(), []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "style"):
            self._skip += 1
        if tag == "img" and attrs.get("src"):
            self.images.append(attrs["src"])
        if tag == "a" and attrs.get("href") is not None:
            self.links.append(attrs["href"])
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        self.classes.update((attrs.get("class") or "").split())

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)


def parse(path):
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.text = html.unescape(" ".join(page.text))
    return page


def built():
    if not (HTML / "index.html").exists():
        pytest.skip(f"the book is not built ({HTML / 'index.html'} missing): run "
                    "`make book PROFILE=ci` first")


def html_pages():
    """Every HTML page of the built book (not the theme's or the sources' files)."""
    return [path for path in sorted(HTML.rglob("*.html"))
            if "_static" not in path.parts and "_sources" not in path.parts]


def broken_links(pages, root=None):
    """'page: href (why)' for every local link of `pages` (below `root`) that does not resolve.

    A local link (no scheme, no host) must name an existing file, or a folder
    with an index.html; with an `#anchor`, its target page (the link's own
    page when it names no file) must have an element with that id.
    """
    root = (HTML if root is None else root).resolve()
    ids, broken = {}, []
    for page in (path.resolve() for path in pages):
        for href in parse(page).links:
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or not (parts.path or parts.fragment):
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            where = f"{page.relative_to(root)}: {href}"
            if not target.is_file():
                broken.append(f"{where} (no file {target})")
            elif parts.fragment and target.suffix == ".html":
                if target not in ids:
                    ids[target] = parse(target).ids
                if unquote(parts.fragment) not in ids[target]:
                    broken.append(f"{where} (no id {parts.fragment!r} in "
                                  f"{target.relative_to(root)})")
    return broken


def load_extension(name):
    """A local Sphinx extension of book/_ext, imported as Sphinx imports it."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "book" / "_ext" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def git(*arguments):
    return subprocess.run(["git", *arguments], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()


# A duration as spikelib.cost.duration writes it: h:mm:ss (or "N d h:mm:ss").
DURATION = re.compile(r"(?:(\d+) d )?(\d+):(\d\d):(\d\d)")
# The footer line of book/_ext/build_info.py.
FOOTER = re.compile(r"Built (\d{4}-\d\d-\d\d \d\d:\d\d) UTC from spikelib ([^ ]+) "
                    r"\(([^)]*)\), profiles? ([\w, ]+)\.")
COMMIT = re.compile(r"commit ([0-9a-f]{7,40})( with uncommitted changes)?")


# A progress bar (tqdm's "|███  | 12/34 [00:02<00:05, 4.1it/s]") or a log line in an output.
NOISE = re.compile(r"WARNING|Traceback|\d+(?:\.\d+)?[kM]?(?:it|ex)/s\]|[█▏▎▍▌▋▊▉]|^[IWE]\d{4} ",
                   re.MULTILINE)
HIDDEN = {"remove-cell", "remove-input"}


def code_cells(source):
    """(first line number, tags, code) of every code cell of a MyST notebook."""
    text = source.read_text()
    for match in re.finditer(r"^```\{code-cell\}[^\n]*\n(.*?)^```", text, re.M | re.S):
        body = match.group(1)
        tags = re.search(r"^:tags: \[(.*)\]", body, re.M)
        tags = {t.strip() for t in tags.group(1).split(",")} if tags else set()
        yield text[:match.start()].count("\n") + 2, tags, body


# --- no build needed -------------------------------------------------------------------


def test_shown_code_lines_fit_88_characters():
    """Code a reader can see (shown, or behind a toggle) has lines of at most 88 characters."""
    long = [f"{path.relative_to(ROOT)}:{first + k}: {len(line)} characters"
            for name, path in reproduce.notebook_sources()
            for first, tags, body in code_cells(path) if not tags & HIDDEN
            for k, line in enumerate(body.split("\n")) if len(line) > 88]
    assert not long, "\n".join(long)


def test_the_noise_pattern_catches_logs_and_progress_bars():
    for text in ["WARNING:tensorflow:5 out of the last 5 calls", "Traceback (most recent",
                 "12/34 runs:  35%|███▌      | 24.0k/68.0k [00:56<01:44, 421ex/s]",
                 "I0000 00:00:1796308537.178419    3810 port.cc:153] oneDNN"]:
        assert NOISE.search(text), text
    assert not NOISE.search("test MSE 0.0126 after 5 epochs (README row)")


def test_toc_lists_every_section_notebook_and_the_book_pages():
    files = toc_files()
    for name in section_names():
        assert f"book/chapters/{name}" in files, f"notebooks/{name}.md is not in _toc.yml"
    for page in ("book/chapters/intro", "book/model", "book/chapters/claims",
                 "book/chapters/rerun",
                 "book/api", "book/references"):
        assert page in files
    for name in reproduce.BOOK_PAGES:
        assert (ROOT / "book" / f"{name}.md").exists()


def test_reproduce_runs_sections_in_order_then_book_pages():
    names = [name for name, _ in reproduce.notebook_sources()]
    sections = section_names()
    assert sections == sorted(sections)
    assert names == sections + list(reproduce.BOOK_PAGES)


def test_reproduce_only_selects_by_name_number_or_suffix(tmp_path):
    for name in ("01_model", "03_latencies"):
        (tmp_path / f"{name}.md").write_text("# x\n")
    (tmp_path / "notes.md").write_text("# not a section\n")
    sources = reproduce.notebook_sources(tmp_path, tmp_path / "missing")
    assert [name for name, _ in sources] == ["01_model", "03_latencies"]
    assert [n for n, _ in reproduce.select(sources, ["03"])] == ["03_latencies"]
    assert [n for n, _ in reproduce.select(sources, ["latencies"])] == ["03_latencies"]
    assert [n for n, _ in reproduce.select(sources, ["01_model"])] == ["01_model"]
    with pytest.raises(SystemExit, match="no notebook matches"):
        reproduce.select(sources, ["99_nothing"])


_MARKING_NOTEBOOK = """---
jupytext:
  text_representation:
    format_name: myst
kernelspec:
  name: spikelib
  display_name: Python 3
---

```{{code-cell}} ipython3
import json, os, pathlib, time
start = time.time()
time.sleep({sleep})
{body}
pathlib.Path(os.environ["MARKS"], "{name}.json").write_text(json.dumps([start, time.time()]))
```
"""


def _reproduce_in(tmp_path, monkeypatch, notebooks):
    """reproduce.run's folders and results moved under tmp_path; `notebooks`:
    {name: (seconds to sleep, extra code)}, the book pages among them."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    try:
        KernelSpecManager().get_kernel_spec(reproduce.KERNEL)
    except NoSuchKernel:
        pytest.skip("the spikelib kernel is not registered (make kernel)")
    sections, book, marks = tmp_path / "notebooks", tmp_path / "book", tmp_path / "marks"
    for folder in (sections, book, marks):
        folder.mkdir()
    for name, (sleep, body) in notebooks.items():
        folder = book if name in reproduce.BOOK_PAGES else sections
        (folder / f"{name}.md").write_text(_MARKING_NOTEBOOK.format(sleep=sleep, body=body,
                                                                   name=name))
    monkeypatch.setattr(reproduce, "NOTEBOOKS", sections)
    monkeypatch.setattr(reproduce, "BOOK", book)
    monkeypatch.setattr(reproduce, "CHAPTERS", book / "chapters")
    monkeypatch.setenv("SPIKELIB_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("MARKS", str(marks))
    return marks, tmp_path / "results" / "ci" / "reproduce.json"


@pytest.mark.parametrize("jobs", [1, 2])
def test_reproduce_runs_sections_side_by_side_then_the_book_pages(tmp_path, monkeypatch, jobs):
    marks, report_path = _reproduce_in(tmp_path, monkeypatch, {
        "01_a": (3, ""), "02_b": (3, ""), "claims": (0, "")})
    printed = io.StringIO()
    assert reproduce.run("ci", jobs=jobs, out=printed) == 0
    times = {path.stem: json.loads(path.read_text()) for path in marks.glob("*.json")}
    assert sorted(times) == ["01_a", "02_b", "claims"]
    overlap = max(times["01_a"][0], times["02_b"][0]) < min(times["01_a"][1], times["02_b"][1])
    assert overlap == (jobs == 2)
    assert times["claims"][0] >= max(times["01_a"][1], times["02_b"][1])
    report = json.loads(report_path.read_text())
    assert report["status"] == "ok"
    assert {name: entry["status"] for name, entry in report["notebooks"].items()} == {
        "01_a": "ok", "02_b": "ok", "claims": "ok"}
    assert (tmp_path / "book" / "chapters" / "02_b.ipynb").exists()
    assert len(printed.getvalue().splitlines()) == 4
    assert ("sections_wall_seconds" in report) == (jobs == 2)


def test_reproduce_side_by_side_stops_at_a_failing_section(tmp_path, monkeypatch, capsys):
    marks, report_path = _reproduce_in(tmp_path, monkeypatch, {
        "01_a": (3, ""), "02_b": (0, "raise ValueError('boom')"), "claims": (0, "")})
    assert reproduce.run("ci", jobs=2, out=io.StringIO()) == 1
    report = json.loads(report_path.read_text())
    assert report["status"] == "failed" and report["failed"] == "02_b"
    assert report["notebooks"]["02_b"]["error"] == "ValueError: boom"
    assert report["notebooks"]["01_a"]["status"] == "ok"
    assert report["notebooks"]["claims"]["status"] == "not run"
    assert not (marks / "claims.json").exists()
    said = capsys.readouterr().err
    assert "notebook 02_b failed" in said and "ValueError: boom" in said
    assert (tmp_path / "results" / "ci" / "logs" / "02_b.partial.ipynb").exists()


def test_model_page_source_defines_the_labels():
    source = (ROOT / "book" / "model.md").read_text()
    for label in MODEL_SECTIONS:
        assert f"({label})=" in source, f"book/model.md has no section label ({label})="
    for label in MODEL_EQUATIONS:
        assert f"$$ ({label})" in source, f"book/model.md has no equation label ({label})"


def test_figures_keep_their_natural_width():
    """custom.css may shrink images to the page (max-width) but never stretch them."""
    css = re.sub(r"/\*.*?\*/", "", (ROOT / "book" / "_static" / "custom.css").read_text(),
                 flags=re.S)
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        if "img" in selectors:
            assert not re.search(r"(^|[;\s])(min-)?width\s*:\s*100%", body), (
                f"custom.css stretches images: {selectors.strip()} {{{body.strip()}}}")


def test_config_has_no_key_that_jupyter_book_ignores():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    # The only `parse:` keys Jupyter Book 1.x passes to Sphinx; any other MyST
    # option belongs under `sphinx: config:`.
    assert set(config.get("parse", {})) <= {"myst_enable_extensions", "myst_substitutions",
                                            "myst_url_schemes", "myst_extended_syntax"}
    sphinx = config["sphinx"]
    # Without it, `sphinx: config: html_theme_options` replaces the theme options
    # Jupyter Book generates (the footer, the launch buttons).
    assert sphinx.get("recursive_update") is True
    assert not sphinx["config"]["mathjax_path"].startswith(("http:", "https:", "//"))


def test_tidy_output_hides_both_parameter_cells_and_stores_the_record(tmp_path):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell('profile = "book"', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell('profile = "ci"', metadata={"tags": ["injected-parameters"]}),
        nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["hide-input"]}),
        nbformat.v4.new_markdown_cell("text")]
    path = tmp_path / "chapter.ipynb"
    nbformat.write(notebook, path)
    record = {"profile": "ci", "executed": "2026-01-02T03:04:05+00:00", "spikelib": "0.1.0",
              "commit": "abc1234-dirty"}
    reproduce.tidy_output(path, record)
    cells = nbformat.read(path, as_version=4).cells
    assert cells[0].metadata.tags == ["parameters", "remove-cell"]
    assert cells[1].metadata.tags == ["injected-parameters", "remove-cell"]
    assert cells[2].metadata.tags == ["hide-input"]
    assert "tags" not in cells[3].metadata
    assert json.loads(path.read_text())["metadata"]["spikelib_build"] == record
    reproduce.tidy_output(path, record)  # a second pass adds no second tag
    assert nbformat.read(path, as_version=4).cells[0].metadata.tags == ["parameters",
                                                                          "remove-cell"]


def test_the_build_record_names_profile_time_version_and_commit():
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    record = reproduce.build_record("ci")
    after = datetime.datetime.now(datetime.timezone.utc)
    assert record["profile"] == "ci"
    assert before <= datetime.datetime.fromisoformat(record["executed"]) <= after
    assert record["spikelib"] == metadata.version("spikelib")
    assert record["commit"] == git("describe", "--always", "--dirty")


def test_the_footer_line_states_date_version_commit_and_profile():
    build_info = load_extension("build_info")
    one = {"profile": "ci", "executed": "2026-01-02T03:04:59+00:00", "spikelib": "0.1.0",
           "commit": "abc1234-dirty"}
    assert build_info.footer_text([one]) == (
        "Built 2026-01-02 03:04 UTC from spikelib 0.1.0 (commit abc1234 with uncommitted "
        "changes), profile ci.")
    other = {**one, "profile": "book", "executed": "2026-01-03T00:00:00+00:00",
             "commit": "def5678"}
    assert build_info.footer_text([one, other]) == (
        "Built 2026-01-03 00:00 UTC from spikelib 0.1.0 (commit abc1234 with uncommitted "
        "changes; commit def5678), profiles book, ci.")


def test_run_seconds_add_the_epochs_before_a_resume():
    history = [{"epoch": k, "train_seconds": 10.0 * k, "evaluation_seconds": 1.0}
               for k in (1, 2, 3)]
    assert reproduce.run_seconds({"train_seconds": 50.0, "history": history,
                                  "resumed_from_epoch": 0}) == 50.0
    # epochs 1 and 2 ran before the resume: 10 + 1 + 20 + 1 seconds
    assert reproduce.run_seconds({"train_seconds": 31.0, "history": history,
                                  "resumed_from_epoch": 2}) == 63.0
    # a conventional autoencoder: keras' history, no resume
    assert reproduce.run_seconds({"train_seconds": 7.5, "history": {"loss": [0.1]}}) == 7.5


def test_training_time_sums_the_finished_runs_of_the_plan(tmp_path, monkeypatch):
    from spikelib.sections import plan
    monkeypatch.setenv("SPIKELIB_RESULTS", str(tmp_path))
    runs = plan("ci")
    # three finished runs on two workers, one stale run outside the plan
    for run, seconds, worker in zip(runs, (100.0, 20.0, 30.0), ("tcp://a", "tcp://b", "tcp://a")):
        folder = tmp_path / "ci" / "runs" / run.key
        folder.mkdir(parents=True)
        (folder / "results.json").write_text(json.dumps(
            {"train_seconds": seconds, "worker": worker, "resumed_from_epoch": 0}))
        (folder / "COMPLETE").write_text("")
    stale = tmp_path / "ci" / "runs" / "sae-stale"
    stale.mkdir()
    (stale / "results.json").write_text(json.dumps({"train_seconds": 1e6, "worker": "tcp://a"}))
    (stale / "COMPLETE").write_text("")
    assert reproduce.training_time("ci") == {
        "planned": len(runs), "finished": 3, "seconds": 150.0, "busiest_worker": 130.0,
        "workers": 2, "shipped": 0}


def test_notebook_seconds_leave_out_this_page():
    report = {"notebooks": {"01_model": {"seconds": 12.5}, "02_datasets": {"seconds": 7.5},
                            "rerun": {"seconds": 100.0}, "03_latencies": {"status": "failed"}}}
    assert reproduce.notebook_seconds(report) == 20.0
    report["sections_wall_seconds"] = 11.0  # the sections ran side by side in 11 s
    report["notebooks"]["claims"] = {"seconds": 3.0}
    assert reproduce.notebook_seconds(report) == 14.0


# --- the built HTML ----------------------------------------------------------------------


def page_path(docname):
    return HTML / f"{docname}.html"


def test_every_page_of_the_toc_was_built():
    built()
    missing = [f for f in toc_files() if f != toc_files()[0] and not page_path(f).exists()]
    assert not missing, f"pages missing from {HTML}: {missing}"
    assert (HTML / "index.html").exists()


@pytest.mark.parametrize("name", section_names())
def test_section_chapter_shows_a_figure(name):
    built()
    path = page_path(f"book/chapters/{name}")
    assert path.exists(), f"{path} was not built"
    images = parse(path).images
    assert images, f"{name}: no <img> in the chapter"
    local = [src for src in images if not urlsplit(src).scheme and not src.startswith("data:")]
    inline = [src for src in images if src.startswith("data:image/")]
    for src in local:
        target = (path.parent / unquote(urlsplit(src).path)).resolve()
        assert target.exists(), f"{name}: image {src} does not exist ({target})"
    assert local or inline, f"{name}: no image that the page can show"


@pytest.mark.parametrize("name", section_names())
def test_figures_have_twice_the_pixels_of_their_size_on_the_page(name):
    """Every PNG figure of a chapter is a "retina" image: its pixel width is
    twice the width the page gives it."""
    built()
    path = page_path(f"book/chapters/{name}")
    tags = list(re.finditer(r'<img [^>]*src="([^"]+\.png)"[^>]*>', path.read_text()))
    assert tags, f"{name}: no PNG figure"
    for tag in tags:
        src, width = tag.group(1), re.search(r"width:\s*(\d+(?:\.\d+)?)px", tag.group(0))
        assert width, f"{name}: {src} has no width on the page"
        png = (path.parent / unquote(src)).read_bytes()
        pixels = int.from_bytes(png[16:20], "big")  # the IHDR chunk's width
        assert abs(pixels / float(width.group(1)) - 2.0) < 0.02, (name, src, pixels, width)


def test_claims_page_lists_every_claim_with_a_status():
    built()
    page = parse(page_path("book/chapters/claims"))
    for claim in CLAIM_IDS:
        assert re.search(rf"\b{claim}\b", page.text), f"{claim} missing from the claims page"
    statuses = re.findall(r"\b(pass|fail|no verdict at this budget|not shown at this budget)\b",
                          page.text)
    assert len(statuses) >= len(CLAIM_IDS)
    assert "claims-table" in page.classes
    for column in ("Claim", "Criterion", "Measured", "Verdict"):
        assert column in page.text, f"the claims table has no {column!r} column"
    assert "claim-figures" in page.classes, "the measured figures are not a small table"


def test_api_page_documents_the_library():
    built()
    page = parse(page_path("book/api"))
    for anchor in ("spikelib.neuron.spike_times", "spikelib.autoencoder.SpikingAutoencoder",
                   "spikelib.lambertw.lambertw"):
        assert anchor in page.ids, f"{anchor} is not documented on the API page"


def test_model_page_has_the_equations():
    built()
    page = parse(page_path("book/model"))
    assert "math" in page.classes
    assert "W_0" in page.text and "theta" in page.text


def test_model_page_has_the_labels_the_chapters_link_to():
    """{ref}`sec-...` and {eq}`eq-...` targets: the ids of the built model page."""
    built()
    ids = parse(page_path("book/model")).ids
    missing = [label for label in MODEL_SECTIONS if label not in ids]
    missing += [label for label in MODEL_EQUATIONS if f"equation-{label}" not in ids]
    assert not missing, f"labels missing from the model page: {missing}"


def test_math_is_served_by_the_book_itself():
    built()
    assert (HTML / "_static" / "mathjax" / "tex-chtml.js").exists()
    assert list((HTML / "_static" / "mathjax" / "output" / "chtml" / "fonts").rglob("*.woff"))
    # Sphinx loads MathJax on the pages with math only.
    text = page_path("book/model").read_text(encoding="utf-8")
    scripts = re.findall(r'<script[^>]*src="([^"]*mathjax[^"]*)"', text, flags=re.I)
    assert scripts and all("://" not in src for src in scripts), (
        f"book/model: MathJax is not loaded from the book: {scripts}")


def test_the_configured_footer_and_citations_are_rendered():
    built()
    intro = parse(page_path("book/chapters/intro"))
    assert "Every chapter is a notebook executed by" in intro.text, (
        "the configured footer is missing")
    assert re.search(r"Comşa\s+et al\.\s*\(\s*2021\s*\)", intro.text), (
        "the author-year citation 'Comşa et al. (2021)' is not rendered")
    assert not re.search(r"\bthe\s+the\b", intro.text, flags=re.I), "'The The' in the intro"
    references = parse(page_path("book/references"))
    for year in ("2021", "2020"):
        assert re.search(rf"\[\s*Comşa et al\.,\s*{year}\s*\]", references.text), (
            f"the bibliography has no entry labelled [Comşa et al., {year}]")


def test_no_page_cites_the_model_spec_by_section_number():
    built()
    pages = [path for path in sorted(HTML.rglob("*.html"))
             if "_static" not in path.parts and "_sources" not in path.parts]
    found = [str(path.relative_to(HTML)) for path in pages
             if re.search(r"model spec\s*§", parse(path).text)]
    assert not found, f"pages that still say 'model spec §N': {found}"


def test_no_page_shows_a_traceback_or_an_error():
    built()
    bad_classes = {"traceback", "system-message", "problematic", "output_error"}
    problems = []
    for path in sorted(HTML.rglob("*.html")):
        if "_static" in path.parts or "_sources" in path.parts:
            continue
        page = parse(path)
        if "Traceback" in page.text:
            problems.append(f"{path.relative_to(HTML)}: 'Traceback'")
        for cls in sorted(bad_classes & page.classes):
            problems.append(f"{path.relative_to(HTML)}: element of class {cls!r}")
    assert not problems, "\n".join(problems)


def test_executed_chapters_have_clean_outputs():
    """No log line, warning, traceback or progress bar in any executed chapter
    (the .ipynb a reader downloads), and nothing written to stderr."""
    built()
    problems = []
    for path in sorted(reproduce.CHAPTERS.glob("*.ipynb")):
        for index, cell in enumerate(json.loads(path.read_text())["cells"]):
            for output in cell.get("outputs", []):
                if output.get("name") == "stderr":
                    problems.append(f"{path.name} cell {index}: stderr output")
                text = "".join(output.get("text", "")) + "".join(
                    output.get("data", {}).get("text/plain", ""))
                found = NOISE.search(text)
                if found:
                    problems.append(f"{path.name} cell {index}: {found.group(0)!r} in "
                                    f"{text[:80]!r}")
    assert not problems, "\n".join(problems)


def test_no_chapter_shows_a_stray_return_value():
    """A cell's last expression shows as a plain-text result (e.g. the character
    count that `Path.write_text` returns); what a chapter means to show is a
    figure, a table or glued text, never plain text alone."""
    built()
    stray = [f"{path.name} cell {index}: {''.join(output['data']['text/plain'])[:60]!r}"
             for path in sorted(reproduce.CHAPTERS.glob("*.ipynb"))
             for index, cell in enumerate(json.loads(path.read_text())["cells"])
             for output in cell.get("outputs", [])
             if output.get("output_type") == "execute_result"
             and set(output.get("data", {})) == {"text/plain"}]
    assert not stray, "\n".join(stray)


def test_every_local_link_resolves():
    """Every local link of every page names an existing file, and its #anchor an id there."""
    built()
    broken = broken_links(html_pages())
    assert not broken, f"{len(broken)} broken local links:\n" + "\n".join(broken)


def test_the_link_check_finds_a_missing_page_and_a_missing_anchor(tmp_path):
    (tmp_path / "a.html").write_text(
        '<h1 id="top">A</h1><a href="b.html#here">ok</a> <a href="#top">ok</a> '
        '<a href="b.html#gone">no id</a> <a href="datasets.html">no page</a> '
        '<a href="https://example.org/x.html">external</a> <a href="#">top</a>')
    (tmp_path / "b.html").write_text('<p id="here">B</p>')
    assert broken_links([tmp_path / "a.html"], tmp_path) == [
        "a.html: b.html#gone (no id 'gone' in b.html)",
        f"a.html: datasets.html (no file {tmp_path.resolve() / 'datasets.html'})"]


def executed_chapters():
    """{page name: executed notebook} of book/chapters."""
    return {path.stem: json.loads(path.read_text())
            for path in sorted(reproduce.CHAPTERS.glob("*.ipynb"))
            if not path.name.startswith(".")}  # not a notebook being executed


def test_parameter_cells_are_not_shown():
    """Neither the notebook's default profile cell nor papermill's injected one is on a page."""
    built()
    chapters = executed_chapters()
    assert chapters, "no executed chapter"
    for name, notebook in chapters.items():
        tags = [cell.get("metadata", {}).get("tags", []) for cell in notebook["cells"]]
        assert any("injected-parameters" in t for t in tags), f"{name}: papermill did not run"
        text = page_path(f"book/chapters/{name}").read_text(encoding="utf-8")
        for tag in ("parameters", "injected-parameters"):
            assert f"tag_{tag}" not in text, f"{name}: the {tag} cell is on the page"
        code = [html.unescape(re.sub(r"<[^>]+>", "", block))
                for block in re.findall(r"<pre[^>]*>(.*?)</pre>", text, flags=re.S)]
        shown = [block for block in code if re.fullmatch(r'\s*profile\s*=\s*"\w+"\s*', block)]
        assert not shown, f"{name}: shows {shown}"


def papermill_time(notebook):
    return datetime.datetime.fromisoformat(notebook["metadata"]["papermill"]["end_time"])


def test_every_page_states_its_build_in_the_footer():
    """Date, spikelib version, commit and profile; a chapter's as papermill recorded it."""
    built()
    chapters = executed_chapters()
    profiles = {nb["metadata"]["papermill"]["parameters"]["profile"] for nb in chapters.values()}
    latest = max(papermill_time(nb) for nb in chapters.values())
    for path in html_pages():
        if 'http-equiv="Refresh"' in path.read_text(encoding="utf-8")[:200]:
            continue  # index.html: Jupyter Book's redirect to the root page, not a page
        page = parse(path)
        found = FOOTER.search(" ".join(page.text.split()))
        assert found, f"{path.relative_to(HTML)}: no build line in the footer"
        date, version, commits, shown = found.groups()
        assert version == metadata.version("spikelib")
        hashes = COMMIT.findall(commits)
        assert hashes, f"{path.relative_to(HTML)}: no commit in {commits!r}"
        for commit, _ in hashes:
            git("cat-file", "-e", f"{commit}^{{commit}}")  # a commit of this repository
        when = datetime.datetime.strptime(date, "%Y-%m-%d %H:%M").replace(
            tzinfo=datetime.timezone.utc)
        name = path.stem if path.parent == HTML / "book" / "chapters" else None
        if name in chapters:
            notebook = chapters[name]
            assert shown == notebook["metadata"]["papermill"]["parameters"]["profile"]
            executed = papermill_time(notebook)
        else:
            assert set(shown.split(", ")) == profiles, path.relative_to(HTML)
            executed = latest
        assert abs((when - executed).total_seconds()) < 120, (path.relative_to(HTML), date)


def seconds_of(text):
    days, hours, minutes, seconds = text
    return (int(days or 0) * 24 + int(hours)) * 3600 + int(minutes) * 60 + int(seconds)


def test_rerun_page_counts_the_training_time_of_the_runs():
    """The training seconds of this build's profile, summed here from its results.json files."""
    from spikelib.sections import plan
    from spikelib.store import results_root
    built()
    profile = executed_chapters()["rerun"]["metadata"]["papermill"]["parameters"]["profile"]
    total, finished = 0.0, 0
    for run in plan(profile):
        folder = results_root(profile) / "runs" / run.key
        if (folder / "COMPLETE").exists():
            results = json.loads((folder / "results.json").read_text())
            total += results["train_seconds"]
            history = results["history"] if results.get("resumed_from_epoch") else []
            total += sum(r["train_seconds"] + r["evaluation_seconds"] for r in history
                         if r["epoch"] <= results["resumed_from_epoch"])
            finished += 1
    assert finished, f"no finished run of profile {profile}"
    page = parse(page_path("book/chapters/rerun"))
    text = " ".join(page.text.split())
    assert f"{finished} of {len(plan(profile))}" in text
    shown = [seconds_of(match) for match in DURATION.findall(text)]
    assert any(abs(value - total) <= 1 for value in shown), (
        f"the rerun page shows no {total:.0f} s of training ({shown})")
    for term in ("README row", "tables/*.csv", "noise 0, latency 1 and 32 hidden neurons",
                 "results/<profile>/tables/"):
        assert term in text, f"the rerun page does not explain {term!r}"
    assert "rerun-terms" in page.ids


def test_fidelity_chapter_renders_lists_captioned_tables_and_no_missing_values():
    built()
    path = page_path("book/chapters/09_fidelity")
    source = path.read_text(encoding="utf-8")
    page = parse(path)
    text = " ".join(page.text.split())
    items = [html.unescape(re.sub(r"<[^>]+>", "", item))
             for item in re.findall(r"<li>(.*?)</li>", source, flags=re.S)]
    assert sum("weight seed" in item for item in items) == 3, "the reference runs are no list"
    conclusion = [item for item in items if "weight seed" not in item
                  and re.match(r"\s*(MNIST|Fashion-MNIST), noise", item)]
    assert len(conclusion) == 3, "the conclusion is no list"
    assert not re.search(r"[.:]\s+- \S", text), "a Markdown list rendered as a paragraph"
    assert not re.search(r"\b(nan|NaN|<NA>)\b", text), "a missing value is shown"
    tables = re.findall(r"<table.*?</table>", source, flags=re.S)
    assert len(tables) >= 4 and all("<caption" in table for table in tables)
    with open(ROOT / "spikelib" / "cpp_reference_runs.csv") as handle:
        header = "".join(line for line in handle if line.startswith("#"))
    commit = re.search(r"commit ([0-9a-f]+)", header).group(1)
    assert commit in text, f"the chapter does not name the reference's commit {commit}"
    assert "Conclusion" in text

"""The built Jupyter Book (`make book PROFILE=ci` writes _build/html) and its pipeline.

The tests on the HTML skip when the book was not built; `make test` builds it
with PROFILE=ci first.  The tests of the table of contents and of the
reproduce module need no build.
"""

import html
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml

from spikelib import reproduce

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
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
    """Image sources, element ids and classes, and visible text of a page."""

    def __init__(self):
        super().__init__()
        self.images, self.ids, self.classes, self.text = [], set(), set(), []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "style"):
            self._skip += 1
        if tag == "img" and attrs.get("src"):
            self.images.append(attrs["src"])
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
    for page in ("book/intro", "book/model", "book/chapters/claims", "book/chapters/rerun",
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
    intro = parse(page_path("book/intro"))
    assert "Built from executed notebooks" in intro.text, "the configured footer is missing"
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

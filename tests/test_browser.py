"""The built book in a real browser: headless Chromium, from file://, offline.

Opens the model page and one chapter of `_build/html` (built by
`make book PROFILE=ci`) in headless Chromium driven by Selenium and
chromedriver, with the network switched off, and checks what a reader sees:
MathJax typeset every formula (no raw `\\(` or `$$` left in the text, one
`mjx-container` per formula, no TeX errors), every image loaded
(`naturalWidth > 0`), and the console shows no error.

Skipped, with the reason, when the book is not built, when selenium is not
installed (the `test` extra), or when no Chromium or chromedriver is found
(Debian: `apt-get install -y chromium chromium-driver`; `.ci/run` installs
them on CI).  The browser is looked up as `$CHROMIUM` or on PATH
(chromium, chromium-browser, google-chrome), the driver as `$CHROMEDRIVER` or
`chromedriver` on PATH.

`BOOK_HTML=DIR` checks a book built elsewhere.  With `BOOK_SCREENSHOTS=DIR`, each page is also saved as `DIR/<name>.png`
(desktop width, whole page) and the claims page at a phone's width.
"""

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The built HTML: _build/html, or the folder named by $BOOK_HTML.
HTML = Path(os.environ.get("BOOK_HTML") or ROOT / "_build" / "html")
PAGES = {
    "model": "book/model.html",
    "03_latencies": "book/chapters/03_latencies.html",
}
DESKTOP = (1280, 900)
PHONE = (390, 844)

# Wait for MathJax to finish typesetting and for every image to load or fail;
# lazily loaded images are made eager first, so that all of them are fetched.
WAIT_FOR_PAGE = """
const done = arguments[arguments.length - 1];
const images = Array.from(document.images);
images.forEach(img => { img.loading = "eager"; });
const loaded = Promise.all(images.map(img => img.complete ? null :
    new Promise(resolve => { img.addEventListener("load", resolve);
                             img.addEventListener("error", resolve); })));
const mathjax = (window.MathJax && MathJax.startup && MathJax.startup.promise)
    ? MathJax.startup.promise.then(() => "typeset", e => "MathJax failed: " + e)
    : Promise.resolve("no MathJax");
Promise.all([mathjax, loaded]).then(([state]) => done(state));
"""

# What the page shows: the text outside code and outside typeset math, the
# number of formulas and of typeset ones, TeX errors, and images that failed.
INSPECT = """
const body = document.body.cloneNode(true);
body.querySelectorAll("script, style, pre, code, textarea, mjx-container, .cell_input")
    .forEach(node => node.remove());
return {
  text: body.textContent,
  formulas: document.querySelectorAll("span.math, div.math").length,
  typeset: document.querySelectorAll("mjx-container").length,
  tex_errors: Array.from(document.querySelectorAll("mjx-merror"))
      .map(node => node.getAttribute("data-mjx-error") || node.textContent),
  images: document.images.length,
  broken: Array.from(document.images)
      .filter(img => !(img.complete && img.naturalWidth > 0))
      .map(img => img.getAttribute("src")),
  mathjax_script: Array.from(document.scripts).map(s => s.src)
      .filter(src => src.includes("mathjax")),
};
"""


def find(env, *names):
    for candidate in ([os.environ[env]] if os.environ.get(env) else []) + list(names):
        path = shutil.which(candidate) or (candidate if Path(candidate).is_file() else None)
        if path:
            return path
    return None


def skip(reason):
    """Skip, or fail where the browser is required ($SPIKELIB_REQUIRE_BROWSER, set by .ci/run)."""
    if os.environ.get("SPIKELIB_REQUIRE_BROWSER"):
        pytest.fail(f"SPIKELIB_REQUIRE_BROWSER is set but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    if not (HTML / "index.html").exists():
        pytest.skip(f"the book is not built ({HTML / 'index.html'} missing): run "
                    "`make book PROFILE=ci` first")
    try:
        from selenium import webdriver
    except ImportError:
        skip("selenium is not installed: pip install -e '.[test]'")
    chromium = find("CHROMIUM", "chromium", "chromium-browser", "google-chrome")
    driver_path = find("CHROMEDRIVER", "chromedriver")
    if not chromium or not driver_path:
        skip("no headless browser: Chromium "
             f"({chromium or 'not found'}) and chromedriver "
             f"({driver_path or 'not found'}) are both needed; on Debian run "
             "`apt-get install -y chromium chromium-driver` (or set $CHROMIUM "
             "and $CHROMEDRIVER)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--no-first-run", "--hide-scrollbars",
                     f"--window-size={DESKTOP[0]},{DESKTOP[1]}",
                     # No network: every host name fails to resolve and any
                     # request would go to a proxy that does not exist.
                     "--host-resolver-rules=MAP * ~NOTFOUND",
                     "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
                     "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--disable-extensions",
                     "--allow-file-access-from-files"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = webdriver.ChromeService(executable_path=driver_path)
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    # ... and the browser itself is offline (DevTools network emulation).
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
        "offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    yield driver
    driver.quit()


def open_page(driver, relative, size=DESKTOP):
    path = HTML / relative
    if not path.exists():
        pytest.skip(f"{path} was not built")
    driver.set_window_size(*size)
    driver.get_log("browser")  # drop what earlier pages logged
    driver.get(path.as_uri())
    state = driver.execute_async_script(WAIT_FOR_PAGE)
    return state, driver.execute_script(INSPECT), driver.get_log("browser")


def screenshot(driver, name, size=DESKTOP):
    folder = os.environ.get("BOOK_SCREENSHOTS")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(size[0], min(max(height, size[1]), 16000))
    driver.save_screenshot(str(Path(folder) / f"{name}.png"))
    driver.set_window_size(*size)


@pytest.mark.parametrize("name", sorted(PAGES))
def test_page_renders_offline(browser, name):
    state, page, log = open_page(browser, PAGES[name])
    screenshot(browser, name)
    where = f"{name} ({PAGES[name]})"
    assert not any("://" in src and not src.startswith("file:")
                   for src in page["mathjax_script"]), (
        f"{where}: MathJax must load from the book itself, got {page['mathjax_script']}")
    if page["formulas"]:
        assert page["mathjax_script"], f"{where}: formulas but no MathJax"
        assert state == "typeset", f"{where}: {state}"
        assert page["typeset"] >= page["formulas"], (
            f"{where}: {page['typeset']} mjx-container for {page['formulas']} formulas")
    if name == "model":
        assert page["formulas"] >= 10, f"{where}: only {page['formulas']} formulas"
    for raw in ("\\(", "\\[", "$$"):
        assert raw not in page["text"], (
            f"{where}: raw TeX {raw!r} in the text: "
            f"...{page['text'][max(page['text'].find(raw) - 80, 0):][:200]}...")
    assert not page["tex_errors"], f"{where}: TeX errors {page['tex_errors']}"
    if name != "model":
        assert page["images"], f"{where}: no image"
    assert not page["broken"], f"{where}: images that did not load: {page['broken']}"
    errors = [entry["message"] for entry in log if entry.get("level") == "SEVERE"]
    assert not errors, f"{where}: console errors:\n" + "\n".join(errors)


def test_claims_page_fits_a_phone(browser):
    """On a phone's width the claims table is not wider than the screen."""
    state, page, log = open_page(browser, "book/chapters/claims.html", PHONE)
    screenshot(browser, "claims_phone", PHONE)
    widths = browser.execute_script("""
        const table = document.querySelector("table.claims-table");
        return table && {table: table.scrollWidth,
                         article: document.querySelector("article, main, body").clientWidth,
                         page: document.documentElement.scrollWidth,
                         screen: window.innerWidth};""")
    assert widths, "the claims page has no table.claims-table"
    assert widths["table"] <= widths["article"] + 1, f"the claims table is clipped: {widths}"
    assert widths["page"] <= widths["screen"] + 1, f"the page scrolls sideways: {widths}"
    errors = [entry["message"] for entry in log if entry.get("level") == "SEVERE"]
    assert not errors, "claims page: console errors:\n" + "\n".join(errors)
    open_page(browser, "book/chapters/claims.html")
    screenshot(browser, "claims")

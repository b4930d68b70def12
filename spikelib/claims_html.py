"""The claims' verdicts as HTML, for the claims page and the front page of the book.

A verdict's figures get reader labels (data set names, not keys); each
claim links to the chapter with the figures behind it; the reason of its
thresholds (`claims.REASONS`) and its caveats are shown beside it.
"""

import html

from spikelib.claims import NOTEBOOKS, REASONS

STATUS_CLASS = {"pass": "claim-pass", "fail": "claim-fail"}
# Words of the figures' names that a reader should see otherwise.
LABELS = {"fashion_mnist": "Fashion-MNIST", "mnist": "MNIST",
          "sae_embedding": "spiking AE code", "ann_embedding": "conventional AE code",
          "raw_pixels": "raw pixels", "SAE/ANN": "SAE / conventional AE", "sd": "s.d."}


def text(value):
    """A field as escaped text ('' for a missing one)."""
    return html.escape(str(value)) if value not in (None, "") else ""


def label(name):
    """A figure's name with reader words, e.g. 'fashion_mnist 8 SAE/ANN' -> 'Fashion-MNIST 8 ...'."""
    return " ".join(LABELS.get(word, word) for word in str(name).split(" "))


def number(value):
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)):
        return f"{value:.4g}"
    return str(value)


def chapter_link(check, prefix=""):
    """A link to the chapter of `check`'s section, `prefix` the path from the page to chapters/."""
    notebook = NOTEBOOKS.get(check.section)
    if notebook is None:
        return ""
    return f'<a href="{prefix}{notebook}.html">{text(check.section.replace("_", " "))} chapter</a>'


def status_badge(check):
    return (f'<span class="claim-status {STATUS_CLASS.get(check.status, "claim-no-verdict")}">'
            f"{text(check.status)}</span>")


def figures_table(figures):
    """The measured figures as a small two-column table."""
    if not figures:
        return "n/a"
    rows = "".join(f'<tr><th scope="row">{text(label(name))}</th>'
                   f"<td>{text(number(value))}</td></tr>" for name, value in figures.items())
    return f'<table class="claim-figures"><tbody>{rows}</tbody></table>'


def caveats(check):
    return "".join(f'<p class="claim-caveat"><strong>Caveat:</strong> {text(c)}</p>'
                   for c in check.caveats)


def claims_table(checks, prefix=""):
    """Every claim as a row (claim and chapter, criterion and why, figures, verdict), its caveats
    in a full-width row below."""
    rows = []
    for check in checks:
        cells = [
            ("Claim", f"<strong>{text(check.id)}</strong> {text(check.claim)}"
                      f'<p class="claim-section">{chapter_link(check, prefix)}</p>'),
            ("Criterion", f"{text(check.criterion)}"
                          f'<p class="claim-note">Why: {text(REASONS.get(check.id, ""))}</p>'),
            ("Measured", figures_table(check.figures)),
            ("Verdict", status_badge(check)),
        ]
        rows.append("<tr>" + "".join(f'<td data-label="{name}">{body}</td>'
                                     for name, body in cells) + "</tr>")
        if check.caveats:
            rows.append(f'<tr class="claim-caveat-row"><td colspan="4">{caveats(check)}</td></tr>')
    head = "".join(f"<th>{name}</th>" for name in ("Claim", "Criterion", "Measured", "Verdict"))
    return (f'<div class="claims-wrap"><table class="claims-table"><thead><tr>{head}</tr>'
            f'</thead><tbody>{"".join(rows)}</tbody></table></div>')


def claims_at_a_glance(checks, prefix="chapters/"):
    """A compact table for the front page: claim, verdict (with a caveat mark), chapter."""
    rows = []
    for check in checks:
        mark = (f' <span class="claim-caveat-mark" title="{text(" ".join(check.caveats))}">'
                "with caveat</span>" if check.caveats else "")
        rows.append(f'<tr><td data-label="Claim"><strong>{text(check.id)}</strong> '
                    f"{text(check.claim)}</td>"
                    f'<td data-label="Verdict">{status_badge(check)}{mark}</td>'
                    f'<td data-label="Chapter">{chapter_link(check, prefix)}</td></tr>')
    return ('<div class="claims-wrap"><table class="claims-table claims-glance"><thead><tr>'
            "<th>Claim</th><th>Verdict</th><th>Figures</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table></div>")

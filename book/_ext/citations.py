"""Author–year citations as a reader of the paper expects them.

sphinxcontrib-bibtex's ``author_year`` referencing style writes
``Comşa et al. [2021]`` (square brackets), and its bibliographies label each
entry with a number (``[1]``) that appears nowhere in the text.  This
extension registers two pybtex plugins and the book selects them in
``_config.yml``:

* the referencing style ``author_year_round``: ``{cite:t}`` gives
  "Comşa et al. (2021)", ``{cite:p}`` gives "(Comşa et al., 2021)";
* the bibliography style ``author_year``: pybtex's ``plain`` entries, sorted
  by author and year, each labelled with the same author–year text as the
  citations that point to it ("Comşa et al., 2021"; a letter is added to
  the year when two entries would share a label).
"""

import dataclasses
from collections import Counter

import pybtex.plugin
import sphinxcontrib.bibtex.plugin
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle
from sphinxcontrib.bibtex.style.referencing import BracketStyle
from sphinxcontrib.bibtex.style.referencing.author_year import AuthorYearReferenceStyle

REFERENCING = "author_year_round"
BIBLIOGRAPHY = "author_year"


def _round():
    return BracketStyle(left="(", right=")")


@dataclasses.dataclass
class RoundAuthorYearReferenceStyle(AuthorYearReferenceStyle):
    """Author–year references in round brackets: "Comşa et al. (2021)"."""

    bracket_textual: BracketStyle = dataclasses.field(default_factory=_round)
    bracket_parenthetical: BracketStyle = dataclasses.field(default_factory=_round)
    bracket_author: BracketStyle = dataclasses.field(default_factory=_round)
    bracket_label: BracketStyle = dataclasses.field(default_factory=_round)
    bracket_year: BracketStyle = dataclasses.field(default_factory=_round)


def _last_names(person):
    return " ".join(part.render_as("text") for part in person.rich_last_names)


class AuthorYearLabelStyle(BaseLabelStyle):
    """Labels "Comşa et al., 2021", "Versari and Comşa, 2020", "Comşa, 2019"."""

    def format_label(self, entry):
        persons = entry.persons.get("author") or entry.persons.get("editor") or []
        names = [_last_names(person) for person in persons]
        if not names:
            who = entry.fields.get("title", entry.key)
        elif len(names) == 1:
            who = names[0]
        elif len(names) == 2:
            who = f"{names[0]} and {names[1]}"
        else:
            who = f"{names[0]} et al."
        return f"{who}, {entry.fields.get('year', 'n.d.')}"

    def format_labels(self, sorted_entries):
        labels = [self.format_label(entry) for entry in sorted_entries]
        count, seen = Counter(labels), Counter()
        for label in labels:
            if count[label] == 1:
                yield label
            else:
                seen[label] += 1
                yield label + "abcdefghijklmnopqrstuvwxyz"[seen[label] - 1]


class AuthorYearStyle(PlainStyle):
    """pybtex's plain style with author–year labels."""

    default_label_style = BIBLIOGRAPHY
    default_sorting_style = "author_year_title"


def setup(app):
    pybtex.plugin.register_plugin("pybtex.style.labels", BIBLIOGRAPHY, AuthorYearLabelStyle,
                                  force=True)
    pybtex.plugin.register_plugin("pybtex.style.formatting", BIBLIOGRAPHY, AuthorYearStyle,
                                  force=True)
    sphinxcontrib.bibtex.plugin.register_plugin(
        "sphinxcontrib.bibtex.style.referencing", REFERENCING, RoundAuthorYearReferenceStyle,
        force=True)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}

"""What every section chapter opens with, written once.

A chapter's first cell calls `open_chapter`: it loads TensorFlow without its
start-up lines (so it comes before anything that imports TensorFlow), sets
the book's theme, loads the section's tables (as `make tables` wrote them,
or computed, training what is missing) and glues the sentences every chapter shows: the budget, what health and
"still learning" mean, and the note a budget too small for the chapter's
claim gets.
"""

NOTE = ("*The '{name}' budget is a first look ({description}): too small to show "
        "claim {claim}, so this chapter gives no verdict; the numbers show what this "
        "budget trains.*")


def budget_note(profile, claim):
    """The note of a chapter whose profile is not meant to show `claim` ("" otherwise)."""
    if profile.shows(claim):
        return ""
    return NOTE.format(name=profile.name, description=profile.description, claim=claim)


def open_chapter(section, profile, claim, prefix=None):
    """Set up a section chapter and glue `<prefix>_budget`, `<prefix>_meanings` and
    `<prefix>_note` (prefix: the section's name); returns its `SectionResults`."""
    from spikelib.quiet import quiet_notebook
    quiet_notebook()
    from IPython.display import Markdown
    from myst_nb import glue

    from spikelib import sections
    from spikelib.plotting import set_theme
    from spikelib.sections.report import HEALTH_MEANING, STILL_LEARNING_MEANING
    set_theme()
    results = sections.load(section, profile, progress=False)
    prefix = prefix or section
    glue(f"{prefix}_budget", Markdown(results.profile.caption()), display=False)
    glue(f"{prefix}_meanings", Markdown(f"{HEALTH_MEANING} {STILL_LEARNING_MEANING}"),
         display=False)
    glue(f"{prefix}_note", Markdown(budget_note(results.profile, claim)), display=False)
    return results

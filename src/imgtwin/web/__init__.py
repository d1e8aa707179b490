"""The web pages' files: the static report's and the review app's HTML, CSS and JavaScript.

One folder, so both pages draw groups with the same scripts (``groups-core.js``
for the rules, ``groups-page.js`` for what a group looks like) and one wording.
"""

from __future__ import annotations

from importlib import resources

# The scripts each page runs, in order: the shared ones first.
SHARED_SCRIPTS = ("groups-core.js", "groups-page.js")
REPORT_SCRIPTS = (*SHARED_SCRIPTS, "report.js")
REVIEW_SCRIPTS = (*SHARED_SCRIPTS, "review-compare.js", "review-act.js", "review-choices.js", "review.js")


def asset(name: str) -> str:
    """The text of one of the files in this folder."""
    return (resources.files(__name__) / name).read_text(encoding="utf-8")

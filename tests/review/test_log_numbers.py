"""The review page's logs (a run's outcomes, the errors so far): their item numbers are shown whole.

Drawn in a real Chromium with the app's own style sheets: an outside list marker in a 20-pixel padding of a
scroll box was clipped, so item 152 read "52.".
"""

from __future__ import annotations

from typing import Any

import pytest

from imgtwin.web import asset
from tests.reporting.test_html import browser  # noqa: F401 (the Chromium fixture)

pytestmark = pytest.mark.slow

PAGE = """<!doctype html><html><head><style>{report}</style><style>{review}</style></head><body>
<section class="activity"><ol class="outcomes" id="outcomes"></ol></section>
<details class="recent-errors" open><summary>Errors so far</summary><ol id="recent-error-list"></ol></details>
<details class="errors" open><summary>Files</summary><ol id="error-list"></ol></details>
</body></html>"""

# For items 152 and 11999 of each list: the room left of the item's text inside the list's own box (a scroll
# box clips what lies outside it), and the width of the item's number ("152.") in the item's font.
MEASURE = """([id, numbers]) => {
  const ol = document.getElementById(id);
  for (let n = 1; n <= 12000; n++) {
    const li = document.createElement("li");
    li.textContent = `done: /photos/file ${n}.jpg`;
    ol.append(li);
  }
  return numbers.map((n) => {
    const li = ol.children[n - 1];
    li.scrollIntoView();
    const range = document.createRange();
    range.selectNodeContents(li);
    const text = range.getClientRects()[0].left;
    const probe = document.createElement("span");
    probe.textContent = `${n}.`;
    probe.style.font = getComputedStyle(li).font;
    probe.style.whiteSpace = "pre";
    document.body.append(probe);
    const marker = probe.getBoundingClientRect().width;
    probe.remove();
    return {n, room: text - ol.getBoundingClientRect().left, marker};
  });
}"""


@pytest.mark.parametrize("list_id", ["outcomes", "recent-error-list", "error-list"])
def test_item_numbers_are_not_clipped(browser: Any, list_id: str) -> None:  # noqa: F811
    page = browser.new_page(viewport={"width": 900, "height": 700})
    try:
        page.set_content(PAGE.format(report=asset("report.css"), review=asset("review.css")))
        measured = page.evaluate(MEASURE, [list_id, [152, 11999]])
    finally:
        page.close()
    assert all(m["room"] >= m["marker"] for m in measured), measured  # the whole number fits left of the text

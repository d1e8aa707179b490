"""The HTML review page: one self-contained file plus a folder of thumbnails.

The page embeds the ``find --json`` document as a JSON data block and renders
it with hand-written JavaScript (no server, no network, no framework), so it
opens from disk and its exported plan is that same document with the
reviewer's changes. Paths reach the page only inside that data block (escaped
for ``<script>``) and are put on screen with ``textContent``, so any file name
is safe. Thumbnails live in ``OUT_files/`` beside ``OUT.html``.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import quote

from imgtwin._version import __version__
from imgtwin.documents import DocumentError, document_groups, load_find_document
from imgtwin.folders import document_base, resolve
from imgtwin.persistence.atomic import AtomicTextFile
from imgtwin.reporting.thumbnails import ThumbnailSet, make_thumbnails
from imgtwin.web import REPORT_SCRIPTS, asset

PLAN_NAME = "imgtwin-plan.json"
_SLOTS = re.compile(r"@(TITLE|VERSION|CSS|JS|DATA)@")


class ReportInputError(ValueError):
    """A file given as a ``find --json`` document that is not one."""


@dataclass(frozen=True)
class HtmlReport:
    """What was written, for the command's summary line."""

    path: str
    thumbnail_dir: str
    groups: int
    files: int
    thumbnails: ThumbnailSet
    seconds: float


def thumbnail_dir(html_path: str) -> str:
    """``OUT_files`` beside ``OUT.html``, as browsers name a saved page's folder."""
    stem, _ = os.path.splitext(os.path.abspath(html_path))
    return stem + "_files"


def load_find_json(path: str) -> dict[str, Any]:
    """A ``find --json`` document from ``path``, checked enough to render safely."""
    try:
        document = load_find_document(path)
    except DocumentError as exc:
        raise ReportInputError(str(exc)) from None
    if not all(group.listed for group in document_groups(document)):
        raise ReportInputError(f"{path}: a group without a list of members with paths")
    document.setdefault("errors", [])
    try:
        document_base(document)
    except ValueError as exc:
        raise ReportInputError(f"{path}: {exc}") from None
    return document


def _script_json(value: Any) -> str:
    """JSON that cannot end or confuse the ``<script>`` element holding it."""
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_page(
    document: dict[str, Any], thumbnail_names: Sequence[Sequence[str | None]], thumbnail_url: str, source: str
) -> str:
    """The page's HTML; ``thumbnail_names[g][m]`` is member m of group g's file in ``thumbnail_url``."""
    data = {
        "document": document,
        "thumbnails": {"dir": thumbnail_url, "names": thumbnail_names},
        "source": source,
        "plan_name": PLAN_NAME,
    }
    groups = len(document["groups"])
    values = {
        "TITLE": escape(f"imgtwin review: {groups} duplicate group{'s' if groups != 1 else ''}"),
        "VERSION": escape(__version__),
        "CSS": asset("report.css"),
        "JS": "\n".join(asset(name) for name in REPORT_SCRIPTS),  # all but report.js shared with `imgtwin review`
        "DATA": _script_json(data),
    }
    # One pass, so that text inserted for one slot is never scanned for another.
    assert "</" not in values["CSS"] + values["JS"], "an inline asset would end its element"
    return _SLOTS.sub(lambda m: values[m.group(1)], asset("report.html"))


def write_html_report(
    html_path: str, document: dict[str, Any], *, source: str = "", workers: int = 0
) -> HtmlReport:
    """Make the thumbnails (in parallel), then write the page atomically.

    Relative member paths are read relative to the document's ``base`` (the
    folder ``find`` ran in), else to the current folder; the page shows them
    as the document has them.
    """
    started = time.perf_counter()
    folder = thumbnail_dir(html_path)
    try:
        base = document_base(document)
    except ValueError as exc:
        raise ReportInputError(f"the groups document: {exc}") from None
    paths = [m["path"] for g in document["groups"] for m in g["members"]]
    thumbnails = make_thumbnails([resolve(p, base) for p in paths], folder, workers=workers)
    names = [[thumbnails.names.get(resolve(m["path"], base)) for m in g["members"]] for g in document["groups"]]
    page = render_page(document, names, quote(os.path.basename(folder)), source)
    out = AtomicTextFile(html_path)
    try:
        out.stream.write(page)
        out.commit()
    finally:
        out.discard()
    return HtmlReport(
        os.path.abspath(html_path), folder, len(document["groups"]), len(paths), thumbnails,
        time.perf_counter() - started,
    )

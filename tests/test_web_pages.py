"""Both pages draw groups with the one shared module (web/groups-page.js) and word them alike."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from imgtwin.reporting.html import render_page
from imgtwin.web import REPORT_SCRIPTS, REVIEW_SCRIPTS, SHARED_SCRIPTS, asset
from tests.review.conftest import client, private_home, start

# What a page draws a group with: defined in groups-page.js and nowhere else.
SHARED = ("setValue", "renderSummary", "renderCounts", "renderPlanLine", "thumbFor", "pathNode", "memberNode",
          "groupNode", "fillErrors")
DEFINES = re.compile(r"\bfunction\s+(\w+)\s*\(|\b(?:const|let)\s+(\w+)\s*=")


def defined(script: str) -> set[str]:
    return {a or b for a, b in DEFINES.findall(script)}


def test_the_shared_module_defines_and_exports_what_draws_a_group() -> None:
    script = asset("groups-page.js")
    assert set(SHARED) <= defined(script)
    exported = re.search(r"return \{([^}]*)\};\s*\}\)\(\);\s*$", script)
    assert exported and set(SHARED) <= {name.strip() for name in exported.group(1).split(",")}


def test_the_report_inlines_the_shared_modules_and_defines_none_of_their_functions() -> None:
    document = {"tool": "imgtwin", "base": "/", "summary": {}, "groups": [], "errors": []}
    page = render_page(document, [], "thumbs", "imgtwin find /pictures")
    script = page.rsplit("<script>", 1)[1].split("</script>", 1)[0]
    for name in SHARED_SCRIPTS:
        assert asset(name) in script
    own = script.replace(asset("groups-page.js"), "")
    assert not defined(own) & set(SHARED)
    assert list(REPORT_SCRIPTS[:-1]) == list(SHARED_SCRIPTS) and REPORT_SCRIPTS[-1] == "report.js"


def test_the_review_app_serves_the_shared_modules_and_defines_none_of_their_functions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    private_home(monkeypatch, tmp_path / "home")
    (tmp_path / "lib").mkdir()
    server = start(tmp_path / "lib", tmp_path / "index.db")
    try:
        with client(server, token=False, follow_redirects=True) as http:
            page = http.get("/", params={"token": server.guard.token})
            assert page.status_code == 200
            loaded = re.findall(r'<script src="/assets/([\w.-]+)\?v=', page.text)
            assert loaded == list(REVIEW_SCRIPTS)
            served = {name: http.get(f"/assets/{name}").text for name in loaded}
    finally:
        server.stop()
    for name in SHARED_SCRIPTS:
        assert served[name] == asset(name)
    for name, script in served.items():
        if name != "groups-page.js":
            assert not defined(script) & set(SHARED), name


def test_every_page_says_keeper_uncertain_and_none_says_unsure_keeper() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    texts = {name: asset(name) for name in (*REVIEW_SCRIPTS, "report.js", "report.html", "review.html")}
    for name, text in {**texts, "README.md": readme}.items():
        assert "unsure keeper" not in text.lower(), name
    assert "keeper uncertain" in asset("groups-page.js")
    assert "Keeper uncertain" in asset("report.html") and "Keeper uncertain" in asset("review.html")

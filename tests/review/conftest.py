"""Fixtures for the review app: a real library, a real server on 127.0.0.1, a private trash, a browser."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from imgtwin.options import MatchOptions
from imgtwin.review import ReviewServer, review_server
from tests.actions.conftest import make_library, snapshot  # noqa: F401 - snapshot is used by the tests
from tests.helpers import synthetic_photo
from tests.reporting.test_html import CHROMIUM_ARGS, browser  # noqa: F401 - the browser fixture

BROKEN = "broken.jpg"


def review_library(root: Path) -> Path:
    """Exact pairs, a near trio with a rotated copy, a unique photo and an unreadable file."""
    make_library(root, groups=3, size=(320, 240))
    synthetic_photo(7, (96, 72)).transpose(Image.Transpose.ROTATE_90).save(root / "sub" / "rot7.jpg", quality=92)
    (root / BROKEN).write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")
    return root


def private_home(monkeypatch: pytest.MonkeyPatch, home: Path) -> Path:
    """HOME and XDG_DATA_HOME in the test's folder: the trash and the journals stay there."""
    home.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    return home / ".local" / "share"


@dataclass(frozen=True)
class GroupFolder:
    """``photos``: three near copies of one picture (``files``) and an unrelated one; ``db``: an index beside."""

    photos: Path
    db: Path
    files: tuple[Path, Path, Path]


@pytest.fixture
def group_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GroupFolder:
    """One group to review (``tests.test_not_duplicates.make_group``), with HOME in the test's folder."""
    from tests.test_not_duplicates import make_group

    private_home(monkeypatch, tmp_path / "home")
    photos = tmp_path / "photos"
    return GroupFolder(photos, tmp_path / "index.db", make_group(photos))


def start(root: Path, db: Path, **kwargs: Any) -> ReviewServer:
    server = review_server([str(root)], str(db), MatchOptions(), **kwargs)
    server.start_in_thread()
    return server


def client(server: ReviewServer, *, token: bool = True, **kwargs: Any) -> httpx.Client:
    """An HTTP client for ``server`` (never through a proxy), with the token header unless told not to."""
    headers = {"x-imgtwin-token": server.guard.token} if token else {}
    return httpx.Client(base_url=server.origin, headers=headers, trust_env=False, timeout=30, **kwargs)


def member_ids(server: ReviewServer) -> dict[str, str]:
    """Path -> id of every group member, as the page gets them."""
    with client(server) as http:
        data = http.get("/api/review").json()
    return {m["path"]: i for g, ids in zip(data["document"]["groups"], data["ids"]) for m, i in zip(g["members"], ids)}


def wait_ready(server: ReviewServer, version: int = 1, timeout: float = 120) -> dict[str, Any]:
    """The state once groups of ``version`` (or later) are shown and nothing runs."""
    deadline = time.monotonic() + timeout
    with client(server) as http:
        while True:
            state = http.get("/api/state").json()
            if state["version"] >= version and state["busy"] is None and state["phase"] in ("ready", "failed"):
                return state  # type: ignore[no-any-return]
            assert time.monotonic() < deadline, state
            time.sleep(0.1)


def wait_until(page: Any, script: str, timeout: float = 30) -> Any:
    """Polls ``script`` (a JS expression) from Python: the page's CSP forbids Playwright's eval-based waits."""
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(script)
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {script}"
        time.sleep(0.005)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ReviewServer, Path]]:
    """One server over a library, shared by read-only tests."""
    base = tmp_path_factory.mktemp("review")
    with pytest.MonkeyPatch.context() as monkeypatch:
        private_home(monkeypatch, base / "home")
        root = review_library(base / "lib")
        server = start(root, base / "index.db")
        try:
            wait_ready(server)
            yield server, root
        finally:
            server.stop()


def journal_lines(path: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]

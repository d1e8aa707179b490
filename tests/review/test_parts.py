"""The review app's parts on their own: progress with a fake clock, the event log, decisions, pictures."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from imgtwin.actions.plan import Proposed
from imgtwin.records import GroupMember, ProcessingSummary
from imgtwin.reporting.thumbnails import THUMB_SIZE
from imgtwin.review.acting import DecisionError, ReviewGroups, parse_decisions, reviewed_groups
from imgtwin.review.events import EventHub
from imgtwin.review.imaging import PictureFailed, Pictures, picture_service
from imgtwin.review.progress import PageProgressReporter
from tests.helpers import synthetic_photo
from tests.hostile_files import slow_progressive_jpeg
from tests.review.conftest import client, private_home, start, wait_ready


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_rate_eta_and_errors_with_a_fake_clock() -> None:
    hub, clock = EventHub(), Clock()
    progress = PageProgressReporter(hub, interval=1.0, clock=clock)
    progress.report_started(1000)
    for done in range(1, 201):
        clock.now += 0.05  # 20 files/s
        progress.report_progress(done, 1000)
    progress.report_error("/p/bad\n.jpg", "truncated: JPEG data ends early")
    snap = progress.snapshot()
    assert snap["done"] == 200 and snap["total"] == 1000 and snap["errors"] == 1
    assert snap["rate"] == pytest.approx(20, rel=0.01) and snap["eta_s"] == pytest.approx(40, rel=0.01)
    assert snap["recent_errors"] == [{"path": "/p/bad\\n.jpg", "reason": "truncated",
                                      "message": "JPEG data ends early"}]
    events, gap = hub.since(0)
    kinds = [e.kind for e in events]
    assert not gap and kinds.count("scan-error") == 1
    assert 9 <= kinds.count("progress") <= 12  # 10 s of progress at one event a second, not 200 events
    progress.report_completed(ProcessingSummary(200, 1, 0, 10_000))
    clock.now += 60
    final = progress.snapshot()
    assert final["eta_s"] is None and final["elapsed_s"] == 10.0 and final["rate"] == 20.0


def test_event_log_replays_and_says_when_it_cannot() -> None:
    hub = EventHub(capacity=3)
    for k in range(5):
        hub.publish("n", {"k": k})
    events, gap = hub.since(3)
    assert [json.loads(e.data)["k"] for e in events] == [3, 4] and not gap
    events, gap = hub.since(0)
    assert gap and [e.id for e in events] == [3, 4, 5]

    async def read() -> list[bytes]:
        stream = hub.stream(0, keepalive=0.05)
        out = [await stream.__anext__() for _ in range(5)]
        hub.close()
        out += [chunk async for chunk in stream]
        return out

    chunks = asyncio.run(read())
    assert chunks[0].startswith(b"retry:") and b"event: resync" in chunks[1]
    assert b"keepalive" in b"".join(chunks[2:])  # no events: the line is kept alive, then the stream ends


def _groups() -> ReviewGroups:
    members = [{"path": f"/r/{n}.jpg", "size": s, "keep": k, "distance": 0, "transform": None}
               for n, s, k in (("a", 10, True), ("b", 20, False), ("c", 30, False))]
    members[2]["reference"] = True
    other = [{"path": "/r/x.jpg", "size": 5, "keep": True}, {"path": "/r/y.jpg", "size": 6, "keep": False}]
    document = {"tool": "imgtwin", "version": "0", "threshold": 6, "rotations": True, "base": "/r",
                "summary": {}, "errors": [],
                "groups": [{"id": 1, "category": "exact", "members": members},
                           {"id": 2, "category": "near", "members": other}]}
    files = tuple(tuple(GroupMember(m["path"], m["size"], None, None, None, 0, 0, m["keep"],
                                    reference=m.get("reference", False)) for m in g["members"])
                  for g in document["groups"])
    ids = (("a" * 32, "b" * 32, "c" * 32), ("d" * 32, "e" * 32))
    return ReviewGroups(3, document, files, ids)


def test_decisions_can_only_choose_among_a_groups_own_members() -> None:
    groups, roots = _groups(), ["/r"]
    good = {"version": 3, "action": "trash", "groups": [{"id": 1, "keep": "b" * 32, "act": ["a" * 32]}]}
    decisions = parse_decisions(good, groups, roots)
    assert reviewed_groups(groups, decisions) == [Proposed(1, "exact", ("/r/b.jpg", 20), (("/r/a.jpg", 10),))]

    def refused(change: dict[str, Any], status: int = 400) -> str:
        with pytest.raises(DecisionError) as caught:
            parse_decisions({**good, **change}, groups, roots)
        assert caught.value.status == status
        return str(caught.value)

    assert "changed" in refused({"version": 2}, 409)
    assert "unknown action" in refused({"action": "shred"})
    assert "not a member" in refused({"groups": [{"id": 1, "keep": "d" * 32, "act": ["a" * 32]}]})
    assert "other members" in refused({"groups": [{"id": 1, "keep": "a" * 32, "act": ["e" * 32]}]})  # group 2's
    assert "other members" in refused({"groups": [{"id": 1, "keep": "a" * 32, "act": ["a" * 32]}]})
    assert "reference" in refused({"groups": [{"id": 1, "keep": "a" * 32, "act": ["c" * 32]}]})
    assert "no group 9" in refused({"groups": [{"id": 9, "keep": "a" * 32, "act": []}]}, 409)
    assert "nothing to do" in refused({"groups": [{"id": 1, "keep": "a" * 32, "act": []}]})
    assert "type 'delete'" in refused({"action": "delete"})
    assert parse_decisions({**good, "action": "delete", "confirm": "delete"}, groups, roots).action.value == "delete"
    assert "absolute" in refused({"action": "move", "move_to": "dupes"})
    assert "inside a scanned folder" in refused({"action": "move", "move_to": "/r/sub"})
    assert parse_decisions({**good, "action": "move", "move_to": "/elsewhere/x"}, groups, roots).move_to == "/elsewhere/x"


@pytest.mark.slow
def test_pictures_browsers_cannot_show_are_sent_converted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    private_home(monkeypatch, tmp_path / "home")
    root = tmp_path / "lib"
    root.mkdir()
    photo = synthetic_photo(11, (300, 200))
    photo.save(root / "photo.jpg", quality=92)
    photo.save(root / "photo.tif")
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways, shown upright
    photo.transpose(Image.Transpose.ROTATE_90).save(root / "sideways.tif", exif=exif)
    names = ["photo.tif", "sideways.tif"]
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
        photo.save(root / "iphone.heic", quality=90)
        names.append("iphone.heic")
    except (ImportError, OSError, ValueError):  # no HEIF encoder here: TIFF still covers conversion
        pass
    server = start(root, tmp_path / "index.db")
    try:
        wait_ready(server)
        with client(server) as http:
            data = http.get("/api/review").json()
            ids = {m["path"]: i for g, gids in zip(data["document"]["groups"], data["ids"])
                   for m, i in zip(g["members"], gids)}
            assert set(ids) == {str(root / n) for n in ["photo.jpg", *names]}
            jpeg = http.get(f"/files/{ids[str(root / 'photo.jpg')]}/full")
            assert jpeg.headers["content-type"] == "image/jpeg" and jpeg.content == (root / "photo.jpg").read_bytes()
            for name in names:
                converted = http.get(f"/files/{ids[str(root / name)]}/full")
                assert converted.status_code == 200 and converted.headers["content-type"] == "image/png"
                out = tmp_path / f"{name}.png"
                out.write_bytes(converted.content)
                with Image.open(out) as image:
                    assert image.size == (300, 200)  # full resolution, upright
                thumb = http.get(f"/files/{ids[str(root / name)]}/thumb")
                assert thumb.headers["content-type"] == "image/jpeg"
    finally:
        server.stop()


@pytest.mark.slow
def test_a_picture_whose_decoder_spins_fails_alone_within_the_time_limit(tmp_path: Path) -> None:
    """The scan's pool serves the page's pictures: a spinning decode costs its own picture, the others are made."""
    (tmp_path / "spins.jpg").write_bytes(slow_progressive_jpeg(4096, 5000))  # ~10 s of decoding
    synthetic_photo(12, (300, 200)).save(tmp_path / "photo.tif")
    service = picture_service(1, timeout=1.0)
    pictures = Pictures(str(tmp_path / "cache"), service)

    async def both() -> list[Any]:
        spins, photo = str(tmp_path / "spins.jpg"), str(tmp_path / "photo.tif")
        spinning = pictures.thumbnail(spins, os.stat(spins))
        made = [pictures.thumbnail(photo, os.stat(photo)), pictures.full(photo, os.stat(photo)),
                pictures.full(photo, os.stat(photo))]  # the same picture twice: one decode
        return await asyncio.gather(spinning, *made, return_exceptions=True)

    try:
        started = time.monotonic()
        failed, thumb, full, again = asyncio.run(both())
        assert time.monotonic() - started < 10
    finally:
        service.close()
    assert isinstance(failed, PictureFailed) and "longer than 1 s" in str(failed), failed
    assert full == again and Path(full).name.endswith(".full.png")
    with Image.open(thumb) as small, Image.open(full) as large:
        assert small.format == "JPEG" and max(small.size) == THUMB_SIZE
        assert large.size == (300, 200)

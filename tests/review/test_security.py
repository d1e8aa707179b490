"""The review server's guards, over real HTTP to a real server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from imgtwin.review import ReviewServer
from imgtwin.review.security import Guard
from tests.helpers import REPO
from tests.review.conftest import client, member_ids, private_home, review_library, start, wait_ready

Served = tuple[ReviewServer, Path]


def test_without_the_token_nothing_is_answered(served: Served) -> None:
    server, _ = served
    some_id = next(iter(member_ids(server).values()))
    with client(server, token=False) as http:
        for path in ("/", "/api/state", "/api/groups", "/api/review", "/api/runs", "/api/events",
                     f"/files/{some_id}/thumb", f"/files/{some_id}/full", "/assets/review.js"):
            response = http.get(path)
            assert response.status_code == 401, path
            assert b"photo" not in response.content and b"imgtwin-token" not in response.content
        assert http.get("/", params={"token": "wrong"}).status_code == 403
        assert http.get("/api/state", headers={"x-imgtwin-token": "wrong"}).status_code == 401
        assert http.post("/api/scan").status_code == 403
        assert http.post("/api/apply", json={}).status_code == 403


def test_the_token_in_the_address_becomes_a_strict_http_only_cookie(served: Served) -> None:
    server, _ = served
    with client(server, token=False) as http:
        response = http.get("/", params={"token": server.guard.token})
        assert response.status_code == 303 and response.headers["location"] == "/"
        cookie = response.headers["set-cookie"]
        assert cookie.startswith(f"{server.guard.cookie_name}={server.guard.token};")
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
        page = http.get("/")  # the client keeps the cookie
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert server.guard.token in page.text  # written into the page for its own requests
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert page.headers["x-content-type-options"] == "nosniff"
        assert http.get("/api/state").status_code == 200
        # the cookie alone never changes anything: a foreign page's form post would carry it
        assert http.post("/api/scan").status_code == 403
        assert http.post("/api/stop", headers={"x-imgtwin-token": server.guard.token}).status_code == 200
        foreign = {"x-imgtwin-token": server.guard.token, "origin": "http://evil.example"}
        assert http.post("/api/stop", headers=foreign).status_code == 403
        assert http.options("/api/apply").status_code == 403  # no CORS preflight passes


def test_a_foreign_host_header_is_refused_even_with_the_token(served: Served) -> None:
    server, _ = served
    with client(server) as http:
        for host in ("evil.example", f"evil.example:{server.port}", f"127.0.0.1:{server.port + 1}",
                     f"127.0.0.1.evil.example:{server.port}", "", f"[::1]:{server.port}"):
            response = http.get("/api/groups", headers={"host": host})
            assert response.status_code == 403 and b"Host" in response.content, host
        response = http.get("/", params={"token": server.guard.token}, headers={"host": f"evil.example:{server.port}"})
        assert response.status_code == 403 and "set-cookie" not in response.headers
        assert http.get("/api/state", headers={"host": f"localhost:{server.port}"}).status_code == 200
        assert http.get("/api/state", headers={"host": f"127.0.0.1:{server.port}"}).status_code == 200


def test_host_rules() -> None:
    loop = Guard("t", "127.0.0.1", 8000)
    assert loop.host_allowed("127.0.0.1:8000") and loop.host_allowed("LOCALHOST:8000")
    assert not loop.host_allowed("127.0.0.1") and not loop.host_allowed("10.0.0.2:8000")
    assert not loop.host_allowed("127.0.0.1:8000:1") and not loop.host_allowed("[127.0.0.1:8000")
    v6 = Guard("t", "::1", 8000)
    assert v6.host_allowed("[::1]:8000") and v6.host_allowed("localhost:8000") and not v6.host_allowed("::1:8000")
    lan = Guard("t", "192.168.1.5", 80)
    assert lan.host_allowed("192.168.1.5") and not lan.host_allowed("localhost") and not lan.host_allowed("nas.lan")
    anywhere = Guard("t", "0.0.0.0", 9000)
    assert anywhere.host_allowed("10.1.2.3:9000") and anywhere.host_allowed("[fe80::1]:9000")
    assert not anywhere.host_allowed("photos.example:9000")  # a name may be rebound to this machine


def test_groups_are_the_find_json_document(served: Served, tmp_path: Path) -> None:
    server, root = served
    with client(server) as http:
        document = http.get("/api/groups").json()
    from click.testing import CliRunner

    from imgtwin.cli import main

    db = tmp_path / "copy.db"
    shutil.copy(server.session.db_path or "", db)
    out = tmp_path / "find.json"
    result = CliRunner().invoke(main, ["find", str(root), "--db", str(db), "--json", str(out), "-q"])
    assert result.exit_code == 1, result.output  # broken.jpg
    assert document == json.loads(out.read_text())
    assert [e["path"] for e in document["errors"]] == [str(root / "broken.jpg")]
    assert {g["category"] for g in document["groups"]} == {"exact", "near"}


def test_files_are_served_only_by_the_id_of_a_group_member(served: Served) -> None:
    server, root = served
    ids = member_ids(server)
    photo = ids[str(root / "photo0.png")]
    with client(server) as http:
        full = http.get(f"/files/{photo}/full")
        assert full.status_code == 200 and full.headers["content-type"] == "image/png"
        assert full.content == (root / "photo0.png").read_bytes()
        assert "private" in full.headers["cache-control"] and full.headers["etag"]
        assert http.get(f"/files/{photo}/full", headers={"if-none-match": full.headers["etag"]}).status_code == 304
        thumb = http.get(f"/files/{photo}/thumb")
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
        # not a member of any group (but indexed and under the root), made-up ids, paths: nothing
        lonely = server.session.catalog.file_id(str(root / "unique8.png"))
        outside = server.session.catalog.file_id("/etc/passwd")
        for bad in (lonely, outside, "0" * 32, "../../../../etc/passwd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
                    photo.upper(), photo + "0", "/etc/passwd"):
            for kind in ("thumb", "full"):
                response = http.get(f"/files/{bad}/{kind}")
                assert response.status_code == 404, (bad, kind, response.status_code)
                assert b"root:" not in response.content
        assert http.get(f"/files/{photo}/raw").status_code == 404
        assert http.get("/assets/..%2f..%2fsecurity.py").status_code == 404
        assert http.get("/assets/review.css").status_code == 200


@pytest.mark.slow
def test_a_member_swapped_for_a_link_out_of_the_roots_is_not_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    private_home(monkeypatch, tmp_path / "home")
    root = review_library(tmp_path / "lib")
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"\x89PNG\r\n\x1a\n secret bytes")
    server = start(root, tmp_path / "index.db")
    try:
        wait_ready(server)
        ids = member_ids(server)
        with client(server) as http:
            copy = root / "sub" / "copy0.png"
            os.unlink(copy)
            os.symlink(secret, copy)  # the member's name now leads out of the roots
            for kind in ("thumb", "full"):
                response = http.get(f"/files/{ids[str(copy)]}/{kind}")
                assert response.status_code == 404 and b"secret" not in response.content
            photo = root / "photo1.png"
            replacement = tmp_path / "other.png"
            replacement.write_bytes(photo.read_bytes())
            os.replace(replacement, photo)  # another file (inode) at the member's name
            assert http.get(f"/files/{ids[str(photo)]}/full").status_code == 409
            os.unlink(root / "photo2.png")
            assert http.get(f"/files/{ids[str(root / 'photo2.png')]}/full").status_code == 410
    finally:
        server.stop()


@pytest.mark.slow
def test_command_prints_the_address_warns_off_loopback_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    root = review_library(tmp_path / "lib")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
           "HOME": str(tmp_path / "home"), "XDG_DATA_HOME": str(tmp_path / "home" / "share")}
    command = [sys.executable, "-m", "imgtwin", "review", str(root), "--db", str(tmp_path / "i.db"),
               "--no-browser", "--host", "0.0.0.0", "--workers", "1"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = process.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith("Review: http://0.0.0.0:") and "/?token=" in line
        port = int(line.split("0.0.0.0:")[1].split("/")[0])
        token = line.strip().split("token=")[1]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=30) as http:
            assert http.get("/api/state").status_code == 401
            assert http.get("/api/state", headers={"x-imgtwin-token": token}).status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "Warning" in err and "0.0.0.0" in err and "Stopped." in err and "Traceback" not in err


def test_command_refuses_what_it_cannot_use(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from imgtwin.cli import main

    result = CliRunner().invoke(main, ["review", str(tmp_path / "missing"), "--no-browser"])
    assert result.exit_code == 2 and "missing" in result.output
    result = CliRunner().invoke(main, ["review", str(tmp_path), "--keep", "prefer-folder", "--no-browser"])
    assert result.exit_code == 2 and "--prefer" in result.output
    import socket

    with socket.socket() as taken:  # a port in use
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(main, ["review", str(tmp_path), "--port", str(port), "--no-browser",
                                           "--db", str(tmp_path / "i.db")])
    assert result.exit_code == 2 and "cannot listen" in result.output, result.output

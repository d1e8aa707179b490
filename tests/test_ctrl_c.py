"""One Ctrl-C stops every command that scans: files in flight finish, work is kept, exit 130.

Each test starts the real command on a folder of slow-decoding pictures (one
worker, about a second a file), waits until a worker process is decoding, sends
a single SIGINT and checks the exit code, the time it took and the index.
"""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest
from PIL import Image

from imgtwin.persistence.sqlite import read_rows

from .helpers import REPO

SLOW_FILES = 8
pytestmark = [
    pytest.mark.slow,  # real processes decoding 49 MP pictures until one Ctrl-C
    pytest.mark.skipif(not os.path.isdir("/proc"), reason="finds the worker processes in /proc"),
]


def _png_with_text(png: bytes, text: bytes) -> bytes:
    """``png`` with a tEXt chunk before IEND: the same picture, other bytes (so no byte copy of another)."""
    body = b"Comment\0" + text
    chunk = struct.pack(">I", len(body)) + b"tEXt" + body + struct.pack(">I", zlib.crc32(b"tEXt" + body))
    return png[:-12] + chunk + png[-12:]


@pytest.fixture(scope="module")
def slow_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Pictures of 49 megapixels that compress to a few KB: each takes a worker about a second to decode."""
    root = tmp_path_factory.mktemp("slow")
    big = root / "base.png"
    Image.new("RGB", (7000, 7000), (30, 120, 200)).save(big)
    png = big.read_bytes()
    big.unlink()
    for k in range(SLOW_FILES):
        (root / f"slow{k}.png").write_bytes(_png_with_text(png, str(k).encode()))
    return root


def _descendants(pid: int) -> dict[int, int]:
    """Every process below ``pid``, as {pid: parent pid}."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                    parents[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    below: dict[int, int] = {}
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier and child not in below}
        below.update((child, parents[child]) for child in frontier)
    return below


def _worker_started(pid: int) -> bool:
    """A worker process is running: a child of the fork server, or a spawned child of ``pid``."""
    return any(parent != pid or "spawn_main" in _cmdline(child) for child, parent in _descendants(pid).items())


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as stream:
            return stream.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _as_in_a_terminal() -> None:
    """Ctrl-C as a terminal delivers it: a test run started in the background of a script (``cmd &``) ignores
    SIGINT, and a child would inherit that and never see the one Ctrl-C these tests send."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
            "HOME": str(tmp_path / "home"), "XDG_DATA_HOME": str(tmp_path / "home" / "share")}


def _interrupt_once(process: subprocess.Popen[str], ready: float = 120) -> float:
    """Waits for a decoding worker, sends one SIGINT; the seconds the process took to end after it."""
    deadline = time.monotonic() + ready
    while not _worker_started(process.pid):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no worker started"
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    sent = time.monotonic()
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    return time.monotonic() - sent


def _stored(db: Path) -> int:
    return sum(1 for row in read_rows(str(db)) if row["hash"] is not None)


@pytest.mark.parametrize("command", [
    ["scan"],
    ["find"],
    ["find", "--deep"],
    ["dedupe", "--action", "trash", "--yes"],
])
def test_one_ctrl_c_stops_the_scan_keeps_its_work_and_exits_130(
    command: list[str], slow_library: Path, tmp_path: Path
) -> None:
    db = tmp_path / "index.db"
    process = subprocess.Popen(
        [sys.executable, "-m", "imgtwin", *command, str(slow_library), "--db", str(db), "--workers", "1",
         "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(tmp_path),
        preexec_fn=_as_in_a_terminal,  # noqa: PLW1509 - one signal call between fork and exec, no lock taken
    )
    seconds = _interrupt_once(process)
    out, err = process.communicate()
    assert process.returncode == 130, err
    assert "Traceback" not in err and "imgtwin: aborted" not in err  # stopped by the first Ctrl-C, not by a second
    assert seconds < 15, f"took {seconds:.1f} s to stop"
    assert _stored(db) < SLOW_FILES  # it did not go on scanning
    assert sorted(p.name for p in slow_library.iterdir()) == [f"slow{k}.png" for k in range(SLOW_FILES)]
    if command == ["scan"]:
        assert out.startswith("Stopped:") and int(out.split("Stopped: ")[1].split(" hashed")[0]) == _stored(db)


def test_one_ctrl_c_stops_the_review_apps_scan(slow_library: Path, tmp_path: Path) -> None:
    db = tmp_path / "index.db"
    process = subprocess.Popen(
        [sys.executable, "-m", "imgtwin", "review", str(slow_library), "--db", str(db), "--no-browser",
         "--workers", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(tmp_path),
        preexec_fn=_as_in_a_terminal,  # noqa: PLW1509 - one signal call between fork and exec, no lock taken
    )
    line = process.stdout.readline()  # type: ignore[union-attr]
    assert line.startswith("Review: http://"), process.communicate()
    seconds = _interrupt_once(process)
    _out, err = process.communicate()
    assert process.returncode == 0, err
    assert "Stopped." in err and "Traceback" not in err
    assert seconds < 15, f"took {seconds:.1f} s to stop"
    assert _stored(db) < SLOW_FILES


def test_one_ctrl_c_stops_report_while_it_makes_thumbnails(slow_library: Path, tmp_path: Path) -> None:
    from imgtwin.records import DuplicateGroup, GroupMember
    from imgtwin.reporting.groups import groups_document, write_json

    pictures = sorted(slow_library.iterdir())
    members = tuple(GroupMember(path=str(p), size=p.stat().st_size, width=7000, height=7000, format="PNG",
                                mtime_ns=p.stat().st_mtime_ns, distance=0, keep=k == 0)
                    for k, p in enumerate(pictures))
    found = tmp_path / "groups.json"
    write_json(str(found), groups_document([DuplicateGroup(1, "near", members)], [], 6, True))
    page = tmp_path / "review.html"
    process = subprocess.Popen(
        [sys.executable, "-m", "imgtwin", "report", "--from-json", str(found), "--html", str(page), "--workers", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(tmp_path),
        preexec_fn=_as_in_a_terminal,  # noqa: PLW1509 - one signal call between fork and exec, no lock taken
    )
    seconds = _interrupt_once(process)
    _out, err = process.communicate()
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert seconds < 15, f"took {seconds:.1f} s to stop"
    assert not page.exists()  # no page half made; the thumbnails made so far stay for the next run
    thumbnails = tmp_path / "review_files"
    assert not thumbnails.exists() or len(list(thumbnails.iterdir())) < SLOW_FILES

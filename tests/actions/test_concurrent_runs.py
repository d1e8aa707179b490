"""Two imgtwin runs acting on the same files at once never remove the last copy (issue 21).

Two folders ``a/`` and ``b/`` hold the same pictures; one run keeps ``a/``'s
copies and acts on ``b/``'s, the other the reverse. Both are real ``imgtwin``
processes released at the same instant (``together.py``; file operations
slowed a little so that their runs overlap), or a process and the review
app's apply. Each checks its keeper right before acting, yet before the lock
(``imgtwin.actions.exclusive``) each removed the other's keeper: pictures with
no copy left. Now whichever run comes second to a picture finds its keeper
gone, says so, and leaves its file alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from imgtwin.actions.exclusive import files_locked
from tests.actions.conftest import SCAN
from tests.helpers import synthetic_photo

pytestmark = pytest.mark.slow  # real imgtwin processes racing each other, several seconds each

PICTURES = 24
DELAY = "0.01"  # seconds before each file operation: each run lasts long enough to overlap the other
TOGETHER = str(Path(__file__).with_name("together.py"))
DELETE = ["--action", "delete", "--yes", "--i-understand-delete-is-permanent"]


def _digest(path: Path) -> str | None:
    """The bytes of the regular file at ``path`` (a link to a copy is no copy)."""
    if path.is_symlink() or not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _twins(base: Path, count: int = PICTURES) -> dict[str, str]:
    """``a/`` and ``b/`` holding the same ``count`` JPEGs; name -> sha256."""
    (base / "a").mkdir(parents=True)
    (base / "b").mkdir()
    pictures = {}
    for i in range(count):
        name = f"p{i:02}.jpg"
        synthetic_photo(500 + i, (48, 36)).save(base / "a" / name, quality=90)
        shutil.copy2(base / "a" / name, base / "b" / name)
        pictures[name] = _digest(base / "a" / name) or ""
    return pictures


def _lost(base: Path, pictures: dict[str, str]) -> list[str]:
    """The pictures with no copy, bytes compared, left in ``a/`` or ``b/``."""
    return [name for name, digest in pictures.items()
            if digest not in (_digest(base / "a" / name), _digest(base / "b" / name))]


def _plans(base: Path, db: Path, count: int = PICTURES) -> dict[str, Path]:
    """``find --json`` of both folders, as two plan files: one keeping ``a/``'s copies, one ``b/``'s."""
    found = base / "found.json"
    subprocess.run([sys.executable, "-m", "imgtwin", "find", str(base / "a"), str(base / "b"), "--db", str(db),
                    "--json", str(found), "--workers", "1", "--no-progress"], check=True, capture_output=True)
    document = json.loads(found.read_text())
    assert len(document["groups"]) == count
    plans = {}
    for folder in "ab":
        for group in document["groups"]:
            for member in group["members"]:
                member["keep"] = Path(member["path"]).parts[-2] == folder
        plans[folder] = base / f"keep-{folder}.json"
        plans[folder].write_text(json.dumps(document))
    return plans


def _together(base: Path, *runs: list[str]) -> list[subprocess.CompletedProcess[str]]:
    """Starts ``imgtwin`` with each argument list, releases them all at once, waits for them."""
    go = base / "go"
    procs = [subprocess.Popen([sys.executable, TOGETHER, str(go), DELAY, *args], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for args in runs]
    deadline = time.monotonic() + 60
    while sum(1 for p in base.glob("go.*.ready")) < len(procs) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    done = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return done


def _said_keeper_gone(runs: list[subprocess.CompletedProcess[str]]) -> int:
    return sum(run.stdout.count("the keeper is gone") for run in runs)


@pytest.mark.parametrize("action", ["delete", "trash", "move", "hardlink"])
def test_two_plans_with_opposite_keepers_leave_a_copy_of_every_picture(action: str, tmp_path: Path) -> None:
    pictures = _twins(tmp_path)
    db = tmp_path / "index.db"
    plans = _plans(tmp_path, db)
    args = DELETE if action == "delete" else ["--action", action, "--yes"]
    runs = _together(tmp_path, *[
        ["dedupe", "--plan", str(plans[f]), "--db", str(db), str(tmp_path / "a"), str(tmp_path / "b"), *args,
         *(["--move-to", str(tmp_path / f"moved-{f}")] if action == "move" else [])] for f in "ab"])
    assert _lost(tmp_path, pictures) == [], [r.stdout + r.stderr for r in runs]
    assert all(r.returncode in (0, 1) for r in runs), [r.stderr for r in runs]
    if action != "hardlink":  # a link leaves the keeper's name in place: the other run finds it linked
        assert _said_keeper_gone(runs) >= 1, [r.stdout for r in runs]  # the run that came second said so


def test_two_indexes_and_prefer_folder_deletes_leave_a_copy_of_every_picture(tmp_path: Path) -> None:
    """The issue's first scenario: two indexes, ``--keep prefer-folder`` with opposite ``--prefer``."""
    from imgtwin.api import scan

    pictures = _twins(tmp_path)
    folders = [str(tmp_path / "a"), str(tmp_path / "b")]
    for f in "ab":
        scan(folders, tmp_path / f"index-{f}.db", SCAN)
    runs = _together(tmp_path, *[
        ["dedupe", *folders, "--db", str(tmp_path / f"index-{f}.db"), "--keep", "prefer-folder", "--prefer",
         str(tmp_path / f), "--workers", "1", "--no-progress", *DELETE] for f in "ab"])
    assert _lost(tmp_path, pictures) == [], [r.stdout + r.stderr for r in runs]
    assert all(r.returncode in (0, 1) for r in runs), [r.stderr for r in runs]


def test_a_file_another_run_holds_is_waited_for_then_left_alone_naming_the_holder(tmp_path: Path,
                                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    pictures = _twins(tmp_path, 2)
    db = tmp_path / "index.db"
    plans = _plans(tmp_path, db, 2)
    monkeypatch.setenv("IMGTWIN_LOCK_WAIT", "0.5")
    started = time.monotonic()
    with files_locked([str(tmp_path / "a" / "p00.jpg")], wait=0):  # this test's process holds one keeper
        run = subprocess.run([sys.executable, "-m", "imgtwin", "dedupe", "--plan", str(plans["a"]), "--db", str(db),
                              *DELETE], capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 1, run.stderr
    assert time.monotonic() - started >= 0.5
    line = next(line for line in run.stdout.splitlines() if "p00.jpg" in line and "skip" in line)
    assert f"another imgtwin run is acting on it (pid {os.getpid()}: " in line and "waited 0.5 s" in line
    assert (tmp_path / "b" / "p00.jpg").exists() and not (tmp_path / "b" / "p01.jpg").exists()
    assert _lost(tmp_path, pictures) == []


def test_a_run_waits_for_a_lock_let_go_in_time_and_then_acts(tmp_path: Path) -> None:
    _twins(tmp_path, 2)
    db = tmp_path / "index.db"
    plans = _plans(tmp_path, db, 2)
    release = threading.Event()
    held = threading.Event()

    def hold() -> None:
        with files_locked([str(tmp_path / "b" / "p00.jpg")], wait=0):
            held.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    journal = tmp_path / "journal.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "imgtwin", "dedupe", "--plan", str(plans["a"]), "--db", str(db),
                             "--journal", str(journal), *DELETE], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 60
    while not (journal.exists() and journal.read_text()) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(1)
    assert proc.poll() is None and (tmp_path / "b" / "p00.jpg").exists()  # waiting for the file this test holds
    release.set()
    holder.join()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, out + err
    assert not (tmp_path / "b" / "p00.jpg").exists() and (tmp_path / "a" / "p00.jpg").exists()


def test_the_review_app_and_a_cli_run_with_opposite_keepers_leave_a_copy_of_every_picture(tmp_path: Path) -> None:
    """The review app's apply (keeping ``b/``) beside ``dedupe --plan`` (keeping ``a/``), both deleting.

    The command line takes the groups in the opposite order, so the two runs
    cross at some picture whenever they overlap, whichever starts first.
    """
    from imgtwin.options import MatchOptions
    from imgtwin.review import review_server
    from tests.review.conftest import client, wait_ready

    pictures = _twins(tmp_path)
    db = tmp_path / "index.db"
    plan = _plans(tmp_path, db)["a"]
    document = json.loads(plan.read_text())
    document["groups"].reverse()
    plan.write_text(json.dumps(document))
    server = review_server([str(tmp_path / "a"), str(tmp_path / "b")], str(db), MatchOptions())
    server.start_in_thread()
    try:
        wait_ready(server)
        with client(server) as http:
            review = http.get("/api/review").json()
            decided = []
            for group, ids in zip(review["document"]["groups"], review["ids"]):
                folders = [Path(m["path"]).parts[-2] for m in group["members"]]
                decided.append({"id": group["id"], "keep": ids[folders.index("b")], "act": [ids[folders.index("a")]]})
            body = {"version": review["version"], "action": "delete", "confirm": "delete", "groups": decided}
            go = tmp_path / "go"
            proc = subprocess.Popen([sys.executable, TOGETHER, str(go), DELAY, "dedupe", "--plan", str(plan), "--db",
                                     str(db), *DELETE], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            deadline = time.monotonic() + 60
            while not list(tmp_path.glob("go.*.ready")) and time.monotonic() < deadline:
                time.sleep(0.01)
            go.touch()
            started = http.post("/api/apply", json=body)
            assert started.status_code == 202, started.text
            out, err = proc.communicate(timeout=120)
            job_url = f"/api/jobs/{started.json()['id']}"
            while (job := http.get(job_url).json())["status"] == "running" and time.monotonic() < deadline + 60:
                time.sleep(0.05)
        wait_ready(server)
    finally:
        server.stop()
    assert _lost(tmp_path, pictures) == [], (out, job)
    assert job["status"] == "finished" and proc.returncode in (0, 1), (err, job)
    gone = sum("the keeper is gone" in item["reason"] for item in job["items"]) + out.count("the keeper is gone")
    assert gone >= 1  # whichever came second to a picture said why it left it alone


def test_undo_waits_for_a_file_another_run_holds_and_reports_it_not_undone(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from imgtwin.actions import apply_plan, plan_from_file, undo_journal

    _twins(tmp_path, 2)
    db = tmp_path / "index.db"
    plan = plan_from_file(str(_plans(tmp_path, db, 2)["a"]), "trash", roots=(), db=str(db))
    report = apply_plan(plan, str(tmp_path / "journal.jsonl"))
    assert report.count("done") == 2
    monkeypatch.setenv("IMGTWIN_LOCK_WAIT", "0.2")
    with files_locked([str(tmp_path / "a" / "p00.jpg")], wait=0):  # the keeper of one undone file
        undone = undo_journal(str(tmp_path / "journal.jsonl"))
    by_name = {Path(o.path).name: o for o in undone.outcomes}
    assert by_name["p01.jpg"].status == "restored" and (tmp_path / "b" / "p01.jpg").exists()
    assert by_name["p00.jpg"].status == "failed" and f"(pid {os.getpid()}: " in by_name["p00.jpg"].reason
    assert not (tmp_path / "b" / "p00.jpg").exists()
    assert undo_journal(str(tmp_path / "journal.jsonl")).complete  # once let go, undo finishes the job
    assert (tmp_path / "b" / "p00.jpg").exists()

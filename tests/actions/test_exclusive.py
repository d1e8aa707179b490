"""``files_locked``: the lock is on the file now at each name, never on one a name held before."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path

import pytest

from imgtwin.actions.exclusive import FileBusy, files_locked


def _locked_elsewhere(path: Path) -> bool:
    """Another open of ``path`` cannot take the lock: someone holds it."""
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def test_a_name_given_another_file_while_waiting_is_locked_again_at_its_new_file(tmp_path: Path) -> None:
    name = tmp_path / "x.jpg"
    name.write_bytes(b"old")
    seen: list[bool] = []
    with files_locked([str(name)], wait=0):
        def wait_for_it() -> None:
            with files_locked([str(name)], wait=10):
                seen.append(_locked_elsewhere(name))

        waiter = threading.Thread(target=wait_for_it)
        waiter.start()
        time.sleep(0.2)
        os.rename(name, tmp_path / "x.old")  # the holder swaps another file in, then lets go
        name.write_bytes(b"new")
    waiter.join(10)
    assert seen == [True]  # the waiter held the new file, not the old one it first opened


def test_two_names_of_one_file_are_one_lock_and_a_missing_name_none(tmp_path: Path) -> None:
    name = tmp_path / "x.jpg"
    name.write_bytes(b"x")
    os.link(name, tmp_path / "y.jpg")
    with files_locked([str(name), str(tmp_path / "y.jpg"), str(tmp_path / "gone.jpg")], wait=0):
        assert _locked_elsewhere(name)
    assert not _locked_elsewhere(name)


def test_a_file_held_past_the_wait_is_refused_naming_this_process(tmp_path: Path) -> None:
    name = tmp_path / "x.jpg"
    name.write_bytes(b"x")
    refusal = rf"\(pid {os.getpid()}: .*waited 0.1 s"
    with files_locked([str(name)], wait=0), pytest.raises(FileBusy, match=refusal), files_locked([str(name)], wait=0.1):
        pass

"""Acting is exclusive: no two imgtwin runs touch the same file, or rely on the same keeper, at once.

Why: each run checks right before acting that its keeper is present and
unchanged, but two runs with opposite keepers (one keeps ``a/x`` and removes
``b/x``, the other the reverse) each saw their keeper, then removed the
other's: both copies gone. So a run takes, for each file, an exclusive
advisory ``flock`` on the file itself *and* on its keeper, then checks, acts,
and lets go. Any other imgtwin process (a second ``dedupe``, the review app, a
script calling ``apply_plan``/``undo_journal``) that would remove that keeper,
or act on that file, waits for it; once it has the lock it checks its own
keeper again and finds it gone, so it leaves its file alone. The last copy of
a picture is therefore never removed, whatever the interleaving.

Locking the pictures themselves (not a lock file somewhere) is what makes it
hold for every user of a shared folder and every machine mounting it (NFS
passes ``flock`` on as a lock on the server), with nothing left behind, and
two runs on unrelated files never wait for each other. Its limits: the lock is
advisory, so only imgtwin honours it (another program may still delete a
keeper: the checks and the set-aside in ``apply.py`` narrow that window, they
cannot close it); on a system without ``flock`` (Windows) nothing is locked.

A file still locked after ``IMGTWIN_LOCK_WAIT`` seconds (default 30) is left
alone with a reason naming the holder (its pid and command, where Linux's
``/proc/locks`` says).
"""

from __future__ import annotations

import errno
import os
import stat
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

try:
    import fcntl
except ImportError:  # Windows: no advisory locks
    fcntl = None  # type: ignore[assignment]

WAIT_ENV_VAR = "IMGTWIN_LOCK_WAIT"
DEFAULT_WAIT_S = 30.0
_POLL_S = 0.01
_RETRIES = 20  # a name that keeps pointing at another file than the one just locked


class FileBusy(Exception):
    """A file could not be locked: another process held it for the whole wait (``reason`` names it), or
    its file system takes no locks."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def lock_wait() -> float:
    """Seconds to wait for a file another imgtwin run holds (``$IMGTWIN_LOCK_WAIT``, else 30)."""
    try:
        return max(0.0, float(os.environ.get(WAIT_ENV_VAR, DEFAULT_WAIT_S)))
    except ValueError:
        return DEFAULT_WAIT_S


def _open(path: str) -> int | None:
    """A descriptor on the regular file at ``path`` (not through a link), or None where there is none."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None  # gone, a link, unreadable: the checks will refuse it, and there is nothing to lock
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return fd


def _identity(fd: int | None) -> tuple[int, int] | None:
    if fd is None:
        return None
    st = os.fstat(fd)
    return st.st_dev, st.st_ino


def _at_name(path: str) -> tuple[int, int] | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISREG(st.st_mode) else None


def holder(identity: tuple[int, int]) -> str:
    """Who holds the ``flock`` on the file ``identity`` (device, inode): ``pid N: command``, where known."""
    dev, ino = identity
    wanted = f"{os.major(dev):02x}:{os.minor(dev):02x}:{ino}"
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as locks:
            lines = locks.read().splitlines()
    except OSError:
        return "another process"
    for line in lines:
        fields = line.split()
        if fields[1:2] == ["->"]:
            continue  # a waiter, not the holder
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == wanted:
            return f"pid {fields[4]}: {_command(fields[4])}"
    return "another process"


def _command(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            words = cmdline.read().split(b"\0")
    except OSError:
        return "?"
    text = " ".join(os.fsdecode(w) for w in words if w)
    return text if len(text) <= 120 else text[:117] + "..."


def _lock(fd: int, deadline: float) -> bool:
    """Takes the exclusive lock on ``fd``, polling until ``deadline``; False if it stayed busy."""
    assert fcntl is not None
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):  # ENOLCK: no lock daemon
                raise FileBusy(f"cannot lock it ({exc.strerror or exc}), so cannot keep other runs off it: "
                               "left alone") from None
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_S)


@contextmanager
def files_locked(paths: Iterable[str], wait: float | None = None) -> Iterator[None]:
    """Holds an exclusive ``flock`` on each regular file at ``paths`` while the body runs.

    Locks are taken in (device, inode) order, the same in every process, so two
    runs never deadlock. After locking, each name must still hold the file
    locked (or still hold none); if another process renamed or replaced one
    meanwhile, everything is let go and taken again. Raises ``FileBusy`` if a
    file is still held by another process after ``wait`` seconds.
    """
    names = sorted(set(paths))
    if fcntl is None:
        yield
        return
    seconds = lock_wait() if wait is None else wait
    deadline = time.monotonic() + seconds
    for _ in range(_RETRIES):
        fds = [_open(name) for name in names]
        try:
            opened = {_identity(fd): fd for fd in fds if fd is not None}  # two names of one file: one lock
            for identity in sorted(i for i in opened if i is not None):
                if not _lock(opened[identity], deadline):
                    raise FileBusy(f"another imgtwin run is acting on it ({holder(identity)}); waited "
                                   f"{seconds:g} s: left alone")
            if all(_at_name(name) == _identity(fd) for name, fd in zip(names, fds)):
                yield
                return
        finally:
            for fd in fds:
                if fd is not None:
                    os.close(fd)  # closing the last descriptor of a lock drops it
    raise FileBusy("its name kept changing to other files while it was being locked: left alone")

"""The file-system operations dedupe and undo perform, behind one small interface.

Every change goes through a ``FileOps`` so that tests can inject the faults a
real disk produces (a full disk, a permission error, a slow device) at any
step, and check that what was done is consistent and can be undone. The
compound operations below (``move_no_replace``...) are built from these
primitives, so an injected fault exercises their real recovery paths.

Nothing here ever replaces an existing file it did not create itself: new
names are made with ``link`` or ``O_EXCL``, which fail on an existing name.
The journal's writes go through ``write`` and ``fsync`` too, so a full disk
can be injected there as well.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from imgtwin.hashing.content import content_hash
from imgtwin.persistence.atomic import fsync_directory

# link() cannot make the name here (another file system, no hard links): copy instead.
LINK_UNSUPPORTED = {errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.EACCES}


@dataclass(frozen=True, slots=True)
class TrashedFile:
    """Where a trashed file went; ``path`` is None where the platform does not say."""

    path: str | None
    info_path: str | None = None


@runtime_checkable
class FileOps(Protocol):
    """The primitive operations; each raises ``OSError`` as the OS would."""

    def lstat(self, path: str) -> os.stat_result: ...
    def stat(self, path: str) -> os.stat_result: ...
    def readlink(self, path: str) -> str: ...
    def link(self, src: str, dst: str) -> None: ...
    def symlink(self, target: str, dst: str) -> None: ...
    def rename(self, src: str, dst: str) -> None: ...
    def unlink(self, path: str) -> None: ...
    def rmdir(self, path: str) -> None: ...
    def makedirs(self, path: str) -> list[str]: ...
    def create_exclusive(self, path: str) -> None: ...
    def copy_file(self, src: str, dst: str) -> None: ...
    def set_meta(self, path: str, mode: int, atime_ns: int, mtime_ns: int) -> None: ...
    def content_hash(self, path: str) -> str: ...
    def fingerprint(self, path: str, digest: bool) -> tuple[os.stat_result, str | None]: ...
    def write_new(self, path: str, data: bytes) -> None: ...
    def write(self, fd: int, data: bytes) -> int: ...
    def fsync(self, fd: int) -> None: ...
    def trash(self, path: str, original: str, tag: str) -> TrashedFile: ...
    def sync_dir(self, path: str) -> None: ...


class RealFileOps:
    """``FileOps`` on the real file system."""

    def lstat(self, path: str) -> os.stat_result:
        return os.lstat(path)

    def stat(self, path: str) -> os.stat_result:
        return os.stat(path)

    def readlink(self, path: str) -> str:
        return os.readlink(path)

    def link(self, src: str, dst: str) -> None:
        os.link(src, dst, follow_symlinks=False)

    def symlink(self, target: str, dst: str) -> None:
        os.symlink(target, dst)

    def rename(self, src: str, dst: str) -> None:
        os.rename(src, dst)

    def unlink(self, path: str) -> None:
        os.unlink(path)

    def rmdir(self, path: str) -> None:
        os.rmdir(path)

    def makedirs(self, path: str) -> list[str]:
        """Create ``path`` and missing parents; returns those created, outermost first."""
        missing = []
        current = path
        while current and not os.path.isdir(current):
            missing.append(current)
            parent = os.path.dirname(current)
            if parent == current:
                break
            current = parent
        for folder in reversed(missing):
            try:
                os.mkdir(folder)
            except FileExistsError:
                if not os.path.isdir(folder):
                    raise
        return list(reversed(missing))

    def create_exclusive(self, path: str) -> None:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))

    def copy_file(self, src: str, dst: str) -> None:
        """Copy bytes, mode and times to a new ``dst`` (never an existing one), synced to disk."""
        fd = os.open(dst, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        try:
            with open(src, "rb") as source, os.fdopen(fd, "wb", closefd=False) as out:
                shutil.copyfileobj(source, out, 1 << 20)
                out.flush()
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            _remove_quietly(dst)
            raise
        os.close(fd)
        try:
            shutil.copystat(src, dst)
        except OSError:
            pass  # bytes are what matter; mode and times are best effort across file systems

    def set_meta(self, path: str, mode: int, atime_ns: int, mtime_ns: int) -> None:
        os.chmod(path, stat.S_IMODE(mode))
        os.utime(path, ns=(atime_ns, mtime_ns))

    def content_hash(self, path: str) -> str:
        return content_hash(path)

    def fingerprint(self, path: str, digest: bool) -> tuple[os.stat_result, str | None]:
        """The file at ``path`` opened without following a link: its ``fstat``, and its content hash.

        Both describe the one inode opened, whatever happens to the name
        meanwhile. OSError (``ELOOP`` for a link) if it cannot be opened; EAGAIN
        if it changed while it was read.
        """
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        try:
            before = os.fstat(fd)
            if not stat.S_ISREG(before.st_mode) or not digest:
                return before, None
            # content_hash opens what it is given: a duplicate descriptor (which it closes) reads this inode.
            value = content_hash(os.dup(fd))
            if identity(os.fstat(fd)) != identity(before) or os.fstat(fd).st_ctime_ns != before.st_ctime_ns:
                raise OSError(errno.EAGAIN, "it changed while it was read", path)
            return before, value
        finally:
            os.close(fd)

    def write_new(self, path: str, data: bytes) -> None:
        """A new file (never an existing one) holding ``data``, synced; nothing is left if that fails."""
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_BINARY", 0), 0o600)
        try:
            write_all(self, fd, data)
            self.fsync(fd)
        except BaseException:
            os.close(fd)
            _remove_quietly(path)
            raise
        os.close(fd)

    def write(self, fd: int, data: bytes) -> int:
        return os.write(fd, data)

    def fsync(self, fd: int) -> None:
        os.fsync(fd)

    def trash(self, path: str, original: str, tag: str) -> TrashedFile:
        """Move ``path`` (the file ``original``, set aside under another name) to the trash, as ``original``."""
        from imgtwin.actions.trash import send_to_trash

        return send_to_trash(self, path, original, tag)

    def sync_dir(self, path: str) -> None:
        """Make renames and links in ``path`` durable (a power cut after a journal "done")."""
        fsync_directory(path)


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def identity(st: os.stat_result) -> tuple[int, int, int, int]:
    """What says a file is the one seen before: device, inode, size, modification time."""
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def write_all(ops: FileOps, fd: int, data: bytes) -> None:
    """Write every byte of ``data`` (``write`` may write fewer than asked); OSError when the disk takes no more."""
    view = memoryview(data)
    while view:
        written = ops.write(fd, bytes(view))
        if written <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[written:]


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def lstat_or_none(ops: FileOps, path: str) -> os.stat_result | None:
    try:
        return ops.lstat(path)
    except FileNotFoundError:
        return None


def same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def put_back(ops: FileOps, aside: str, path: str) -> None:
    """Return a file set aside at ``aside`` to its free name ``path``; never replaces a file that appeared there.

    OSError (``EEXIST``) when ``path`` is taken: the file then stays at ``aside``.
    """
    try:
        ops.link(aside, path)
    except OSError as exc:
        if exc.errno not in LINK_UNSUPPORTED or os.path.lexists(path):
            raise
        ops.rename(aside, path)  # no hard links on this file system; the name was free a moment ago
    else:
        ops.unlink(aside)
    ops.sync_dir(os.path.dirname(path))


def remove_if(ops: FileOps, path: str, aside: str, wanted: Callable[[str, os.stat_result], bool]) -> bool:
    """Remove what ``path`` names only if ``wanted(name, stat)`` says it is ours; True if removed.

    The name is first renamed (atomically) to ``aside``, a name reserved with
    ``O_EXCL``, and judged there, where no other process is at work: checking
    ``path`` itself and then unlinking it could remove a file another process
    put there in between. Something else is put back at its name.
    """
    ops.create_exclusive(aside)
    try:
        ops.rename(path, aside)
    except BaseException:
        ops.unlink(aside)
        raise
    if wanted(aside, ops.lstat(aside)):
        ops.unlink(aside)
        return True
    put_back(ops, aside, path)
    return False


def move_no_replace(ops: FileOps, src: str, dst: str, expected_hash: str | None = None) -> list[str]:
    """Move ``src`` to a new name ``dst``; never replaces a file already at ``dst``.

    Same file system: ``link`` then ``unlink`` (the name appears atomically,
    and ``link`` fails if it exists). Otherwise copy with ``O_EXCL``, check the
    copy's bytes, then remove ``src``. If removing ``src`` fails, the new copy
    is removed again so that exactly one copy remains. Returns the folders made.
    """
    created = ops.makedirs(os.path.dirname(dst))
    try:
        try:
            ops.link(src, dst)
        except OSError as exc:
            if exc.errno not in LINK_UNSUPPORTED or os.path.lexists(dst):
                raise
            ops.copy_file(src, dst)
            want = expected_hash or ops.content_hash(src)
            if ops.content_hash(dst) != want:
                ops.unlink(dst)
                raise OSError(errno.EIO, f"the copy at {dst} does not match the original") from None
        try:
            ops.unlink(src)
        except OSError:
            ops.unlink(dst)  # the name at dst is ours: we just made it
            raise
    except BaseException:
        remove_empty_dirs(ops, created)
        raise
    ops.sync_dir(os.path.dirname(dst))
    ops.sync_dir(os.path.dirname(src))
    return created


def copy_no_replace(ops: FileOps, src: str, dst: str, expected_hash: str | None = None) -> list[str]:
    """Copy ``src`` to a new name ``dst`` (never over a file there), its bytes checked; returns the folders made.

    A copy that does not match ``expected_hash`` (or ``src``'s bytes now) is
    removed again, and so are the folders made for it.
    """
    created = ops.makedirs(os.path.dirname(dst))
    try:
        ops.copy_file(src, dst)
        if ops.content_hash(dst) != (expected_hash or ops.content_hash(src)):
            ops.unlink(dst)
            raise OSError(errno.EIO, f"the copy at {dst} does not match the original")
    except BaseException:
        remove_empty_dirs(ops, created)
        raise
    ops.sync_dir(os.path.dirname(dst))
    return created


def remove_empty_dirs(ops: FileOps, created: list[str]) -> None:
    """Remove folders we made (innermost first) if they are empty again."""
    for folder in reversed(created):
        try:
            ops.rmdir(folder)
        except OSError:
            return

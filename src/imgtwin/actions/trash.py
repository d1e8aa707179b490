"""Sending a file to the trash, and knowing where it went so undo can bring it back.

On Linux and other freedesktop systems the move is done here, following the
trash specification with send2trash's own helpers (trash folder per volume,
``.trashinfo`` format), because send2trash does not say where a file went and
reads ``XDG_DATA_HOME`` only once, at import. The ``.trashinfo`` file is created
with ``O_EXCL`` first (it reserves the name), then the file is linked in and
unlinked, so no file already in the trash is ever replaced. Elsewhere
(macOS, Windows) ``send2trash`` does the move and the location is unknown.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Iterator
from urllib.parse import unquote

from imgtwin.actions.fileops import TrashedFile

INFO_SUFFIX = ".trashinfo"


def freedesktop() -> bool:
    return sys.platform not in ("darwin", "win32")


def data_home() -> str:
    value = os.environ.get("XDG_DATA_HOME", "")
    return value if os.path.isabs(value) else os.path.join(os.path.expanduser("~"), ".local", "share")


def home_trash() -> str:
    return os.path.join(data_home(), "Trash")


def _device(path: str) -> int:
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return os.stat(path).st_dev


def trash_dir_for(path: str, *, create: bool = True) -> tuple[str, str]:
    """(trash folder, top folder that ``Path=`` is relative to) for a file at ``path``."""
    if os.lstat(path).st_dev == _device(home_trash()):
        return home_trash(), data_home()
    from send2trash import plat_other

    top = plat_other.find_mount_point(os.fsencode(path))
    if not create:
        return os.fsdecode(os.path.join(top, plat_other.TOPDIR_FALLBACK)), os.fsdecode(top)
    return os.fsdecode(plat_other.find_ext_volume_trash(top)), os.fsdecode(top)


def send_to_trash(path: str) -> TrashedFile:
    """Move ``path`` to the trash of its volume; returns where it went."""
    if not freedesktop():
        from send2trash import send2trash

        send2trash(path)
        return TrashedFile(None)
    from send2trash import plat_other

    source = os.path.abspath(path)
    trash, top = trash_dir_for(source)
    files, info = os.path.join(trash, "files"), os.path.join(trash, "info")
    for folder in (files, info):
        os.makedirs(folder, 0o700, exist_ok=True)
    base, ext = os.path.splitext(os.path.basename(source))
    for counter in range(10_000):
        name = os.path.basename(source) if counter == 0 else f"{base} {counter}{ext}"
        info_path = os.path.join(info, name + INFO_SUFFIX)
        try:
            fd = os.open(info_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(plat_other.info_for(os.fsencode(source), os.fsencode(top)))
        dest = os.path.join(files, name)
        try:
            os.link(source, dest, follow_symlinks=False)
        except FileExistsError:
            os.unlink(info_path)
            continue
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP) or os.path.lexists(dest):
                os.unlink(info_path)
                raise
            os.rename(source, dest)  # no hard links here; the name was free a moment ago
            return TrashedFile(dest, info_path)
        try:
            os.unlink(source)
        except OSError:
            os.unlink(dest)
            os.unlink(info_path)
            raise
        return TrashedFile(dest, info_path)
    raise OSError(errno.EEXIST, f"no free name in the trash for {source}")


def _info_entries(trash: str, top: str) -> Iterator[tuple[str, str, str]]:
    """(info file, trashed file, original absolute path) for every entry of a trash folder."""
    info_dir = os.path.join(trash, "info")
    try:
        names = os.listdir(info_dir)
    except OSError:
        return
    for name in names:
        if not name.endswith(INFO_SUFFIX):
            continue
        info_path = os.path.join(info_dir, name)
        try:
            with open(info_path, encoding="utf-8", errors="surrogateescape") as stream:
                lines = stream.read().splitlines()
        except OSError:
            continue
        for line in lines:
            if line.startswith("Path="):
                original = os.fsdecode(unquote(line[5:], errors="surrogateescape").encode(
                    "utf-8", "surrogateescape"))
                if not os.path.isabs(original):
                    original = os.path.join(top, original)
                yield info_path, os.path.join(trash, "files", name[: -len(INFO_SUFFIX)]), original
                break


def find_trashed(original: str, inode: int | None, size: int) -> list[TrashedFile]:
    """Trash entries that came from ``original`` (newest first), matched by inode, else size.

    Used when a run was killed after the move but before the journal said where.
    """
    trashes = [(home_trash(), data_home())]
    parent = os.path.dirname(original)
    try:
        other, top = trash_dir_for(parent, create=False)
        if other != home_trash():
            trashes += [(other, top), (os.path.join(top, ".Trash", str(os.getuid())), top)]
    except OSError:
        pass
    found = []
    for trash, top in trashes:
        for info_path, file_path, path in _info_entries(trash, top):
            if path != original:
                continue
            try:
                st = os.lstat(file_path)
            except FileNotFoundError:
                found.append((0.0, TrashedFile(None, info_path)))  # name reserved, move never made
                continue
            if (inode is not None and st.st_ino == inode) or (inode is None and st.st_size == size):
                found.append((os.lstat(info_path).st_mtime, TrashedFile(file_path, info_path)))
    return [t for _, t in sorted(found, key=lambda f: -f[0])]

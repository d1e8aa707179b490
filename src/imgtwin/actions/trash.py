"""Sending a file to the trash, and knowing where it went so undo can bring it back.

On Linux and other freedesktop systems the move is done here, following the
trash specification with send2trash's own helpers (trash folder per volume,
``.trashinfo`` format), because send2trash does not say where a file went and
reads ``XDG_DATA_HOME`` only once, at import. The ``.trashinfo`` file is
written whole under a temporary name and linked to its own name first (which
reserves it), then the file is linked in and unlinked, so no file already in
the trash is ever replaced and no empty ``.trashinfo`` is ever left. Elsewhere
(macOS, Windows) ``send2trash`` does the move and the location is unknown.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Iterator
from urllib.parse import unquote

from imgtwin.actions.fileops import LINK_UNSUPPORTED, FileOps, TrashedFile

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


def trash_records_location() -> bool:
    """Whether trashing here says where a file went (freedesktop: yes; send2trash elsewhere: no)."""
    return freedesktop()


def info_temp_name(tag: str) -> str:
    """The name a run's ``.trashinfo`` is written under before it is linked into place."""
    return f".imgtwin-{tag}.tmp"


def send_to_trash(ops: FileOps, source: str, original: str, tag: str) -> TrashedFile:
    """Move ``source`` to the trash of its volume as the file ``original``; returns where it went.

    ``source`` is ``original`` or the name it was set aside under in the same
    folder. The ``.trashinfo`` is written whole to a temporary name first
    (``info_temp_name(tag)``) and linked into place, so a full disk or a kill
    never leaves an empty or partial one; its name reserves the entry's name.
    Every step goes through ``ops``, so a fault or a kill can be injected
    between any two of them.
    """
    if not freedesktop():
        from send2trash import send2trash

        send2trash(source)
        return TrashedFile(None)
    from send2trash import plat_other

    original = os.path.abspath(original)
    trash, top = trash_dir_for(os.path.abspath(source))
    files, info = os.path.join(trash, "files"), os.path.join(trash, "info")
    for folder in (files, info):
        os.makedirs(folder, 0o700, exist_ok=True)
    text = plat_other.info_for(os.fsencode(original), os.fsencode(top))
    temp = os.path.join(info, info_temp_name(tag))
    ops.write_new(temp, text.encode("utf-8", "surrogateescape"))
    try:
        return _link_in(ops, source, original, temp, files, info)
    finally:
        if os.path.lexists(temp):
            ops.unlink(temp)


def _link_in(ops: FileOps, source: str, original: str, temp: str, files: str, info: str) -> TrashedFile:
    base, ext = os.path.splitext(os.path.basename(original))
    for counter in range(10_000):
        name = os.path.basename(original) if counter == 0 else f"{base} {counter}{ext}"
        info_path = os.path.join(info, name + INFO_SUFFIX)
        try:
            ops.link(temp, info_path)
        except FileExistsError:
            continue
        except OSError as exc:
            if exc.errno not in LINK_UNSUPPORTED or os.path.lexists(info_path):
                raise
            try:  # no hard links in this trash: write the info afresh under its name
                ops.write_new(info_path, _read(temp))
            except FileExistsError:
                continue
        dest = os.path.join(files, name)
        try:
            ops.link(source, dest)
        except FileExistsError:
            ops.unlink(info_path)
            continue
        except OSError as exc:
            if exc.errno not in LINK_UNSUPPORTED or os.path.lexists(dest):
                ops.unlink(info_path)
                raise
            try:
                ops.rename(source, dest)  # no hard links here; the name was free a moment ago
            except BaseException:
                ops.unlink(info_path)
                raise
            return TrashedFile(dest, info_path)
        try:
            ops.unlink(source)
        except OSError:
            ops.unlink(dest)
            ops.unlink(info_path)
            raise
        return TrashedFile(dest, info_path)
    raise OSError(errno.EEXIST, f"no free name in the trash for {original}")


def _read(path: str) -> bytes:
    with open(path, "rb") as stream:
        return stream.read()


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


def _trash_folders(original: str) -> list[tuple[str, str]]:
    """(trash folder, top folder) pairs a file at ``original`` may have been trashed to."""
    trashes = [(home_trash(), data_home())]
    try:
        other, top = trash_dir_for(os.path.dirname(original), create=False)
        if other != home_trash():
            trashes += [(other, top), (os.path.join(top, ".Trash", str(os.getuid())), top)]
    except OSError:
        pass
    return trashes


def find_trashed(original: str, inode: int | None, size: int, dev: int | None = None) -> list[TrashedFile]:
    """Trash entries that came from ``original`` (newest first), matched by inode (and device), else size.

    Used when a run was killed after the move but before the journal said
    where. An entry whose info names ``original`` but whose file is missing
    (a name reserved by a killed run) comes back with ``path`` None.
    """
    found = []
    for trash, top in _trash_folders(original):
        for info_path, file_path, path in _info_entries(trash, top):
            if path != original:
                continue
            try:
                st = os.lstat(file_path)
            except FileNotFoundError:
                found.append((0.0, TrashedFile(None, info_path)))  # name reserved, move never made
                continue
            same = inode is not None and st.st_ino == inode and (dev is None or st.st_dev == dev)
            if same or (inode is None and st.st_size == size):
                found.append((os.lstat(info_path).st_mtime, TrashedFile(file_path, info_path)))
    return [t for _, t in sorted(found, key=lambda f: -f[0])]


def info_temps(original: str, tag: str) -> list[str]:
    """Temporary ``.trashinfo`` files a killed run left for ``original`` (see ``info_temp_name``)."""
    names = (os.path.join(trash, "info", info_temp_name(tag)) for trash, _ in _trash_folders(original))
    return [name for name in names if os.path.lexists(name)]

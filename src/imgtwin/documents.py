"""Reading a ``find --json`` document a person hands in (``dedupe --plan``, ``report --from-json``).

The one parser of the document ``reporting.groups.groups_document`` writes:
``load_find_document`` reads and checks the file, ``document_groups`` turns
its groups into records, saying of each what is wrong with it, if anything.

The file may be anything: a named pipe (which would block a plain ``open``
forever), a device, gigabytes, ``[`` nested a hundred thousand times, a
number of five thousand digits. Each is refused here with one line naming
the file, before anything is planned or written.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from dataclasses import dataclass
from typing import Any, NoReturn

# The largest document read. A find --json of a million files is about 200 MB; anything larger is
# not one, and reading it whole (then parsing it into Python objects, several times its size) would
# exhaust memory before it could be refused.
MAX_DOCUMENT_BYTES = 256 * 1024 * 1024

# The deepest nesting of arrays and objects accepted. A find document nests four deep (document,
# groups, group, members, member); the margin is for fields a later version may add. Bounded so that
# no reader, parser or template walking the document recurses without end.
MAX_DOCUMENT_DEPTH = 32


class DocumentError(ValueError):
    """A file that is not a readable ``find --json`` document; the message is one line naming it."""


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file"


def read_bytes(path: str) -> bytes:
    """The whole of the regular file ``path``, at most ``MAX_DOCUMENT_BYTES``; DocumentError otherwise.

    Opened without blocking, so a named pipe is refused at once instead of
    waiting for a writer that never comes.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise DocumentError(f"cannot read {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as stream:
        facts = os.fstat(fd)
        if not stat.S_ISREG(facts.st_mode):
            raise DocumentError(f"{path} is {_kind(facts.st_mode)}, not a file: give the file `imgtwin find --json` "
                                "wrote")
        if facts.st_size > MAX_DOCUMENT_BYTES:
            _too_large(path)
        try:
            data = stream.read(MAX_DOCUMENT_BYTES + 1)  # one byte more: a file that grew past the limit
        except OSError as exc:
            raise DocumentError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_DOCUMENT_BYTES:
        _too_large(path)
    return data


def _too_large(path: str) -> NoReturn:
    raise DocumentError(f"{path} is larger than {MAX_DOCUMENT_BYTES // 2**20} MiB, too large for a "
                        "`imgtwin find --json` document")


class _NotJson(ValueError):
    """NaN or Infinity: Python's json reads them, JSON has no such values."""


def _no_constant(name: str) -> NoReturn:
    raise _NotJson(name)


def _depth(value: object) -> int:
    """How deep arrays and objects nest in ``value`` (a scalar: 0), without recursion."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, level = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        pending.extend((child, level + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def parse_json(data: bytes, name: str) -> Any:
    """``data`` parsed as strict JSON (no NaN), nesting at most ``MAX_DOCUMENT_DEPTH``; DocumentError otherwise."""
    try:
        document = json.loads(data.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError as exc:
        raise DocumentError(f"{name} is not JSON: it is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except RecursionError:
        raise DocumentError(f"{name} nests arrays or objects deeper than {MAX_DOCUMENT_DEPTH} levels: "
                            "not an `imgtwin find --json` document") from None
    except json.JSONDecodeError as exc:
        raise DocumentError(f"{name} is not JSON: {exc}") from None
    except _NotJson as exc:
        raise DocumentError(f"{name} is not JSON: it holds {exc}") from None
    except ValueError:  # a number of more digits than Python converts (sys.get_int_max_str_digits)
        raise DocumentError(f"{name} is not an `imgtwin find --json` document: it holds a number of more than "
                            f"{sys.get_int_max_str_digits()} digits") from None
    if _depth(document) > MAX_DOCUMENT_DEPTH:
        raise DocumentError(f"{name} nests arrays or objects deeper than {MAX_DOCUMENT_DEPTH} levels: "
                            "not an `imgtwin find --json` document")
    return document


def check_find_document(document: object, name: str) -> dict[str, Any]:
    """``document`` if it is a ``find --json`` document (tool imgtwin, a list of groups); DocumentError if not."""
    if not isinstance(document, dict) or document.get("tool") != "imgtwin" or not isinstance(
        document.get("groups"), list
    ):
        raise DocumentError(f"{name} is not an `imgtwin find --json` document")
    return document


def load_find_document(path: str) -> dict[str, Any]:
    """The ``find --json`` document in the file ``path``, read within the limits above."""
    return check_find_document(parse_json(read_bytes(path), path), path)


@dataclass(frozen=True, slots=True)
class DocumentMember:
    """A member as a document states it: ``size`` and ``keep`` are None where it gives no valid value."""

    path: str
    size: int | None
    keep: bool | None


@dataclass(frozen=True, slots=True)
class DocumentGroup:
    """A group as a document states it (a person may have edited it).

    ``problem``: why no plan can act on it (then ``members`` may be partial);
    ``listed``: whether it has a list of members that are all objects with a
    path, which is all a report needs to show it.
    """

    id: int  # its "id", else its position from 1
    category: str  # "exact" or "near"
    members: tuple[DocumentMember, ...]
    problem: str | None = None
    listed: bool = True


def document_groups(document: dict[str, Any]) -> list[DocumentGroup]:
    """The groups of a checked find document (``check_find_document``), in document order."""
    groups = []
    for position, group in enumerate(document["groups"], start=1):
        group_id = group.get("id", position) if isinstance(group, dict) else position
        if isinstance(group_id, bool) or not isinstance(group_id, int):
            group_id = position
        if not isinstance(group, dict) or not isinstance(group.get("members"), list):
            groups.append(DocumentGroup(group_id, "near", (), "it has no list of members", listed=False))
            continue
        members, problems, listed = [], [], True
        for member in group["members"]:
            if not isinstance(member, dict) or not isinstance(member.get("path"), str):
                problems.append("a member lacks a valid path, size or keep" if isinstance(member, dict)
                                else "a member is not an object")
                listed = False
                continue
            size, keep = member.get("size"), member.get("keep")
            size = size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None
            keep = keep if isinstance(keep, bool) else None
            if not member["path"] or size is None or keep is None:
                problems.append("a member lacks a valid path, size or keep")
            members.append(DocumentMember(member["path"], size, keep))
        category = "exact" if group.get("category") == "exact" else "near"
        groups.append(DocumentGroup(group_id, category, tuple(members), problems[0] if problems else None, listed))
    return groups

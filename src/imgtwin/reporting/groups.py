"""Duplicate groups for people (a terminal table) and for scripts (JSON, CSV).

The JSON document::

    {"tool": "imgtwin", "version": "0.1.0", "threshold": 10, "rotations": true, "deep": false,
     "summary": {"groups": 2, "duplicates": 3, "reclaimable_bytes": 123456, "errors": 1},
     "groups": [{"id": 1, "category": "exact"|"near", "reclaimable_bytes": 4567,
                 "keeper_confidence": "high"|"low", "keeper_rule": "resolution",
                 "keeper_reason": "higher resolution", "keeper_lacks": ["gps", "date_taken", "camera"],
                 "keeper_warning": "the keeper lacks the GPS position, ... a removed copy carries" or "",
                 "members": [{"path", "size", "width", "height", "format", "distance",
                              "keep": true|false, "transform": null|"rotate90"|...|"rotated 3°, crop 22%",
                              "exact", "reference", "linked": true|false,
                              "reason": null|"low-detail picture: matched by tone and layout"|...}]}],
     "errors": [{"path", "reason", "message"}]}

Members are listed keeper first. ``keeper_reason``: the rule that chose the keeper, in
words (``matching.keeper_words``); ``keeper_lacks``: metadata a copy to be removed
carries and the keeper lacks (empty: none). CSV has one row per member with the
columns ``CSV_COLUMNS`` (``keeper_lacks`` joined with ``;``). Paths are written as the caller gave them.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from typing import Any, TextIO

from rich.console import Console
from rich.markup import escape

from imgtwin._version import __version__
from imgtwin.matching.keeper_words import lacks_words
from imgtwin.persistence.atomic import AtomicTextFile
from imgtwin.persistence.rows import text_path
from imgtwin.records import DuplicateGroup, FileError
from imgtwin.reporting.text import printable

CSV_COLUMNS = ("group", "category", "keep", "exact", "reference", "path", "size", "width", "height", "format",
               "distance", "transform", "keeper_confidence", "linked", "reason", "keeper_reason", "keeper_lacks")


def human_bytes(count: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if count < 1000 or unit == "TB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    raise AssertionError("unreachable")


def _member_dict(member: Any) -> dict[str, Any]:
    return {
        "path": text_path(member.path), "size": member.size, "width": member.width, "height": member.height,
        "format": member.format, "distance": member.distance, "keep": member.keep, "transform": member.transform,
        "exact": member.exact, "reference": member.reference, "linked": member.linked, "reason": member.reason,
    }


def groups_document(
    groups: Sequence[DuplicateGroup], errors: Sequence[tuple[str, FileError]], threshold: int, rotations: bool,
    deep: bool = False, base: str | None = None, decided_groups: int = 0, decided_files: int = 0,
) -> dict[str, Any]:
    """The ``find --json`` document; ``base`` (default: the current folder) is what relative paths are relative to.

    Recorded so that a plan or report made from it works from any folder. ``decided_groups``: how many groups
    "not duplicates" decisions split, ``decided_files``: how many of their files are in no group now.
    """
    return {
        "tool": "imgtwin",
        "version": __version__,
        "base": os.path.abspath(base or os.getcwd()),
        "threshold": threshold,
        "rotations": rotations,
        "deep": deep,
        "summary": {
            "groups": len(groups),
            "duplicates": sum(len(g.members) - 1 for g in groups),
            "exact_copies": sum(g.exact_copies for g in groups),
            "reclaimable_bytes": sum(g.reclaimable_bytes for g in groups),
            "low_confidence": sum(g.keeper_confidence == "low" for g in groups),
            "keeper_lacks_metadata": sum(bool(g.keeper_lacks) for g in groups),
            "reference_only": sum(g.reference_only for g in groups),
            "linked": sum(g.linked_copies for g in groups),
            "errors": len(errors),
            "decided_groups": decided_groups,
            "decided_files": decided_files,
        },
        "groups": [_group_dict(g) for g in groups],
        "errors": [{"path": text_path(p), "reason": e.reason.value, "message": e.message} for p, e in errors],
    }


def with_decided(document: dict[str, Any], decided: Sequence[DuplicateGroup]) -> dict[str, Any]:
    """``document`` listing ``decided`` groups too (``find --show-decided``): beside the groups, never in them."""
    return {**document, "decided": [_group_dict(g) for g in decided]}


def _group_dict(g: DuplicateGroup) -> dict[str, Any]:
    return {"id": g.id, "category": g.category, "reclaimable_bytes": g.reclaimable_bytes,
            "keeper_confidence": g.keeper_confidence, "keeper_rule": g.keeper_rule, "keeper_reason": g.keeper_reason,
            "keeper_lacks": list(g.keeper_lacks), "keeper_warning": lacks_words(g.keeper_lacks),
            "reference_only": g.reference_only,
            **({"decided": True} if g.decided else {}), "members": [_member_dict(m) for m in g.members]}


def write_json(path: str, document: dict[str, Any]) -> None:
    out = AtomicTextFile(path)
    json.dump(document, out.stream, ensure_ascii=False, indent=1)
    out.stream.write("\n")
    out.commit()


def write_csv(path: str, groups: Sequence[DuplicateGroup]) -> None:
    out = AtomicTextFile(path, newline="")
    _csv_rows(out.stream, groups)
    out.commit()


def _csv_rows(stream: TextIO, groups: Sequence[DuplicateGroup]) -> None:
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for group in groups:
        for m in group.members:
            writer.writerow([group.id, group.category, int(m.keep), int(m.exact), int(m.reference), text_path(m.path),
                             m.size, m.width, m.height, m.format, m.distance, m.transform or "",
                             group.keeper_confidence, int(m.linked), m.reason or "", group.keeper_reason,
                             ";".join(group.keeper_lacks)])


def print_groups(console: Console, groups: Sequence[DuplicateGroup], errors: Sequence[tuple[str, FileError]],
                 decided: Sequence[DuplicateGroup] = (), decided_files: int = 0, show_decided: bool = False) -> None:
    """Every group, keeper first, paths last so that they never wrap mid-name, under one line of column names.

    ``dist``: how far the copy's perceptual hash is from the keeper's, in bits
    (``keep`` marks the keeper, ``same`` a copy with its bytes, ``link`` the keeper's
    own file under another name: already deduplicated, so not reclaimable). ``decided``: the groups that
    "not duplicates" decisions split, counted in one line, and listed after the others with ``show_decided``.
    """
    if groups or (decided and show_decided):
        console.print(f"  {'dist':>4} {'dimensions':>11} {'size':>9}  path", style="dim", highlight=False)
    for group in groups:
        _print_group(console, group)
    _print_totals(console, groups, errors)
    if decided:
        console.print(decided_line(len(decided), decided_files) + ("; as they would be without the decisions:"
                                                                   if show_decided else " (--show-decided lists them)."),
                      highlight=False, soft_wrap=True)
        for group in decided if show_decided else ():
            _print_group(console, group)


def decided_line(groups: int, files: int) -> str:
    """What every output says of the groups that "not duplicates" decisions split."""
    return (f"{groups} group(s) split by remembered \"not duplicates\" decisions (`imgtwin mark list`): {files} "
            "file(s) left out of every group")


def _print_group(console: Console, group: DuplicateGroup) -> None:
    """One group's title line and its members, keeper first."""
    notes = []
    if group.keeper_confidence == "low":
        notes.append("[yellow]keeper uncertain: check it[/]")
    if group.reference_only:
        notes.append("reference files only: left alone")
    if group.linked_copies:
        notes.append(f"{group.linked_copies} already linked to the keeper")
    if group.keeper_reason:
        notes.append(f"kept: {escape(group.keeper_reason)}")
    if group.decided:
        notes = ["marked not duplicates: left alone"]
    title = "Decided" if group.decided else "Group"
    console.print(
        f"[bold]{title} {group.id}[/] · {group.category} · {len(group.members)} files · "
        f"{human_bytes(group.reclaimable_bytes)} reclaimable" + "".join(f" · {n}" for n in notes),
        highlight=False,
    )
    if group.keeper_lacks:
        console.print(f"  [yellow]warning: {lacks_words(group.keeper_lacks)}[/]", highlight=False, soft_wrap=True)
    for m in group.members:
        dims = f"{m.width}x{m.height}" if m.width else "?"
        mark = "[green]keep[/]" if m.keep else "[cyan]link[/]" if m.linked else (
            "[cyan]same[/]" if m.exact else f"{m.distance:>4}")
        labels = [m.transform] if m.transform and not m.keep else []
        if m.reason and not m.keep:
            labels.append(m.reason)
        if m.exact and not m.keep and group.category != "exact":
            labels.append("exact copy")
        if m.reference:
            labels.append("reference")
        if m.linked:
            labels.append("hard link to the keeper")
        note = f"  ({', '.join(labels)})" if labels else ""
        console.print(
            f"  {mark:>4} {dims:>11} {human_bytes(m.size):>9}  {escape(printable(m.path))}{note}",
            highlight=False, soft_wrap=True,
        )


def _print_totals(console: Console, groups: Sequence[DuplicateGroup], errors: Sequence[tuple[str, FileError]]
                  ) -> None:  # fmt: skip
    duplicates = sum(len(g.members) - 1 for g in groups)
    exact_copies = sum(g.exact_copies for g in groups)
    reclaimable = sum(g.reclaimable_bytes for g in groups)
    exact = sum(g.category == "exact" for g in groups)
    low = sum(g.keeper_confidence == "low" for g in groups)
    lacking = sum(bool(g.keeper_lacks) for g in groups)
    linked = sum(g.linked_copies for g in groups)
    console.print(
        f"{len(groups)} group(s) ({exact} exact, {len(groups) - exact} near): {duplicates} duplicate file(s), "
        f"{exact_copies} of them byte-identical to their keeper"
        + (f" ({linked} already linked to it)" if linked else "") + f", {human_bytes(reclaimable)} reclaimable"
        + (f"; {low} keeper(s) uncertain" if low else "")
        + (f"; {lacking} keeper(s) lack metadata a removed copy carries" if lacking else "") + ".",
        highlight=False, soft_wrap=True,
    )
    if errors:
        console.print(f"{len(errors)} file(s) could not be read (see `imgtwin errors` or --json).", highlight=False)

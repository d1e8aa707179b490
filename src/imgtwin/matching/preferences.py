"""What a person states about which copy to keep: folders and formats, each in order of preference.

``--prefer A --prefer B``: files under A before those under B, before the rest;
``--prefer-format heic,jpg``: a HEIC before the JPEG exported from it. Where
these sit among the keeper's tiers is ``matching.keeper``'s to say.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from imgtwin.loading.signatures import RAW_EXTENSIONS

#: The words ``--prefer-format`` takes, and the formats (as the index records them) each stands for.
FORMAT_WORDS: dict[str, frozenset[str]] = {
    **{word: frozenset({"JPEG", "MPO"}) for word in ("jpg", "jpeg", "jpe", "jfif")},
    **{word: frozenset({"HEIF"}) for word in ("heic", "heif", "hif")},
    **{word: frozenset({"RAW"}) for word in ("raw", *RAW_EXTENSIONS)},
    "avif": frozenset({"AVIF"}), "png": frozenset({"PNG"}), "webp": frozenset({"WEBP"}),
    "tif": frozenset({"TIFF"}), "tiff": frozenset({"TIFF"}), "gif": frozenset({"GIF"}),
    "bmp": frozenset({"BMP", "DIB"}), "jp2": frozenset({"JPEG2000"}), "psd": frozenset({"PSD"}),
    "mpo": frozenset({"MPO"}),
}


def parse_formats(values: str | Iterable[str]) -> tuple[str, ...]:
    """``"heic,jpg"`` (or several such values) as checked, lower-case words; ValueError naming an unknown one."""
    items = [values] if isinstance(values, str) else list(values)
    words = tuple(w.strip().lower().lstrip(".") for item in items for w in item.split(",") if w.strip(" ."))
    unknown = [w for w in words if w not in FORMAT_WORDS]
    if unknown:
        raise ValueError(f"unknown format {unknown[0]!r} in the format preference: use names such as "
                         "heic, jpg, raw, png, webp, tiff")
    return words


def under(path: str, folder: str) -> bool:
    """Whether ``path`` lies in ``folder`` (at any depth)."""
    folder = os.path.normpath(folder)
    return os.path.normpath(path).startswith(folder.rstrip(os.sep) + os.sep)


@dataclass(frozen=True)
class Preferences:
    """Folders (absolute) and format words (``parse_formats``), most preferred first; empty: none stated."""

    folders: tuple[str, ...] = ()
    formats: tuple[str, ...] = ()

    @classmethod
    def of(cls, prefer: Preferences | str | None) -> Preferences:
        """``prefer`` as ``Preferences``: a single folder, as callers gave it before folders were ordered."""
        if isinstance(prefer, Preferences):
            return prefer
        return cls(folders=(prefer,) if prefer else ())

    def folder_rank(self, path: str) -> int:
        """0 for a file under the first folder, 1 under the second, ...; the number of folders elsewhere."""
        return next((k for k, folder in enumerate(self.folders) if under(path, folder)), len(self.folders))

    def format_rank(self, fmt: str | None) -> int:
        """0 for the first format stated, ...; the number of formats for any other."""
        name = (fmt or "").upper()
        return next((k for k, word in enumerate(self.formats) if name in FORMAT_WORDS[word]), len(self.formats))

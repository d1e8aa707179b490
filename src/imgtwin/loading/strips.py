"""Decoded rows kept for the keeper's upscale checks: a HEIC is decoded once per ``find``, not twice.

A 12-MP HEIC has no reduced decode: every decode costs ~580 ms. ``find``
decodes the pictures of its candidates (``runs.main_images``), and the keeper's
upscale checks (``matching.resolution``) then want the top rows of the largest
file of a group at full resolution: the same pixels. The candidates' decode
keeps them (grey, upright, the top ``KEPT_SHARE``) in a folder that lives for
one ``find``, and a check reads them back instead of decoding again. Only
formats with no cheap partial decode are kept (a JPEG's top rows decode alone,
at a DCT scale); the folder holds at most ``budget`` bytes.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass

import numpy as np
from PIL import Image

#: Formats whose rows are kept: those a check could only get from a whole decode that costs much.
KEPT_FORMATS = frozenset({"HEIF", "AVIF"})
#: The share of the picture's height kept: more than ``resolution.STRIP`` (0.4) and the rows a reduction
#: by up to 8 rounds up to (``KEPT_MARGIN``).
KEPT_SHARE, KEPT_MARGIN = 0.5, 136
#: Bytes the folder may hold (a 12-MP picture's kept rows are ~6 MB).
DEFAULT_BUDGET = 512 * 1024 * 1024


@dataclass(frozen=True)
class StripStore:
    """A folder of kept rows, one ``.npz`` per (path, size, mtime, inode); picklable, for the worker processes."""

    folder: str
    budget: int = DEFAULT_BUDGET

    def _name(self, path: str) -> str | None:
        try:
            info = os.stat(path)
        except OSError:
            return None
        key = f"{path}\0{info.st_size}\0{info.st_mtime_ns}\0{info.st_ino}".encode("utf-8", "surrogateescape")
        return os.path.join(self.folder, hashlib.sha1(key, usedforsecurity=False).hexdigest())

    def keep(self, path: str, fmt: str, upright_grey: Image.Image) -> None:
        """Keep the top rows of ``path``'s picture (already grey and turned upright), if its format is kept and
        the budget allows. Never raises: a strip not kept is decoded again by the check that needs it."""
        if fmt not in KEPT_FORMATS:
            return
        try:
            name = self._name(path)
            rows = min(upright_grey.height, math.ceil(upright_grey.height * KEPT_SHARE) + KEPT_MARGIN)
            if name is None or _used(self.folder) + upright_grey.width * rows > self.budget:
                return
            pixels = np.asarray(upright_grey.crop((0, 0, upright_grey.width, rows)), dtype=np.uint8)
            partial = f"{name}.{os.getpid()}.part"
            with open(partial, "wb") as out:
                np.savez(out, pixels=pixels, height=np.array(upright_grey.height))
            os.replace(partial, f"{name}.npz")
        except Exception:  # noqa: BLE001, S110 - a full disk or a vanished folder costs a second decode, nothing else
            pass

    def top(self, path: str) -> tuple[Image.Image, int] | None:
        """The kept top rows of ``path`` (grey, upright) and the whole picture's height, or None."""
        name = self._name(path)
        if name is None:
            return None
        try:
            with np.load(f"{name}.npz", allow_pickle=False) as kept:
                pixels, height = kept["pixels"], int(kept["height"])
        except (OSError, ValueError, KeyError):
            return None
        return Image.fromarray(pixels, "L"), height


def _used(folder: str) -> int:
    return sum(e.stat().st_size for e in os.scandir(folder) if e.is_file())

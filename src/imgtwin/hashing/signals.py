"""Keeper signals: what the scan records about each file's quality and history, for choosing keepers.

Stored in the index beside the features, under their own versioned spec, so
that changing how the keeper is chosen never needs the matching features
recomputed (and the reverse). Everything comes from the decode the scan makes
anyway: the loader's header facts (``loading.facts``) and its small colour copy.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from imgtwin.interfaces import LoadedImage
from imgtwin.loading.facts import BILEVEL, COLOUR, GREY

#: Names the signals' definition; bump on any change to what ``signals_of`` produces.
SIGNALS_SPEC = "signals-v2-depth-palette-jpegq-subsampling-exif-gps-chroma"

#: Mean chroma (CIELAB a*b* distance from grey) below which a colour file holds a grey picture.
GREY_CHROMA = 2.5

_SUBSAMPLING_CODES = {None: 0, "4:4:4": 1, "4:2:2": 2, "4:2:0": 3}
_SUBSAMPLING_NAMES = {code: name for name, code in _SUBSAMPLING_CODES.items()}
_LAYOUT = struct.Struct("<BBBHBBBf")  # version, depth, bits, palette, quality, subsampling, exif flags, chroma
_VERSION = 2  # 2: the GPS flag (rows of version 1 are read again by the next scan: their spec differs)
_CAMERA, _TAKEN, _SOFTWARE, _GPS = 1, 2, 4, 8


@dataclass(frozen=True, slots=True)
class KeeperSignals:
    """One file's quality and provenance signals (see ``matching.keeper`` for how they rank)."""

    colour_depth: int = COLOUR  # facts.BILEVEL < GREY < PALETTE < COLOUR, of the picture actually held
    bits: int = 8
    palette_size: int | None = None
    jpeg_quality: float | None = None
    subsampling: str | None = None
    camera: bool = False  # EXIF camera make/model
    taken: bool = False  # EXIF date taken
    software: bool = False  # EXIF names the program that wrote the file
    chroma: float = 0.0  # mean CIELAB chroma of the picture (0 for grey)
    gps: bool = False  # EXIF GPS position (latitude)

    def to_bytes(self) -> bytes:
        flags = ((_CAMERA if self.camera else 0) | (_TAKEN if self.taken else 0) | (_SOFTWARE if self.software else 0)
                 | (_GPS if self.gps else 0))
        return _LAYOUT.pack(_VERSION, self.colour_depth, self.bits, min(self.palette_size or 0, 65535),
                            round(self.jpeg_quality or 0), _SUBSAMPLING_CODES.get(self.subsampling, 0), flags,
                            self.chroma)

    @classmethod
    def from_bytes(cls, data: bytes | None) -> KeeperSignals | None:
        """The signals in ``data``, or None for no or unreadable data (the keeper then goes without)."""
        if not data or len(data) != _LAYOUT.size:
            return None
        version, depth, bits, palette, quality, subsampling, flags, chroma = _LAYOUT.unpack(bytes(data))
        if version != _VERSION:
            return None
        return cls(depth, bits, palette or None, float(quality) or None, _SUBSAMPLING_NAMES.get(subsampling),
                   bool(flags & _CAMERA), bool(flags & _TAKEN), bool(flags & _SOFTWARE), chroma, bool(flags & _GPS))


def mean_chroma(colour_lab_ab: np.ndarray) -> float:
    """Mean CIELAB chroma of (2, h, w) a*, b* values."""
    return float(np.hypot(colour_lab_ab[0], colour_lab_ab[1]).mean())


def signals_of(loaded: LoadedImage, lab_ab: np.ndarray | None) -> KeeperSignals:
    """The signals of a loaded file; ``lab_ab``: its colour thumbnail's a*, b* (None when it holds no colour)."""
    facts = loaded.facts
    chroma = mean_chroma(lab_ab) if lab_ab is not None else 0.0
    if facts is None:
        return KeeperSignals(GREY if lab_ab is None else COLOUR, chroma=chroma)
    depth = facts.colour_depth
    if depth > GREY and chroma < GREY_CHROMA and facts.palette_size != 2:
        depth = GREY  # a grey picture saved in a colour format holds no more than grey
    if depth > BILEVEL and facts.palette_size is not None and facts.palette_size <= 2:
        depth = BILEVEL
    return KeeperSignals(depth, facts.bits, facts.palette_size, facts.jpeg_quality, facts.subsampling, facts.camera,
                         facts.taken, facts.software is not None, chroma, facts.gps)

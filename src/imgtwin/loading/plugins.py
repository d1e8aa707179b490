"""Optional decoders: pillow-heif (HEIF/HEIC) and rawpy (camera RAW previews).

They are extras (``pip install 'imgtwin[heif]'`` / ``'imgtwin[raw]'``), so a
missing one must cost only the files that need it, with a message saying what
to install. Each is imported at most once per process, on first use, so worker
processes register HEIF themselves and a plain scan never pays for them.
"""

from __future__ import annotations

import functools
from types import ModuleType

# Extra to install for each format that needs an optional package.
EXTRAS = {"HEIF": "heif", "RAW": "raw"}


@functools.cache
def heif_available() -> bool:
    """Import pillow-heif and register its HEIF opener with Pillow (once)."""
    try:
        import pillow_heif
    except ImportError:
        return False
    # Depth maps and auxiliary images are never hashed: not decoding them is less
    # work and less decoder surface for hostile files. Thumbnail items are listed
    # (not decoded) so that ``loading.previews`` can use one instead of the picture.
    pillow_heif.register_heif_opener(thumbnails=True, depth_images=False, aux_images=False)
    return True


@functools.cache
def rawpy_module() -> ModuleType | None:
    """``rawpy`` if installed, else None."""
    try:
        import rawpy
    except ImportError:
        return None
    return rawpy


def missing_plugin_message(fmt: str) -> str | None:
    """Why ``fmt`` cannot be decoded in this installation, or None if it can."""
    if fmt == "HEIF" and not heif_available():
        return f"HEIF/HEIC images need pillow-heif: pip install 'imgtwin[{EXTRAS['HEIF']}]'"
    if fmt == "RAW" and rawpy_module() is None:
        return f"camera RAW files need rawpy: pip install 'imgtwin[{EXTRAS['RAW']}]'"
    return None

"""The scan's hook for matching features: computed once, from the same pixels.

The engine treats features as opaque bytes plus a spec string, so the
persistence stores them in one column and the matching code alone knows what
they mean (``hashing.features``).
"""

from __future__ import annotations

from typing import Protocol

from PIL import Image

from imgtwin.hashing.features import FEATURES_SPEC, compute_features


class FeatureExtractor(Protocol):
    @property
    def spec(self) -> str:
        """Names the feature definition; stored with the bytes, never mixed."""
        ...

    def extract(self, image: Image.Image) -> bytes: ...


class MatchFeatureExtractor:
    """Everything ``imgtwin find`` needs beyond the pHash (trimmed hash, thumbnails)."""

    @property
    def spec(self) -> str:
        return FEATURES_SPEC

    def extract(self, image: Image.Image) -> bytes:
        return compute_features(image).to_bytes()

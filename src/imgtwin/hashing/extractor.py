"""The scan's hook for matching features: computed once, from the same pixels.

The engine treats features as opaque bytes plus a spec string, so the
persistence stores them in one column and the matching code alone knows what
they mean (``hashing.features``).
"""

from __future__ import annotations

from typing import Protocol

from PIL import Image

from imgtwin.hashing.dct import DCTHasher
from imgtwin.hashing.features import FEATURES_SPEC, compute_features
from imgtwin.interfaces import Hasher
from imgtwin.records import ImageHash


class FeatureExtractor(Protocol):
    @property
    def spec(self) -> str:
        """Names the feature definition; stored with the bytes, never mixed."""
        ...

    def extract(self, image: Image.Image, hasher: Hasher) -> tuple[ImageHash, bytes]:
        """The image's hash (as ``hasher`` defines it) and its features, in one pass."""
        ...


class MatchFeatureExtractor:
    """Everything ``imgtwin find`` needs beyond the pHash (trimmed hash, thumbnails).

    The features start from the same 32 x 32 pixels as the DCT hash, so with a
    ``DCTHasher`` the hash comes out of the same pass instead of a second resize.
    """

    @property
    def spec(self) -> str:
        return FEATURES_SPEC

    def extract(self, image: Image.Image, hasher: Hasher) -> tuple[ImageHash, bytes]:
        if isinstance(hasher, DCTHasher):
            features = compute_features(image, hasher)
            return ImageHash(features.hash, hasher.spec), features.to_bytes()
        return hasher.hash(image), compute_features(image).to_bytes()

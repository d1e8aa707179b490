"""The scan's hook for matching features and keeper signals: computed once, from the same pixels.

The engine treats both as opaque bytes plus a spec string, so the persistence
stores them in columns of their own and the matching and keeper code alone
know what they mean (``hashing.features``, ``hashing.signals``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from imgtwin.hashing.dct import DCTHasher
from imgtwin.hashing.features import FEATURES_SPEC, compute_features
from imgtwin.hashing.signals import SIGNALS_SPEC, signals_of
from imgtwin.interfaces import Hasher, LoadedImage
from imgtwin.records import ImageHash


@dataclass(frozen=True, slots=True)
class Extraction:
    """What one decode yields beyond the pixels: the hash, matching features, keeper signals."""

    hash: ImageHash
    features: bytes
    signals: bytes | None = None


class FeatureExtractor(Protocol):
    @property
    def spec(self) -> str:
        """Names the feature definition; stored with the bytes, never mixed."""
        ...

    @property
    def signals_spec(self) -> str | None:
        """Names the keeper signals' definition (None: this extractor records none)."""
        ...

    def extract(self, loaded: LoadedImage, hasher: Hasher) -> Extraction:
        """The image's hash (as ``hasher`` defines it), its features and signals, in one pass."""
        ...


class MatchFeatureExtractor:
    """Everything ``imgtwin find`` needs beyond the pHash (trimmed hash, thumbnails, colour, keeper signals).

    The features start from the same 32 x 32 pixels as the DCT hash, so with a
    ``DCTHasher`` the hash comes out of the same pass instead of a second resize.
    """

    @property
    def spec(self) -> str:
        return FEATURES_SPEC

    @property
    def signals_spec(self) -> str:
        return SIGNALS_SPEC

    def extract(self, loaded: LoadedImage, hasher: Hasher) -> Extraction:
        if isinstance(hasher, DCTHasher):
            features = compute_features(loaded.image, hasher, loaded.colour)
            image_hash = ImageHash(features.hash, hasher.spec)
        else:
            features = compute_features(loaded.image, colour=loaded.colour)
            image_hash = hasher.hash(loaded.image)
        signals = signals_of(loaded, features.colour_array())
        return Extraction(image_hash, features.to_bytes(), signals.to_bytes())

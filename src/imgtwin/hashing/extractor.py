"""The scan's hook for matching features and keeper signals: computed once, from the same pixels.

The engine treats both as opaque bytes plus a spec string, so the persistence
stores them in columns of their own and the matching and keeper code alone
know what they mean (``hashing.features``, ``hashing.signals``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from imgtwin.hashing.batched import compute_features_many, grey_pixels_many
from imgtwin.hashing.dct import DCTHasher
from imgtwin.hashing.features import FEATURES_SPEC
from imgtwin.hashing.framed import PICTURE_SPEC, framed_pictures
from imgtwin.hashing.signals import SIGNALS_SPEC, signals_of
from imgtwin.interfaces import Hasher, LoadedImage
from imgtwin.records import ImageHash


@dataclass(frozen=True, slots=True)
class Extraction:
    """What one decode yields beyond the pixels: the hash, matching features, keeper signals."""

    hash: ImageHash
    features: bytes
    signals: bytes | None = None
    picture: bytes | None = None  # the framed picture's record (hashing.framed); None: not looked for


class FeatureExtractor(Protocol):
    @property
    def spec(self) -> str:
        """Names the feature definition; stored with the bytes, never mixed."""
        ...

    @property
    def signals_spec(self) -> str | None:
        """Names the keeper signals' definition (None: this extractor records none)."""
        ...

    @property
    def picture_spec(self) -> str | None:
        """Names the framed picture's definition (None: this extractor looks for none)."""
        ...

    def extract(self, loaded: LoadedImage, hasher: Hasher) -> Extraction:
        """The image's hash (as ``hasher`` defines it), its features and signals, in one pass."""
        ...


@runtime_checkable
class ManyExtractor(Protocol):
    """An extractor that does a chunk of images faster together than one by one (``hashing.batched``)."""

    def extract_many(self, loaded: Sequence[LoadedImage], hasher: Hasher) -> list[Extraction]:
        """``extract`` of each image, in order; the same values."""
        ...


def extract_all(extractor: FeatureExtractor, loaded: Sequence[LoadedImage], hasher: Hasher) -> list[Extraction]:
    """``extractor.extract`` of each image: together where the extractor can, else one by one."""
    if isinstance(extractor, ManyExtractor):
        return extractor.extract_many(loaded, hasher)
    return [extractor.extract(one, hasher) for one in loaded]


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

    @property
    def picture_spec(self) -> str:
        return PICTURE_SPEC

    def extract(self, loaded: LoadedImage, hasher: Hasher) -> Extraction:
        return self.extract_many([loaded], hasher)[0]

    def extract_many(self, loaded: Sequence[LoadedImage], hasher: Hasher) -> list[Extraction]:
        dct = hasher if isinstance(hasher, DCTHasher) else None
        images, colours = [one.image for one in loaded], [one.colour for one in loaded]
        pixels = grey_pixels_many(images)  # read by both the features and the frame scan
        many = compute_features_many(images, dct, colours, pixels)
        hashes = ([ImageHash(features.hash, dct.spec) for features in many] if dct is not None
                  else [hasher.hash(one.image) for one in loaded])
        pictures = framed_pictures(pixels, dct, colours)
        return [Extraction(image_hash, features.to_bytes(), signals_of(one, features.colour_array()).to_bytes(), picture)
                for image_hash, features, one, picture in zip(hashes, many, loaded, pictures, strict=True)]

"""Real little pictures for matching tests (Pillow + numpy, no mocks)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter


def scene(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A textured grayscale 'photo': smooth blobs plus edges, distinct per seed."""
    rng = np.random.default_rng(seed)
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros((h, w))
    for _ in range(12):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(15, 90)
        img += rng.uniform(-90, 90) * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r * r))
    for _ in range(6):
        x0, y0 = rng.integers(0, w - 40), rng.integers(0, h - 40)
        img[y0 : y0 + rng.integers(20, 80), x0 : x0 + rng.integers(20, 80)] += rng.uniform(-60, 60)
    img += rng.uniform(0.25, 0.4) * (x - w / 2) * rng.choice([-1, 1]) + rng.uniform(0.25, 0.4) * (y - h / 2) * rng.choice([-1, 1])
    img += rng.normal(0, 4, img.shape)
    img = 128 + img - img.mean()
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1))


@pytest.fixture
def make_scene():
    return scene

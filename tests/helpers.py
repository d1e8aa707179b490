"""Helpers for tests: images made at test time, shared data, and test doubles."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import pytest
from PIL import Image

from imgtwin.interfaces import LoadedImage
from imgtwin.loading.pillow_loader import StandardImageLoader

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("IMGTWIN_SHARED", REPO.parent / "shared"))


def require_shared(sub: str) -> Path:
    """A folder of ../shared; missing it is a failure in CI, a skip elsewhere."""
    path = SHARED / sub
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing: CI must run with shared/ beside the clone")
        pytest.skip(f"{path} not available")
    return path


def synthetic_photo(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A deterministic, photo-like RGB image: smooth gradients, blobs and grain.

    Different seeds give pictures whose hashes are far apart, like unrelated
    photos; the same seed gives the same pixels.
    """
    rng = np.random.default_rng(seed)
    w, h = size
    y, x = np.mgrid[0:h, 0:w] / max(w, h)
    channels = []
    for _ in range(3):
        fx, fy, phase = rng.uniform(1, 6), rng.uniform(1, 6), rng.uniform(0, 6.3)
        base = np.sin(2 * np.pi * (fx * x + phase)) * np.cos(2 * np.pi * fy * y)
        channels.append(base)
    img = np.stack(channels, axis=-1)
    for _ in range(12):
        cx, cy, r = rng.uniform(0, w / max(w, h)), rng.uniform(0, h / max(w, h)), rng.uniform(0.03, 0.2)
        mask = ((x - cx) ** 2 + (y - cy) ** 2) < r * r
        img[mask] = rng.uniform(-1, 1, size=3)
    img = (img - img.min()) / (img.max() - img.min()) * 235 + 10
    img += rng.normal(0, 3, img.shape)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")


class MisbehavingLoader(StandardImageLoader):
    """The real loader, except that it hangs on files named ``*hang*`` and
    kills its own process on files named ``*crash*`` (as a segfaulting decoder
    would). Module-level so worker processes can unpickle it.
    """

    def load(self, path: str) -> LoadedImage:
        name = os.path.basename(path)
        if "hang" in name:
            time.sleep(3600)
        if "crash" in name:
            os._exit(139)
        return super().load(path)


NOBODY = 65534


def run_as_nobody(function: Callable[[], T]) -> T:
    """``function()`` in a forked child running as 'nobody'; its result (pickled) comes back.

    The interpreter lives under /root (mode 700), so exec'ing a new Python as
    nobody is impossible; a fork keeps the already-imported code and drops
    privileges for real, so the kernel, not a mock, refuses what nobody may not do.
    An exception in the child is raised again here.
    """
    import pickle

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            try:
                payload = (True, function())
            except BaseException as exc:  # noqa: BLE001 - carried back to the test
                payload = (False, exc)
            os.write(write_end, pickle.dumps(payload))
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    ok, value = pickle.loads(data)
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]


needs_root_to_drop = pytest.mark.skipif(
    not hasattr(os, "fork") or os.geteuid() != 0, reason="needs root to become 'nobody'"
)

"""The hypothesis hashes' packer, with its numba kernel loaded on first use.

Importing numba costs ~0.5 s of CPU. The modules that derive hypothesis hashes sit on the import path of
every ``imgtwin`` process (``--help``, ``dedupe``, each scan worker), and only ``find``'s hashing calls the
kernel: so the kernel module is imported here, at the first call, as the other kernels are at theirs.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: (..., 8, 8) DCT blocks -> (...) uint64 pHashes: ``pack_hashes``, or ``features.hashes_of_blocks`` (the reference).
Packer = Callable[[np.ndarray], np.ndarray]


def pack_hashes(blocks: np.ndarray) -> np.ndarray:
    """(...) uint64 pHashes of (..., 8, 8) float32 or float64 blocks: ``phash_kernel.pack_hashes``."""
    from imgtwin.matching.phash_kernel import pack_hashes as compiled

    return compiled(blocks)

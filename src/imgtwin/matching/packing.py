"""The hypothesis hashes' packer, with its numba kernel loaded on first use, and only for tables it repays.

Importing numba costs ~0.5 s of CPU. The modules that derive hypothesis hashes sit on the import path of
every ``imgtwin`` process (``--help``, ``dedupe``, each scan worker), and only ``find``'s hashing calls the
kernel: so the kernel module is imported here, at the first call, as the other kernels are at theirs.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from imgtwin.hashing.features import hashes_of_blocks

#: (..., 8, 8) DCT blocks -> (...) uint64 pHashes: ``pack_hashes``, or ``features.hashes_of_blocks`` (the reference).
Packer = Callable[[np.ndarray], np.ndarray]
#: Tables of fewer files are packed by numpy (``features.hashes_of_blocks``: the same bits). numba's start-up
#: in a process (~1 s of CPU: its import, then the first call's load of the cached kernel) is repaid by the
#: packing alone at ~150 us a file past ~6,000 files (docs/benchmarks.md, "numba's start-up"), and a small
#: ``find`` spent most of its time there; from one block of files on, a library's verification
#: (``verify.COMPILED_PAIRS``) or search usually loads numba anyway, so the kernel packs from there.
COMPILED_FILES = 4096


def pack_hashes(blocks: np.ndarray) -> np.ndarray:
    """(...) uint64 pHashes of (..., 8, 8) float32 or float64 blocks: ``phash_kernel.pack_hashes``."""
    from imgtwin.matching.phash_kernel import pack_hashes as compiled

    return compiled(blocks)


def packer_for(files: int) -> Packer:
    """The packer for a table of ``files`` files: the compiled one where it repays its start-up."""
    return pack_hashes if files >= COMPILED_FILES else hashes_of_blocks

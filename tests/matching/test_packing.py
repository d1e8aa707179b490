"""The packer loads numba at its first call, not at import."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from imgtwin.matching.packing import pack_hashes


def test_the_cli_and_a_scan_worker_import_without_numba() -> None:
    """Every ``imgtwin`` process imports these; numba costs ~0.4 s of CPU each and only ``find`` needs it."""
    code = ("import sys, imgtwin.cli, imgtwin.processing.task, imgtwin.matching.straighten, imgtwin.matching.partial; "
            "print('numba' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_the_packer_gives_the_kernels_bits() -> None:
    from imgtwin.matching.phash_kernel import pack_hashes as compiled

    blocks = np.random.default_rng(3).normal(size=(5, 7, 8, 8))
    assert np.array_equal(pack_hashes(blocks), compiled(blocks))
    assert pack_hashes(blocks).shape == (5, 7)

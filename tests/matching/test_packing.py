"""The packer loads numba at its first call, not at import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from imgtwin.hashing.features import hashes_of_blocks
from imgtwin.matching.packing import COMPILED_FILES, pack_hashes, packer_for


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


def test_a_small_find_packs_with_numpy_and_never_starts_numba(photo_dir: Path, tmp_path: Path) -> None:
    """numba's start-up (~1 s of CPU) was most of a small ``find``; under ``COMPILED_FILES`` numpy's bits serve."""
    code = ("import sys; from imgtwin.api import find_duplicates; "
            f"r = find_duplicates([{str(photo_dir)!r}], db={str(tmp_path / 'i.db')!r}); "
            "print(sorted(len(g.members) for g in r.groups), r.files, 'numba' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["[2]", "7", "False"], done.stdout + done.stderr


def test_the_packer_is_chosen_by_the_tables_size() -> None:
    assert packer_for(COMPILED_FILES - 1) is hashes_of_blocks
    assert packer_for(COMPILED_FILES) is pack_hashes

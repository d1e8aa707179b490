"""imgtwin runs numpy's OpenBLAS on one thread unless the user chose (its threads only spin on find's small products)."""

from __future__ import annotations

import os
import subprocess
import sys

_PROBE = "import imgtwin, os, numpy; print(os.environ['OPENBLAS_NUM_THREADS'])"


def _threads(env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True,
                          timeout=120)  # fmt: skip
    return done.stdout.strip()


def test_one_blas_thread_by_default_and_the_users_choice_wins() -> None:
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    assert _threads(env) == "1"
    assert _threads({**env, "OPENBLAS_NUM_THREADS": "2"}) == "2"

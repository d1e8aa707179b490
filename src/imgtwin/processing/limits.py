"""Per-worker memory guard: an address-space limit (RLIMIT_AS) on Linux/macOS.

The pixel-count check refuses bombs whose header says how big they are; this
catches the rest (a decoder that trusts a corrupt length field and asks for
gigabytes): the allocation fails, Pillow raises MemoryError, and the file is
reported as ``too_large`` instead of the machine swapping or the OOM killer
picking a victim. The limit is the worker's own footprint when it starts plus
``extra_bytes``, so libraries that reserve much address space at import
(OpenBLAS thread buffers, on many-core machines) do not eat the allowance.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def address_space_bytes() -> int | None:
    """This process's current virtual memory size (VmSize), or None if unknown."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


def limit_address_space(extra_bytes: int) -> int | None:
    """Cap this process at its current size plus ``extra_bytes``; the cap, or None.

    Does nothing (returns None) where the platform has no RLIMIT_AS or the
    current size cannot be read; never raises.
    """
    try:
        import resource
    except ImportError:  # Windows
        return None
    current = address_space_bytes()
    if current is None or not hasattr(resource, "RLIMIT_AS"):
        return None
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = current + extra_bytes
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    try:
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    except (ValueError, OSError) as exc:
        log.warning("cannot limit worker memory: %s", exc)
        return None
    return cap

"""Keep the peak memory of long encoding runs down by giving freed activation buffers back at once.

Encoding a corpus allocates activations of a different shape for every batch. glibc serves
buffers above its mmap threshold with their own mapping, returned to the system when freed, but it
raises that threshold (up to 32 MiB) each time such a buffer is freed, so after the first batches
every activation comes from the heap, whose freed holes do not fit the next shape and are not
returned: resident memory climbs over the run. Fixing the threshold at 1 MiB keeps large buffers
mmapped. On 1,500 SciFact abstracts this took embedtune's encode peak RSS from 1.15 GB to 0.93 GB
(plain sentence-transformers: 1.06 GB); the encode part of bench/speed.py measures it.

The setting is process-wide and permanent (glibc then stops adapting the threshold), so only the
inference commands (eval, index, search, serve, mine) apply it; training keeps glibc's default.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys

logger = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number (malloc.h)
MMAP_THRESHOLD_BYTES = 1 << 20
_applied = False


def return_freed_buffers(threshold: int = MMAP_THRESHOLD_BYTES) -> bool:
    """Fix glibc's mmap threshold at ``threshold`` bytes; True when it was set (Linux with glibc).

    ``EMBEDTUNE_MALLOC_TUNING=0`` leaves the allocator alone. Other platforms and C libraries are
    untouched: their allocators behave differently and were not measured.
    """
    global _applied
    if _applied:
        return True
    if not sys.platform.startswith("linux") or os.environ.get("EMBEDTUNE_MALLOC_TUNING", "1") == "0":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _applied = mallopt(M_MMAP_THRESHOLD, threshold) == 1
    if _applied:
        logger.debug("glibc mmap threshold fixed at %d bytes", threshold)
    return _applied

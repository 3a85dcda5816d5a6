"""Keep the peak memory of long encoding runs down by giving freed activation buffers back at once.

Encoding a corpus allocates activations of a different shape for every batch. glibc serves
buffers above its mmap threshold with their own mapping, returned to the system when freed, but it
raises that threshold (up to 32 MiB) each time such a buffer is freed, so after the first batches
every activation comes from the heap, whose freed holes do not fit the next shape and are not
returned: resident memory climbs over the run. Fixing the threshold at 1 MiB keeps large buffers
mmapped. On the full SciFact corpus this took embedtune's encode peak RSS to 0.90x plain
sentence-transformers' (bench/results/speed_encode_memory.json).

It costs time: every large buffer is then a fresh mapping whose pages fault in again. Encoding
1,200 abstracts took 18% longer in fp32 and 48% longer in bf16 with it (peak RSS 1.12 -> 0.90 GB
and 1.20 -> 0.87 GB). So it is opt-in: ``EMBEDTUNE_MALLOC_TUNING=1`` for memory-bound machines.
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
    """Fix glibc's mmap threshold at ``threshold`` bytes when ``EMBEDTUNE_MALLOC_TUNING=1``; True
    when it was set (Linux with glibc).

    Off by default: it trades encoding speed for peak memory (see above). Other platforms and C
    libraries are untouched: their allocators behave differently and were not measured.
    """
    global _applied
    if _applied:
        return True
    if not sys.platform.startswith("linux") or os.environ.get("EMBEDTUNE_MALLOC_TUNING", "0") != "1":
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

"""The glibc mmap-threshold setting: applied on Linux, skipped on request, measured by its effect."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

# Each case runs in a fresh interpreter: the setting is process-wide and permanent.
PROBE = """
import ctypes, sys
from embedtune.inference.memory import return_freed_buffers
applied = return_freed_buffers()
# By default a freed 16 MiB buffer stays resident in the heap; mmapped, it goes back to the system.
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
def rss_kb():
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmRSS")).split()[1])
before = rss_kb()
for _ in range(3):  # by default glibc raises its threshold after the first freed large buffer
    p = libc.malloc(16 << 20); ctypes.memset(p, 1, 16 << 20); libc.free(p)
print(applied, rss_kb() - before)
"""


def _probe(**env: str) -> tuple[bool, int]:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True,
                          env={**os.environ, **env})
    applied, grown_kb = done.stdout.split()
    return applied == "True", int(grown_kb)


@pytest.mark.allow_skip  # expected off Linux, even under CI
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc setting, Linux only")
def test_applied_on_linux():
    applied, _ = _probe(EMBEDTUNE_MALLOC_TUNING="1")
    assert applied


@pytest.mark.allow_skip  # expected off Linux, even under CI
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc setting, Linux only")
def test_off_by_default_it_leaves_the_allocator_alone():
    env = {k: v for k, v in os.environ.items() if k != "EMBEDTUNE_MALLOC_TUNING"}
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, env=env)
    assert done.stdout.split()[0] == "False"
    applied, _ = _probe(EMBEDTUNE_MALLOC_TUNING="0")
    assert not applied


@pytest.mark.allow_skip  # expected off Linux, even under CI
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc setting, Linux only")
def test_freed_large_buffers_go_back_to_the_system():
    _, grown_default = _probe(EMBEDTUNE_MALLOC_TUNING="0")
    _, grown_tuned = _probe(EMBEDTUNE_MALLOC_TUNING="1")
    assert grown_default >= 8 << 10  # the probe shows the problem: glibc's default keeps the buffer
    assert grown_tuned < 2 << 10  # with the setting it was unmapped when freed

"""Hand freed heap memory back to the operating system, so long streams keep a flat footprint.

Decoded frames are large (6 MB at 1080p).  After the first ones are freed, glibc raises its mmap
threshold and serves later frames from the heap, whose freed pages it keeps: over a 10-minute
1080p analysis the process grew by about 380 MB that way (bench/faces.py).  ``malloc_trim`` returns
those pages; the face pipeline calls it after every batch (a few milliseconds).  Elsewhere (macOS,
Windows, musl) there is no such call and nothing is done.
"""
from __future__ import annotations

import ctypes
import sys
from functools import lru_cache


@lru_cache(maxsize=1)
def _malloc_trim():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return getattr(libc, "malloc_trim", None)


def release_free_memory() -> bool:
    """Return freed heap pages to the system; False where the C library offers no way to."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True

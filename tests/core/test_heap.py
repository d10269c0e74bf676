"""Freed frame buffers go back to the operating system (flat memory over long videos)."""
from __future__ import annotations

import subprocess
import sys

import pytest

# In a fresh process: after one large block is freed glibc serves the next large blocks from its heap;
# 39 of 40 frame-sized blocks are freed below the one kept, so only an explicit trim can return them.
SCRIPT = """
import numpy as np
from dfdesk.core.heap import release_free_memory

def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) // 1024

first = np.ones(6_000_000 // 8); del first
blocks = [np.ones(6_000_000 // 8) for _ in range(40)]
kept = blocks[-1]; del blocks
before = rss_mb()
assert release_free_memory()
print(before, rss_mb())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="malloc_trim is a glibc (Linux) call")
def test_release_free_memory_returns_freed_frame_buffers_to_the_system() -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True).stdout
    before, after = map(int, out.split())
    assert before - after > 150, (before, after)  # about 230 MB of freed blocks

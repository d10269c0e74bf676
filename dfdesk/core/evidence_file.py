"""One open evidence file: hashed and decoded through the same descriptor, its identity checked by ``fstat``.

Why: hashing a path and later decoding that path again lets the file be swapped in between (a rename, or a write
in place), so the analysed bytes would not be the hashed ones.  An :class:`OpenedEvidence` opens the file once,
read-only.  Its SHA-256 is computed from that descriptor, every decoder reads that descriptor (each through its
own :meth:`OpenedEvidence.reader_file`, with its own position), and :meth:`OpenedEvidence.check_unchanged`
compares the file's identity (device, inode, size, modification time) by ``fstat`` with what it was when the file
was hashed.  A rename-swap cannot change what the descriptor reads; a write in place changes the size or the
modification time, and the check then hashes the file again and raises :class:`EvidenceChanged` naming both hashes.
"""
from __future__ import annotations

import hashlib
import io
import os
import stat
import threading
from collections.abc import Callable

from dfdesk.core.probe import HASH_CHUNK, VideoError

Identity = tuple[int, int, int, int]  # st_dev, st_ino, st_size, st_mtime_ns


class EvidenceChanged(VideoError):
    """The evidence file changed while it was read: what was decoded is not proven to be what was hashed."""


def identity_of(status: os.stat_result) -> Identity:
    """Device, inode, size and modification time: another file, or this one written to, has another identity."""
    return status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns


class OpenedEvidence:
    """An evidence file opened once for reading; use as a context manager (closing it closes the descriptor)."""

    def __init__(self, path: str | os.PathLike):
        self.path = str(path)
        try:
            self._fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO must not block
        except OSError as exc:
            raise VideoError(f"{self.path}: cannot be opened ({exc.strerror or exc})") from None
        status = os.fstat(self._fd)
        if not stat.S_ISREG(status.st_mode):
            self.close()
            raise VideoError(f"{self.path}: not a regular file")
        self.identity: Identity = identity_of(status)  # when hashed (or, before that, when opened)
        self.sha256: str | None = None
        self._lock = threading.Lock()  # only where os.pread is missing: one seek+read at a time

    def identity_now(self) -> Identity:
        return identity_of(os.fstat(self._fd))

    def hash(self, progress: Callable[[int], None] | None = None) -> str:
        """SHA-256 of the bytes behind the descriptor (``progress`` gets each block's size); remembered, with the
        identity the file had meanwhile.  EvidenceChanged when the file was written to while it was hashed."""
        before = self.identity_now()
        digest = self._digest(progress)
        if self.identity_now() != before:
            raise EvidenceChanged(f"{self.path}: the file was written to while it was being hashed")
        self.identity, self.sha256 = before, digest
        return digest

    def check_unchanged(self) -> None:
        """EvidenceChanged, naming the hash taken and the hash now, when the file's identity is no longer the one
        it had when it was hashed (so what was decoded may not be what was hashed)."""
        if self.sha256 is None:
            raise ValueError("check_unchanged before hash")
        if self.identity_now() == self.identity:
            return
        now = self._digest(None)
        raise EvidenceChanged(f"{self.path}: the file changed while it was analysed (SHA-256 {self.sha256} when "
                              f"checked, {now} afterwards); no result is recorded")

    def reader_file(self) -> DescriptorFile:
        """A new read-only file object over the descriptor, with a position of its own (for PyAV)."""
        return DescriptorFile(self)

    def read_at(self, offset: int, size: int) -> bytes:
        """Up to ``size`` bytes from ``offset``, without moving any other reader's position."""
        if hasattr(os, "pread"):
            return os.pread(self._fd, size, offset)
        with self._lock:
            os.lseek(self._fd, offset, os.SEEK_SET)
            return os.read(self._fd, size)

    def size_now(self) -> int:
        return os.fstat(self._fd).st_size

    def _digest(self, progress: Callable[[int], None] | None) -> str:
        digest, offset = hashlib.sha256(), 0
        while block := self.read_at(offset, HASH_CHUNK):
            digest.update(block)
            offset += len(block)
            if progress is not None:
                progress(len(block))
        return digest.hexdigest()

    def close(self) -> None:
        fd, self._fd = getattr(self, "_fd", -1), -1
        if fd >= 0:
            os.close(fd)

    def __enter__(self) -> OpenedEvidence:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class DescriptorFile(io.RawIOBase):
    """A seekable, read-only file object reading an :class:`OpenedEvidence` at a position of its own.

    Closing it leaves the evidence's descriptor open (the evidence owns it)."""

    def __init__(self, evidence: OpenedEvidence):
        super().__init__()
        self._evidence, self._position = evidence, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._evidence.read_at(self._position, len(buffer))
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._position, os.SEEK_END: self._evidence.size_now()}[whence]
        if base + offset < 0:
            raise OSError(f"negative seek position {base + offset}")
        self._position = base + offset
        return self._position

    def tell(self) -> int:
        return self._position

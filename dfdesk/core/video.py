"""Streaming video decoding with PyAV: upright RGB frames, real timestamps, sparse seeking.

A frame's index is its position in presentation order, found from a packet table built by
one demux pass (no decoding).  Sparse requests seek to the keyframe before each wanted frame
and decode only from there, and FFmpeg drops the frames that are neither wanted nor referenced
by other frames (``skip_frame`` NONREF, decided packet by packet, for the decoders that honour
it packet by packet: H.264, HEVC, MPEG-1/2/4 part 2); dense requests simply decode
forward.  Problems met while decoding (corrupt or truncated files) end iteration and are
recorded in ``warnings``.

Before its first seek a reader *primes* the decoder with the stream's first packet: some streams say
things only at their start that change how every later frame is reconstructed (x264 writes its build number
in an SEI message of the first access unit, and FFmpeg turns on the work-arounds for old builds' 4:4:4 bugs
only after reading it).  A decoder that meets a later keyframe first reconstructs other pixels without any
error; FFmpeg keeps what it learned across the flush of a seek, so one priming per reader is enough.

Two kinds of file need care to see what a plain decode sees.  A container may mark packets as not to be shown
(an MP4 edit list that trims the start or the end): they are decoded as references but are no frames, so they
have no index.  And a seek to the start does not always reach the first packet: an MPEG program stream whose
first two packets carry the same decoding timestamp (the GRID corpus) indexes that timestamp at the second one,
so ``seek(0)`` lands after the first keyframe; the reader then opens the file afresh, which always begins at the
first packet.

The reader decodes from one open descriptor (:class:`~dfdesk.core.evidence_file.OpenedEvidence`: the caller's,
already hashed, or its own), never from the path again: a file renamed over the evidence while it is read is not
read.  A reopen refuses a file whose identity (device, inode, size, mtime) changed since the reader opened it
(written in place).  Of several video streams it decodes the one asked for, else the one marked default, else the
first (:func:`dfdesk.core.probe.chosen_video_stream`).
"""
from __future__ import annotations

import os
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import chain

import av
import cv2
import numpy as np

from dfdesk.core.evidence_file import OpenedEvidence
from dfdesk.core.probe import VideoError, chosen_video_stream, open_container
from dfdesk.core.types import Frame, VideoInfo

GAP_FACTOR_CFR = 1.5  # a timestamp step this many typical steps long means lost frames (constant rate)
GAP_FACTOR_VFR = 3.0  # the same for variable frame rate, where steps vary legitimately
SEEK_RETRIES = 3  # keyframes tried before rewinding to the start when a seek lands too late
ROTATE_CODES = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}
# FFmpeg decoders that apply ``skip_frame`` to the packet it was set for.  Others (libdav1d for AV1
# buffers packets and applies the setting later) would drop wanted frames, so they decode everything.
SKIPS_PER_PACKET = frozenset({"h264", "hevc", "mpeg4", "mpeg2video", "mpeg1video"})


@dataclass(frozen=True)
class PacketTable:
    """Presentation timestamps of every frame, sorted, and the sorted keyframe timestamps."""

    pts: tuple[int, ...]
    keyframe_pts: tuple[int, ...]
    time_base: Fraction
    discarded: int = 0  # packets the container marks as not to be shown (decoded, never output)
    first_packet: tuple = ()  # where the stream begins (see :func:`packet_place`): how a rewind knows it got there

    def index_of(self, pts: int) -> int | None:
        position = bisect_right(self.pts, pts) - 1
        return position if position >= 0 and self.pts[position] == pts else None

    def keyframe_index_before(self, index: int) -> int:
        """Index of the last keyframe at or before frame ``index`` (0 when none)."""
        position = bisect_right(self.keyframe_pts, self.pts[index]) - 1
        return self.index_of(self.keyframe_pts[position]) or 0 if position >= 0 else 0

    def time_s(self, pts: int) -> float:
        return float((pts - self.pts[0]) * self.time_base)


def packet_place(packet: av.Packet) -> tuple:
    """A packet's byte position and timestamps: the same packet read twice has the same place."""
    return packet.pos, packet.dts, packet.pts


def read_packet_table(container, stream) -> PacketTable:
    """Demux (without decoding) the video stream once, from its start, to learn every frame's timestamp.

    Packets marked discard (an MP4 edit list's trimmed start or end) are counted but get no index: no decoder
    outputs them, so a plain decode never shows them.
    """
    pts, keyframes, discarded, first = [], [], 0, ()
    for packet in container.demux(stream):
        if packet.size == 0:
            continue
        first = first or packet_place(packet)
        if packet.is_discard:
            discarded += 1
        elif packet.pts is not None:
            pts.append(packet.pts)
            if packet.is_keyframe:
                keyframes.append(packet.pts)
    if not pts:
        raise VideoError("the video stream holds no timestamped frame")
    return PacketTable(tuple(sorted(pts)), tuple(sorted(keyframes)), stream.time_base or Fraction(1, 1000),
                       discarded, first)


def integrity_warnings(table: PacketTable, info: VideoInfo) -> list[str]:
    """Signs of lost frames: fewer packets than the header promised, or jumps in constant-rate timestamps."""
    warnings = []
    if len(table.pts) + table.discarded < info.frame_count:
        warnings.append(f"the file holds {len(table.pts)} readable frames but declares {info.frame_count}")
    steps = np.diff(np.asarray(table.pts, np.int64))
    if len(steps) > 2:
        tolerance = GAP_FACTOR_VFR if info.is_vfr else GAP_FACTOR_CFR
        gaps = np.flatnonzero(steps > tolerance * np.median(steps))
        if len(gaps):
            first = gaps[0]
            warnings.append(f"timestamps jump {len(gaps)} time(s), first after frame {first} "
                            f"({table.time_s(table.pts[first]):.3f} s): frames may be missing")
    return warnings


def upright_rgb(frame: av.VideoFrame, rotation_cw: int) -> np.ndarray:
    """RGB uint8 array of a decoded frame, turned clockwise by ``rotation_cw`` degrees."""
    image = frame.to_ndarray(format="rgb24")
    if rotation_cw in ROTATE_CODES:
        image = cv2.rotate(image, ROTATE_CODES[rotation_cw])
    return image


class VideoReader:
    """An open evidence file that yields upright frames; use as a context manager.

    ``threads``: decoder threads, 0 lets FFmpeg choose.  ``warnings`` lists what went wrong
    while decoding (the iteration then ends early instead of raising).
    """

    def __init__(self, source: str | os.PathLike | OpenedEvidence, info: VideoInfo, threads: int = 0,
                 stream: int | None = None):
        self.info, self._threads, self._stream_asked = info, threads, stream
        self.warnings: list[str] = []
        self._owns_evidence = not isinstance(source, OpenedEvidence)
        self.path = str(source.path if isinstance(source, OpenedEvidence) else source)
        self.evidence = OpenedEvidence(source) if self._owns_evidence else source  # VideoError names the path
        try:
            self._identity = self.evidence.identity_now()
            self._open()
            self.table = read_packet_table(self._container, self._stream)
            self.warnings += integrity_warnings(self.table, info)
            self._prime_decoder()
        except (av.error.FFmpegError, IndexError, OSError) as exc:
            self.close()
            raise VideoError(f"{self.path}: cannot be opened for decoding ({exc})") from None
        except VideoError as exc:
            self.close()
            raise VideoError(f"{self.path}: {exc}") from None

    @property
    def stream_index(self) -> int:
        """The container index of the video stream decoded."""
        return self._stream.index

    def _open(self) -> None:
        """Open the descriptor's container and the chosen video stream, with the decoder threads asked for."""
        self._container = open_container(self.evidence)
        self._stream = chosen_video_stream(self._container, self._stream_asked)
        self._stream.codec_context.thread_type = "AUTO"
        self._stream.codec_context.thread_count = self._threads

    def _prime_decoder(self) -> None:
        """Feed the stream's first packet to the decoder and drop its output (see the module docstring)."""
        first = next((packet for packet in self._packets_from_start() if packet.size), None)
        try:
            if first is not None:
                first.decode()
        except av.error.FFmpegError:
            pass  # a damaged first packet teaches nothing; the reader reports damage where frames are wanted
        self._stream.codec_context.flush_buffers()

    def _packets_from_start(self) -> Iterator[av.Packet]:
        """The video stream's packets from its very first one (the empty packet that flushes the decoder last).

        ``seek(0)`` gets there in most containers; where it lands elsewhere (see the module docstring) the
        container is opened again.  A fresh decoder that starts with the first packet needs no priming.
        """
        self._container.seek(0)
        packets = self._container.demux(self._stream)
        first = next((packet for packet in packets if packet.size), None)
        if first is not None and packet_place(first) == self.table.first_packet:
            return chain([first], packets)
        self._reopen()
        return self._container.demux(self._stream)

    def _reopen(self) -> None:
        """Open the descriptor's container again, provided the file was not written to meanwhile (else VideoError)."""
        if self.evidence.identity_now() != self._identity:
            raise VideoError(f"{self.path}: the file was written to while it was being read")
        self._container.close()
        self._open()

    @property
    def frame_count(self) -> int:
        return len(self.table.pts)

    def close(self) -> None:
        container = getattr(self, "_container", None)
        if container is not None:
            container.close()
            self._container = None
        if getattr(self, "_owns_evidence", False) and getattr(self, "evidence", None) is not None:
            self.evidence.close()
            self.evidence = None

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def frames(self, indices: Sequence[int] | None = None) -> Iterator[Frame]:
        """Yield the frames at ``indices`` (all when None) in increasing index order.

        A decode error (damaged data) is recorded in ``warnings`` and decoding resumes at the next keyframe,
        so one damaged group of pictures does not cost the rest of the file.
        """
        wanted = range(self.frame_count) if indices is None else self._present(sorted(set(indices)))
        skipping = indices is not None and self._stream.codec_context.name in SKIPS_PER_PACKET
        keep = frozenset(self.table.pts[i] for i in wanted) if skipping else None  # None: decode every packet
        position, decoded = -1, None  # index of the last frame decoded; (index, frame) pairs
        resume_at, skipped = 0, 0  # after damage: the keyframe decoding starts again from
        for target in wanted:
            if target < resume_at:
                skipped += 1
                continue
            try:
                if decoded is None or self._seek_pays(position, target):
                    decoded = _Peekable(self._decoded_from(target, keep))
                found, position = self._advance(decoded, target, position)
            except av.error.FFmpegError as exc:
                resume_at, decoded = self._keyframe_after(max(position, target)), None
                self.warnings.append(f"damaged data near frame {max(position, target)} ({exc.strerror or exc}); "
                                     f"decoding resumed at frame {resume_at}" if resume_at < self.frame_count
                                     else f"damaged data near frame {max(position, target)}; no later keyframe")
                skipped += 1
                continue
            if found is not None:
                yield self._to_frame(found, target)
            elif decoded.exhausted:
                self.warnings.append(f"decoding stopped early after frame {position} of {self.frame_count}")
                return
            else:
                skipped += 1
                self.warnings.append(f"frame {target} could not be decoded and was skipped")
        if skipped and resume_at:
            self.warnings.append(f"{skipped} wanted frame(s) lay in damaged parts of the file and were skipped")

    def _keyframe_after(self, index: int) -> int:
        """Index of the first keyframe after frame ``index`` (frame_count when none)."""
        later = [k for k in self.table.keyframe_pts if k > self.table.pts[min(index, self.frame_count - 1)]]
        found = self.table.index_of(later[0]) if later else None
        return found if found is not None else self.frame_count

    def _present(self, wanted: list[int]) -> list[int]:
        if wanted and wanted[0] < 0:
            raise ValueError(f"negative frame index {wanted[0]}")
        present = [i for i in wanted if i < self.frame_count]
        if len(present) < len(wanted):
            self.warnings.append(f"{len(wanted) - len(present)} wanted frame(s) lie past the last frame "
                                 f"({self.frame_count - 1}) and were skipped")
        return present

    def _seek_pays(self, position: int, target: int) -> bool:
        """True when a keyframe lies after the next frame to decode and at or before ``target``."""
        return self.table.keyframe_index_before(target) > position + 1

    def _decoded_from(self, target: int, keep: frozenset[int] | None) -> Iterator[tuple[int, av.VideoFrame]]:
        """(index, frame) pairs decoded from a keyframe at or before ``target`` onwards (``keep``: see
        :meth:`_indexed_frames`).

        Some containers (MPEG-TS) seek imprecisely: when decoding would start after ``target``,
        earlier keyframes are tried, then the start of the stream.
        """
        for keyframe in self._seek_points(target):
            decoded = self._indexed_frames(self._packets_from(keyframe), keep)
            first = next(decoded, None)
            if first is not None and first[0] <= target:
                yield first
                yield from decoded
                return

    def _seek_points(self, target: int) -> list[int]:
        """Keyframe indices to try, latest first, ending with 0 (the start)."""
        points = [self.table.keyframe_index_before(target)]
        while len(points) < SEEK_RETRIES and points[-1] > 0:
            points.append(self.table.keyframe_index_before(points[-1] - 1))
        return points if points[-1] == 0 else points + [0]

    def _packets_from(self, index: int) -> Iterator[av.Packet]:
        """Packets from the keyframe at frame ``index`` (0: the very start of the stream) or near it."""
        if index == 0:
            return self._packets_from_start()
        self._container.seek(self.table.pts[index], stream=self._stream, backward=True)
        return self._container.demux(self._stream)

    def _indexed_frames(self, packets: Iterator[av.Packet],
                        keep: frozenset[int] | None = None) -> Iterator[tuple[int, av.VideoFrame]]:
        """(index, frame) pairs in presentation order, decoded from ``packets``.  ``keep``: timestamps of the
        wanted frames; the other packets go to FFmpeg with ``skip_frame`` NONREF (dropped when no other frame
        refers to them)."""
        last, codec = -1, self._stream.codec_context
        for packet in packets:
            codec.skip_frame = "NONREF" if _droppable(packet, keep) else "DEFAULT"
            for frame in packet.decode():
                index = self.table.index_of(frame.pts) if frame.pts is not None else None
                if index is not None and index > last:
                    last = index
                    yield index, frame


    @staticmethod
    def _advance(decoded: _Peekable, target: int, position: int) -> tuple[av.VideoFrame | None, int]:
        """Decode up to ``target``: (its frame, or None when missing; index of the last frame decoded)."""
        while (item := decoded.peek()) is not None and item[0] <= target:
            decoded.pop()
            position = item[0]
            if position == target:
                return item[1], position
        return None, position

    def _to_frame(self, frame: av.VideoFrame, index: int) -> Frame:
        return Frame(index=index, time_s=self.table.time_s(frame.pts), image=upright_rgb(frame, self.info.rotation),
                     pts=frame.pts)


def _droppable(packet: av.Packet, keep: frozenset[int] | None) -> bool:
    """True for a packet whose frame nobody asked for (the setting travels with the packet, also to decoder
    threads)."""
    return keep is not None and packet.size > 0 and packet.pts is not None and packet.pts not in keep


class _Peekable:
    """An iterator whose next item can be looked at without taking it."""

    def __init__(self, items: Iterator):
        self._items, self._next, self.exhausted = items, None, False

    def peek(self):
        if self._next is None and not self.exhausted:
            self._next = next(self._items, None)
            self.exhausted = self._next is None
        return self._next

    def pop(self):
        item, self._next = self.peek(), None
        return item


def iter_frames(path: str | os.PathLike | OpenedEvidence, info: VideoInfo, indices: Sequence[int] | None = None,
                threads: int = 0) -> Iterator[Frame]:
    """Stream upright RGB frames; raise VideoError at the end if any wanted frame could not be decoded.

    Warnings about parts of the file that were not asked for (a timestamp gap elsewhere) do not raise.
    """
    with VideoReader(path, info, threads) as reader:
        delivered = 0
        for frame in reader.frames(indices):
            delivered += 1
            yield frame
        wanted = reader.frame_count if indices is None else len(set(indices))
        if delivered < wanted:
            raise VideoError(f"{path}: {wanted - delivered} wanted frame(s) missing: " + "; ".join(reader.warnings))

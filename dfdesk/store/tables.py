"""The case database schema: SQLAlchemy 2.0 typed tables.

Changing a table means adding an Alembic revision in dfdesk/store/migrations/versions.
"""
from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from dfdesk.core.types import VideoInfo, bit_depth

# the probe's facts an evidence row stores, each under the VideoInfo field's own name (bit depth follows from the
# pixel format; the path is the row's own)
PROBED_COLUMNS = tuple(f.name for f in fields(VideoInfo) if f.name not in ("path", "bit_depth"))


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: DateTime(timezone=True)}


ANALYSIS_STATUSES = ("queued", "running", "done", "failed", "cancelled", "interrupted")


class Case(Base):
    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    number: Mapped[str] = mapped_column(String(100), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    examiner: Mapped[str | None] = mapped_column(String(200), default=None)  # None: not recorded (revision 0003)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))
    closed: Mapped[bool] = mapped_column(Boolean, default=False)
    evidence: Mapped[list[Evidence]] = relationship(back_populates="case", order_by="Evidence.id")


class Evidence(Base):
    __tablename__ = "evidence"
    __table_args__ = (UniqueConstraint("case_id", "sha256", name="uq_evidence_case_hash"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"), index=True)
    path: Mapped[str] = mapped_column(Text)  # as given by the analyst
    file_name: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size_bytes: Mapped[int] = mapped_column(Integer)
    container: Mapped[str] = mapped_column(String(100))
    codec: Mapped[str] = mapped_column(String(50))
    pixel_format: Mapped[str] = mapped_column(String(50), default="")
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    fps: Mapped[float] = mapped_column(Float)
    frame_count: Mapped[int] = mapped_column(Integer)
    duration_s: Mapped[float] = mapped_column(Float)
    rotation: Mapped[int] = mapped_column(Integer, default=0)  # degrees clockwise to show upright
    has_audio: Mapped[bool] = mapped_column(Boolean, default=False)
    is_vfr: Mapped[bool] = mapped_column(Boolean, default=False)
    ingested_at: Mapped[datetime] = mapped_column(default=utcnow)
    ingested_by: Mapped[str] = mapped_column(String(100))
    case: Mapped[Case] = relationship(back_populates="evidence")
    analyses: Mapped[list[Analysis]] = relationship(back_populates="evidence", order_by="Analysis.id")

    @classmethod
    def from_probe(cls, case_id: int, path: str, sha256: str, info: VideoInfo, ingested_by: str) -> Evidence:
        """The row of a file at intake: the probe's facts stored column for column (PROBED_COLUMNS)."""
        return cls(case_id=case_id, path=path, file_name=Path(path).name, sha256=sha256, ingested_by=ingested_by,
                   **{name: getattr(info, name) for name in PROBED_COLUMNS})

    def video_info(self) -> VideoInfo:
        """The probe's facts as recorded at intake: every reader of an evidence row gets them from here."""
        return VideoInfo(path=self.path, bit_depth=bit_depth(self.pixel_format),
                         **{name: getattr(self, name) for name in PROBED_COLUMNS})


class Analysis(Base):
    __tablename__ = "analyses"
    id: Mapped[int] = mapped_column(primary_key=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id", ondelete="RESTRICT"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    seed: Mapped[int] = mapped_column(Integer, default=0)
    models: Mapped[list] = mapped_column(JSON, default=list)  # [{name, version, architecture, weights_sha256}]
    verdict: Mapped[str | None] = mapped_column(String(20), default=None)
    fake_probability: Mapped[float | None] = mapped_column(Float, default=None)
    summary: Mapped[dict] = mapped_column(JSON, default=dict)  # fusion, band, agreement, per-detector results
    timings: Mapped[dict] = mapped_column(JSON, default=dict)
    error: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[Evidence] = relationship(back_populates="analyses")
    tracks: Mapped[list[FaceTrackRow]] = relationship(cascade="all, delete-orphan", order_by="FaceTrackRow.track_index")
    frame_scores: Mapped[list[FrameScore]] = relationship(cascade="all, delete-orphan")
    artifacts: Mapped[list[Artifact]] = relationship(cascade="all, delete-orphan")


class FaceTrackRow(Base):
    __tablename__ = "face_tracks"
    id: Mapped[int] = mapped_column(primary_key=True)
    analysis_id: Mapped[int] = mapped_column(ForeignKey("analyses.id", ondelete="CASCADE"), index=True)
    track_index: Mapped[int] = mapped_column(Integer)
    is_main: Mapped[bool] = mapped_column(Boolean, default=False)
    frame_count: Mapped[int] = mapped_column(Integer)
    first_frame: Mapped[int] = mapped_column(Integer)
    last_frame: Mapped[int] = mapped_column(Integer)
    boxes: Mapped[dict] = mapped_column(JSON, default=dict)  # frame index -> [x1, y1, x2, y2]
    fake_probability: Mapped[float | None] = mapped_column(Float, default=None)


class FrameScore(Base):
    __tablename__ = "frame_scores"
    __table_args__ = (Index("ix_frame_scores_analysis_detector", "analysis_id", "detector"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    analysis_id: Mapped[int] = mapped_column(ForeignKey("analyses.id", ondelete="CASCADE"))
    detector: Mapped[str] = mapped_column(String(100))  # model name, or "fused"
    track_index: Mapped[int] = mapped_column(Integer)
    frame_index: Mapped[int] = mapped_column(Integer)
    time_s: Mapped[float] = mapped_column(Float)
    fake_probability: Mapped[float] = mapped_column(Float)
    attention: Mapped[float | None] = mapped_column(Float, default=None)  # temporal attention weight


class Artifact(Base):
    """A file derived from an analysis (heat-map overlay PNG), kept in the case's data folder."""

    __tablename__ = "artifacts"
    id: Mapped[int] = mapped_column(primary_key=True)
    analysis_id: Mapped[int] = mapped_column(ForeignKey("analyses.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(50))
    detector: Mapped[str] = mapped_column(String(100))
    track_index: Mapped[int] = mapped_column(Integer)
    frame_index: Mapped[int] = mapped_column(Integer)
    fake_probability: Mapped[float | None] = mapped_column(Float, default=None)
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))


class Note(Base):
    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"), index=True)
    evidence_id: Mapped[int | None] = mapped_column(ForeignKey("evidence.id", ondelete="RESTRICT"), default=None)
    analysis_id: Mapped[int | None] = mapped_column(ForeignKey("analyses.id", ondelete="RESTRICT"), default=None)
    author: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    conclusion: Mapped[str | None] = mapped_column(String(20), default=None)  # agree | disagree | inconclusive
    text: Mapped[str] = mapped_column(Text, default="")


class Report(Base):
    __tablename__ = "reports"
    id: Mapped[int] = mapped_column(primary_key=True)
    report_uid: Mapped[str] = mapped_column(String(40), unique=True)
    analysis_id: Mapped[int] = mapped_column(ForeignKey("analyses.id", ondelete="RESTRICT"), index=True)
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))
    evidence_hash_ok: Mapped[bool] = mapped_column(Boolean)


class AuditEvent(Base):
    """Append-only (database triggers refuse UPDATE and DELETE) and hash-chained; each row's hash (the chain's
    head when it was written) is signed with the installation's key (``signer`` is that key's fingerprint)."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50), index=True)
    case_id: Mapped[int | None] = mapped_column(Integer, default=None, index=True)
    evidence_id: Mapped[int | None] = mapped_column(Integer, default=None, index=True)
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    signer: Mapped[str] = mapped_column(String(64), default="", server_default="")
    signature: Mapped[str] = mapped_column(String(100), default="", server_default="")


class Profile(Base):
    """A local user profile: analyst or admin, password as a salted scrypt hash."""

    __tablename__ = "profiles"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20))  # analyst | admin
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

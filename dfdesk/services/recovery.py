"""Analyses left 'running' by a process that died (crash, kill -9) are marked 'interrupted'."""
from __future__ import annotations

import os
import socket

from sqlalchemy import select

from dfdesk.services import audit
from dfdesk.store.database import Database
from dfdesk.store.tables import Analysis

RESUMABLE = ("interrupted", "failed", "cancelled")  # statuses an analysis can be resumed from


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def mark_interrupted(db: Database) -> list[int]:
    """Ids of the analyses found orphaned on this host and marked interrupted (audited)."""
    host = socket.gethostname()
    marked = []
    with db.unit_of_work() as session:
        for analysis in session.scalars(select(Analysis).where(Analysis.status == "running")):
            worker = (analysis.settings or {}).get("worker", {})
            if worker.get("host") == host and worker.get("pid") != os.getpid() and not _alive(worker.get("pid", 0)):
                analysis.status = "interrupted"
                analysis.error = "the process running this analysis stopped before it finished"
                audit.record(session, "dfdesk", "analysis.interrupted", evidence_id=analysis.evidence_id,
                             analysis_id=analysis.id, pid=worker.get("pid"))
                marked.append(analysis.id)
    return marked

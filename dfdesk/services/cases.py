"""Use cases on cases: create, find, list, rename, close, edit the number, examiner and description; and the cheap
"has anything changed" probe with which a window follows the database.

Every text an analyst types goes through :func:`dfdesk.services.text_limits.check_text`, so the command line,
the dialogs and these services apply one rule (length in characters, no control characters or bidirectional
overrides)."""
from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from dfdesk.services import audit, text_limits
from dfdesk.store.database import Database
from dfdesk.store.tables import Case


class CaseError(Exception):
    """A case operation that cannot be done (unknown case, name taken, empty name)."""


def _checked(field: str, value: str | None, limit: int) -> str:
    """``value`` stripped and within the field's limit, or CaseError with check_text's sentence."""
    try:
        return text_limits.check_text(field, value or "", limit)
    except ValueError as exc:
        raise CaseError(str(exc)) from None


def _clean_name(name: str) -> str:
    name = _checked("case name", name, text_limits.CASE_NAME)
    if not name:
        raise CaseError("a case needs a name")
    return name


def _clean_examiner(examiner: str | None) -> str | None:
    """The examiner's name, or None ("not recorded") when empty."""
    return _checked("examiner", examiner, text_limits.EXAMINER) or None


def create_case(session: Session, name: str, actor: str, number: str = "", description: str = "",
                examiner: str | None = None) -> Case:
    name = _clean_name(name)
    number = _checked("case number", number, text_limits.CASE_NUMBER)
    description = _checked("description", description, text_limits.DESCRIPTION)
    examiner = _clean_examiner(examiner)
    if session.scalar(select(Case.id).where(Case.name == name)) is not None:
        raise CaseError(f"a case named {name!r} already exists")
    case = Case(name=name, number=number, description=description, examiner=examiner, created_by=actor)
    session.add(case)
    session.flush()
    audit.record(session, actor, "case.create", case_id=case.id, name=name, number=case.number,
                 **({"examiner": examiner} if examiner else {}))
    return case


def find_case(session: Session, name: str) -> Case:
    """The case called ``name``: always a name, even one made of digits ("1", "١"); ids go through get_case."""
    case = session.scalar(select(Case).where(Case.name == name))
    if case is None:
        raise CaseError(f"no case named {name!r}")
    return case


def get_case(session: Session, case_id: int) -> Case:
    """The case with id ``case_id``."""
    case = session.get(Case, case_id)
    if case is None:
        raise CaseError(f"no case with id {case_id}")
    return case


def get_or_create_case(session: Session, name: str, actor: str) -> Case:
    try:
        return find_case(session, name)
    except CaseError:
        return create_case(session, name, actor)


def list_cases(session: Session, search: str = "", include_closed: bool = True) -> list[Case]:
    query = select(Case).order_by(Case.created_at.desc(), Case.id.desc())
    if search:
        pattern = f"%{search.strip().lower()}%"
        query = query.where(or_(func.lower(Case.name).like(pattern), func.lower(Case.number).like(pattern)))
    if not include_closed:
        query = query.where(Case.closed.is_(False))
    return list(session.scalars(query))


def rename_case(session: Session, case_id: int, new_name: str, actor: str) -> Case:
    case = get_case(session, case_id)
    new_name = _clean_name(new_name)
    if new_name != case.name and session.scalar(select(Case.id).where(Case.name == new_name)) is not None:
        raise CaseError(f"a case named {new_name!r} already exists")
    old = case.name
    case.name = new_name
    audit.record(session, actor, "case.rename", case_id=case.id, old=old, new=new_name)
    return case


def set_case_closed(session: Session, case_id: int, closed: bool, actor: str) -> Case:
    case = get_case(session, case_id)
    case.closed = closed
    audit.record(session, actor, "case.close" if closed else "case.reopen", case_id=case.id)
    return case


def update_case_details(session: Session, case_id: int, number: str, description: str, actor: str,
                        examiner: str | None = None) -> Case:
    """Set the lab's case number, the description and (unless ``examiner`` is None) the examiner; an empty
    examiner means "not recorded".  Audited with the old and new values of what changed; nothing when nothing did.
    """
    case = get_case(session, case_id)
    values = {"number": _checked("case number", number, text_limits.CASE_NUMBER),
              "description": _checked("description", description, text_limits.DESCRIPTION)}
    if examiner is not None:
        values["examiner"] = _clean_examiner(examiner)
    changes = {field: {"old": getattr(case, field), "new": new} for field, new in values.items()
               if getattr(case, field) != new}
    if changes:
        for field, change in changes.items():
            setattr(case, field, change["new"])
        audit.record(session, actor, "case.update", case_id=case.id, **changes)
    return case


def change_watch_connection(db: Database):
    """A connection of its own for :func:`data_version`, held while a window follows the database.

    It runs in autocommit (the engine issues BEGIN itself only for units of work), so polling it never takes
    SQLite's write lock and never waits for a writer."""
    return db.engine.raw_connection()


def data_version(connection) -> int:
    """SQLite's ``PRAGMA data_version`` on ``connection``: it changes whenever any *other* connection commits (this
    process's units of work, the CLI, a batch in another process), and costs no table read."""
    cursor = connection.cursor()
    try:
        return int(cursor.execute("PRAGMA data_version").fetchone()[0])
    finally:
        cursor.close()

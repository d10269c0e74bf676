"""Long values in a report: cut visibly, never left to push a table cell past the page.

reportlab cannot split one table cell over two pages, and a header line has room for one line: a 100 kB case number,
examiner name or note would overflow the layout (issue 21).  Every value typed by a person passes through
:func:`clip` before it is laid out; what is cut says so, with the value's full length.
"""
from __future__ import annotations

NAME_CHARS = 300  # case name and number, examiner, actor, file name: one table cell of a few lines
PATH_CHARS = 1_000  # a path (wraps at any character)
SUMMARY_NOTE_CHARS = 1_500  # the analyst's note in the executive summary (the full note follows in its section)
NOTE_CHARS = 20_000  # a note in the notes section, which may run over pages (the database's own limit)
AUDIT_VALUE_CHARS = 160  # one value in an audit entry


def clip(value: str, limit: int) -> str:
    """``value`` when it has at most ``limit`` characters, else its start and "… (N characters, truncated)"."""
    if len(value) <= limit:
        return value
    return f"{value[:limit]}… ({len(value):,} characters, truncated)"

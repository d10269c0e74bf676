"""Who is acting: the analyst name recorded with every audited action."""
from __future__ import annotations

import getpass
import os

ANALYST_ENV = "DFDESK_ANALYST"


def current_analyst() -> str:
    name = os.environ.get(ANALYST_ENV)
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"

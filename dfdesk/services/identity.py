"""Who is acting: the name recorded with every audited action, and whether it was authenticated.

A process acts for at most one signed-in profile (the CLI signs in from ``--profile`` or ``DFDESK_PROFILE``;
the GUI after its login dialog).  While one is signed in, :func:`current_analyst` is that profile's name;
otherwise it is an unauthenticated label: ``DFDESK_ANALYST`` or the operating-system user, which anyone can
set.  The audit log records which of the two each actor was (see :func:`dfdesk.services.audit.record`).
"""
from __future__ import annotations

import getpass
import os

ANALYST_ENV = "DFDESK_ANALYST"
_signed_in: str | None = None


def current_analyst() -> str:
    """The signed-in profile's name, else the unauthenticated label."""
    return _signed_in or unauthenticated_label()


def unauthenticated_label() -> str:
    name = os.environ.get(ANALYST_ENV)
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def sign_in(profile: str) -> None:
    """Act as ``profile`` from now on; call only after :func:`dfdesk.services.profiles.authenticate` succeeded."""
    global _signed_in
    _signed_in = profile


def sign_out() -> None:
    global _signed_in
    _signed_in = None


def signed_in_profile() -> str | None:
    return _signed_in


def is_authenticated(actor: str) -> bool:
    """True when ``actor`` is the profile signed in to this process."""
    return _signed_in is not None and actor == _signed_in

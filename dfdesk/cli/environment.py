"""The environment variables a command reads, checked before it runs like any argument (one line, exit 2).

``DFDESK_DATA_DIR`` must name a folder (or a place where one can be made), not a file; the actor label
``DFDESK_ANALYST`` and the profile name ``DFDESK_PROFILE`` are free text within the actor limit.
"""
from __future__ import annotations

import os
from pathlib import Path

from dfdesk.cli.common import CliError
from dfdesk.paths import DATA_DIR_ENV
from dfdesk.services import text_limits

ACTOR_ENVS = ("DFDESK_ANALYST", "DFDESK_PROFILE")


def check_environment() -> None:
    check_data_dir(os.environ.get(DATA_DIR_ENV))
    for name in ACTOR_ENVS:
        value = os.environ.get(name)
        if value:
            try:
                text_limits.check_text(f"${name}", value, text_limits.ACTOR)
            except ValueError as exc:
                raise CliError(str(exc)) from None


def check_data_dir(value: str | None) -> None:
    """CliError when ``$DFDESK_DATA_DIR`` names a file, lies inside a file, or cannot be a folder name."""
    if not value:
        return
    if "\x00" in value:
        raise CliError(f"${DATA_DIR_ENV} is not a folder name")
    folder = Path(value).absolute()
    for part in (folder, *folder.parents):
        if part.exists():
            if not part.is_dir():
                raise CliError(f"${DATA_DIR_ENV} {value}: {part} is a file, not a folder")
            return

"""A model import (or registration) as one audited act, whichever front-end asks for it.

:func:`dfdesk.services.models.import_model` installs the weights and audits the install in the installation's
own log; this adds the open case database's side of it, so that the database an admin worked in shows what was
installed from it (``model.import``) or refused (``model.import_refused``), as ``dfdesk models import`` always
recorded it.  The grant comes from :func:`dfdesk.services.authorization.authorize_admin`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from dfdesk.detectors.cards import CardError, ModelCard
from dfdesk.detectors.weights import WeightsError
from dfdesk.services import audit
from dfdesk.services.installation import AdminGrant
from dfdesk.services.models import ModelStoreError, import_model, register_model
from dfdesk.store.database import Database

IMPORT_ERRORS = (ModelStoreError, WeightsError, CardError, OSError)


def import_audited(db: Database, actor: str, grant: AdminGrant | None, path: str | Path, architecture: str,
                   name: str, **card_fields: Any) -> ModelCard:
    """Install ``path`` as model ``name`` (see ``import_model`` for ``card_fields``) and audit it in ``db``.

    Raises what ``import_model`` raises (one of :data:`IMPORT_ERRORS`) after auditing the refusal.
    """
    try:
        card = import_model(path, architecture, name, grant=grant, **card_fields)
    except IMPORT_ERRORS as exc:
        with db.unit_of_work() as session:
            audit.record(session, actor, "model.import_refused", source=str(path), reason=str(exc))
        raise
    with db.unit_of_work() as session:
        audit.record(session, actor, "model.import", name=card.name, architecture=card.architecture,
                     weights_sha256=card.weights_sha256, source=str(path))
    return card


def register_audited(db: Database, actor: str, grant: AdminGrant | None, name: str) -> ModelCard:
    """Register a model folder already in the user models folder (``register_model``: the installation's log)
    and audit it in ``db`` (``model.register``).  Raises ModelStoreError, with nothing recorded, when it cannot."""
    card = register_model(name, grant=grant)
    with db.unit_of_work() as session:
        audit.record(session, actor, "model.register", name=card.name, architecture=card.architecture,
                     weights_sha256=card.weights_sha256)
    return card

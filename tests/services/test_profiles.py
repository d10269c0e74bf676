from __future__ import annotations

import pytest

from dfdesk.services import audit
from dfdesk.services.profiles import ProfileError, authenticate, check_password, create_profile, require_admin
from dfdesk.store.database import Database


def test_password_is_stored_salted_and_checked(db: Database) -> None:
    with db.unit_of_work() as session:
        first = create_profile(session, "alice", "admin", "correct horse", "setup")
        second = create_profile(session, "bob", "analyst", "correct horse", "setup")
        assert "correct horse" not in first.password_hash
        assert first.password_hash != second.password_hash  # different salts
        assert check_password("correct horse", first.password_hash)
        assert not check_password("wrong horse!", first.password_hash)


def test_roles_gate_admin_actions(db: Database) -> None:
    with db.unit_of_work() as session:
        create_profile(session, "alice", "admin", "s3cret-pass", "setup")
        create_profile(session, "bob", "analyst", "s3cret-pass", "setup")
    with db.unit_of_work() as session:
        require_admin(authenticate(session, "alice", "s3cret-pass"), "model import")
        with pytest.raises(ProfileError, match="requires an admin"):
            require_admin(authenticate(session, "bob", "s3cret-pass"), "model import")
    with pytest.raises(ProfileError, match="wrong password"), db.unit_of_work() as session:
        authenticate(session, "alice", "guess")
    with db.unit_of_work() as session:
        actions = [e.action for e in audit.events_for(session)]
    assert actions.count("profile.login") == 2


def test_bad_role_and_short_password_are_refused(db: Database) -> None:
    with db.unit_of_work() as session:
        with pytest.raises(ProfileError):
            create_profile(session, "carol", "superuser", "long enough", "setup")
        with pytest.raises(ProfileError):
            create_profile(session, "carol", "analyst", "short", "setup")

"""The installation's keys (kept outside the database, mode 0600) and the audit heads it records."""
from __future__ import annotations

import base64
import os
import sqlite3
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from dfdesk import paths
from dfdesk.services import audit, audit_heads, cases, signing
from dfdesk.store.database import Database

posix_only = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@posix_only
def test_keys_live_in_the_data_folder_readable_by_their_owner_only(db: Database) -> None:
    with db.unit_of_work() as session:
        cases.create_case(session, "Case A", "alice")  # the first event creates the audit key
    signing.report_key_and_certificate()
    folder = paths.user_data_dir() / signing.KEYS_DIR
    assert _mode(folder) == 0o700
    assert _mode(folder / signing.AUDIT_KEY_FILE) == 0o600 and _mode(folder / signing.REPORT_KEY_FILE) == 0o600
    raw = sqlite3.connect(db.path).execute("SELECT group_concat(signer || signature) FROM audit_events").fetchone()
    key_text = (folder / signing.AUDIT_KEY_FILE).read_text()
    assert "PRIVATE KEY" in key_text and key_text.splitlines()[1] not in raw[0]  # never copied into the database


@posix_only
def test_a_key_file_readable_by_others_is_tightened_and_keeps_the_same_key(caplog) -> None:
    first = signing.installation_fingerprint()
    key_file = paths.user_data_dir() / signing.KEYS_DIR / signing.AUDIT_KEY_FILE
    key_file.chmod(0o644)
    signing._audit_key.cache_clear()
    assert signing.installation_fingerprint() == first
    assert _mode(key_file) == 0o600 and "readable by others" in caplog.text


def test_signatures_check_only_with_a_known_key(tmp_path: Path) -> None:
    signer, signature = signing.sign(b"head 7")
    assert signing.check(b"head 7", signer, signature) is True
    assert signing.check(b"head 8", signer, signature) is False
    other = Ed25519PrivateKey.generate()
    foreign = signing.fingerprint(other.public_key())
    forged = base64.b64encode(other.sign(b"head 7")).decode()
    assert signing.check(b"head 7", foreign, forged) is None  # another installation's key: not known here
    trusted = paths.user_data_dir() / signing.KEYS_DIR / signing.TRUSTED_DIR
    trusted.mkdir()
    (trusted / "other.pem").write_bytes(other.public_key().public_bytes(Encoding.PEM,
                                                                         PublicFormat.SubjectPublicKeyInfo))
    assert signing.check(b"head 7", foreign, forged) is True


def test_the_report_certificate_is_self_signed_and_names_the_installation() -> None:
    certificate = x509.load_pem_x509_certificate(signing.report_key_and_certificate()[1].read_bytes())
    assert certificate.issuer == certificate.subject
    common_name = certificate.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)[0].value
    assert signing.installation_fingerprint()[:16] in common_name
    again = signing.report_key_and_certificate()[1].read_bytes()
    assert x509.load_pem_x509_certificate(again) == certificate  # made once, then reused


def test_every_event_is_signed_and_the_head_is_recorded_only_after_commit(db: Database) -> None:
    with db.unit_of_work() as session:
        cases.create_case(session, "Case A", "alice")
    with pytest.raises(RuntimeError), db.unit_of_work() as session:
        cases.create_case(session, "Case B", "alice")
        raise RuntimeError("rolled back")
    assert audit_heads.recorded_head(db.path)[0] == 1  # the rolled-back event never counted
    with db.unit_of_work() as session:
        head = audit.head(session)
        assert audit.verify(session) == []
    assert head.count == 1 and signing.check(audit.head_message(1, head.hash), head.signer, head.signature)
    assert audit_heads.recorded_head(db.path) == (1, head.hash)


def test_a_database_from_another_installation_shows_as_signed_by_an_unknown_key(db: Database, tmp_path: Path,
                                                                                monkeypatch) -> None:
    with db.unit_of_work() as session:
        cases.create_case(session, "Case A", "alice")
    monkeypatch.setenv(paths.DATA_DIR_ENV, str(tmp_path / "another-installation"))
    with db.unit_of_work() as session:
        problems = audit.verify(session)
    assert [p.event_id for p in problems] == [1] and "unknown key" in problems[0].problem

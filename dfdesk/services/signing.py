"""The installation's signing keys, kept in the per-user data folder and never in a case database.

* The **audit key** (Ed25519, ``keys/audit-ed25519.pem``) signs the audit chain's head at every event and the
  registration of every model an admin installs.  Ed25519: small deterministic signatures from a well-kept
  library (``cryptography``), no parameters to get wrong.
* The **report key** (ECDSA P-256, ``keys/report-p256.pem``) with a self-signed certificate
  (``keys/report-cert.pem``) signs PDF reports.  P-256 rather than Ed25519 because PDF readers widely validate
  ECDSA signatures and few validate Ed25519 ones yet.  The certificate names the installation (by its audit
  key's fingerprint); it proves which installation signed a report and that the file is unchanged since, not a
  person's legal identity.

Private key files are created with mode 0600 inside a 0700 folder; a key file that others may read is
tightened back to 0600 with a warning.  Public keys of other installations whose signatures this one should
accept (a case database shared between installations) go in ``keys/trusted/`` as PEM files.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
import os
import stat
import tempfile
from functools import lru_cache
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.x509.oid import NameOID

from dfdesk import paths

log = logging.getLogger(__name__)
KEYS_DIR = "keys"
TRUSTED_DIR = "trusted"
AUDIT_KEY_FILE = "audit-ed25519.pem"
REPORT_KEY_FILE = "report-p256.pem"
REPORT_CERT_FILE = "report-cert.pem"
PRIVATE_MODE = 0o600
CERT_YEARS = 30


class SigningError(RuntimeError):
    """A key file exists but cannot be read as a key of the expected kind."""


def keys_dir() -> Path:
    path = paths.user_data_dir() / KEYS_DIR
    path.mkdir(mode=0o700, exist_ok=True)
    return path


# --- the audit key --------------------------------------------------------------------------------

def audit_key() -> Ed25519PrivateKey:
    """This installation's Ed25519 key, created on first use."""
    return _audit_key(str(keys_dir() / AUDIT_KEY_FILE))


@lru_cache(maxsize=8)
def _audit_key(path: str) -> Ed25519PrivateKey:
    key = _load_or_create(Path(path), Ed25519PrivateKey.generate)
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningError(f"{path} is not an Ed25519 private key")
    return key


def fingerprint(public_key: Ed25519PublicKey) -> str:
    """Hex SHA-256 of the raw public key: how records name the key that signed them."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def installation_fingerprint() -> str:
    return fingerprint(audit_key().public_key())


def sign(message: bytes) -> tuple[str, str]:
    """(the signer's fingerprint, the base64 Ed25519 signature of ``message``)."""
    key = audit_key()
    return fingerprint(key.public_key()), base64.b64encode(key.sign(message)).decode("ascii")


def check(message: bytes, signer: str, signature: str) -> bool | None:
    """True or False for a signature by a known key; None when ``signer`` is no key this installation knows."""
    public_key = known_public_keys().get(signer)
    if public_key is None:
        return None
    try:
        public_key.verify(base64.b64decode(signature, validate=True), message)
    except (InvalidSignature, ValueError):
        return False
    return True


def known_public_keys() -> dict[str, Ed25519PublicKey]:
    """This installation's public key and those of the installations it trusts, by fingerprint."""
    keys = [audit_key().public_key()]
    trusted = keys_dir() / TRUSTED_DIR
    for file in sorted(trusted.glob("*.pem")) if trusted.is_dir() else []:
        try:
            key = serialization.load_pem_public_key(file.read_bytes())
        except ValueError:
            log.warning("trusted key %s is not a PEM public key; ignored", file)
            continue
        if isinstance(key, Ed25519PublicKey):
            keys.append(key)
    return {fingerprint(key): key for key in keys}


def public_key_pem() -> str:
    """This installation's audit public key, to hand to another installation's keys/trusted/ folder."""
    return audit_key().public_key().public_bytes(serialization.Encoding.PEM,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


# --- the report key and certificate ---------------------------------------------------------------

def report_key_and_certificate() -> tuple[Path, Path]:
    """Paths of the PEM report key and its self-signed certificate, both created on first use."""
    folder = keys_dir()
    key_path, cert_path = folder / REPORT_KEY_FILE, folder / REPORT_CERT_FILE
    key = _load_or_create(key_path, lambda: ec.generate_private_key(ec.SECP256R1()))
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise SigningError(f"{key_path} is not an ECDSA private key")
    if not cert_path.is_file() or not _certifies(cert_path, key):
        _write_atomically(cert_path, _self_signed(key).public_bytes(serialization.Encoding.PEM), 0o644)
    return key_path, cert_path


def report_certificate() -> x509.Certificate:
    return x509.load_pem_x509_certificate(report_key_and_certificate()[1].read_bytes())


def certificate_fingerprint(certificate: x509.Certificate) -> str:
    return certificate.fingerprint(hashes.SHA256()).hex()


def _certifies(cert_path: Path, key: ec.EllipticCurvePrivateKey) -> bool:
    try:
        certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except ValueError:
        return False
    return certificate.public_key().public_numbers() == key.public_key().public_numbers()


def _self_signed(key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, f"dfdesk installation {installation_fingerprint()[:16]}"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dfdesk (self-signed, per installation)"),
    ])
    now = dt.datetime.now(dt.UTC)
    usage = x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=False,
                          encipher_only=False, decipher_only=False)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365 * CERT_YEARS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(usage, critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))


# --- key files ------------------------------------------------------------------------------------

def _load_or_create(path: Path, generate):
    if not path.exists():
        pem = generate().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption())
        _write_atomically(path, pem, PRIVATE_MODE, exclusive=True)
    _tighten(path)
    try:
        return serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise SigningError(f"{path} is not a readable private key ({exc})") from None


def _tighten(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if os.name == "posix" and mode & 0o077:
        log.warning("key file %s was readable by others (mode %o); set to 0600", path, mode)
        path.chmod(PRIVATE_MODE)


def _write_atomically(path: Path, data: bytes, mode: int, exclusive: bool = False) -> None:
    """Write ``data`` under a temporary name and move it into place; with ``exclusive`` an existing file wins
    (two processes creating the key at once end up using the same one)."""
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.chmod(name, mode)
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        if exclusive:
            try:
                os.link(name, path)
            except FileExistsError:
                pass
        else:
            os.replace(name, path)
    finally:
        Path(name).unlink(missing_ok=True)

"""Keys kept in the data directory: the Ed25519 checkpoint signing key and the redaction HMAC key.

Both are created on first use with mode 0600. The signing key's public half is shared as a C2SP
signed-note verifier key: ``<name>+<hex key id>+<base64(0x01 || public key)>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from andon.errors import ConfigError

SIGNING_KEY_FILE = "ledger.key"
REDACTION_KEY_FILE = "redaction.key"
ED25519 = b"\x01"  # the signed-note signature type of Ed25519


def b64decode_strict(text: str | bytes) -> bytes:
    """Standard base64 in its one canonical spelling; raises binascii.Error otherwise.

    Plain decoding accepts several spellings of the same bytes (unused trailing bits), which would
    let a signed file change without its signature noticing.
    """
    try:
        spelled = text.encode("ascii") if isinstance(text, str) else bytes(text)
        raw = binascii.a2b_base64(spelled, strict_mode=True)
    except ValueError as exc:  # binascii.Error, or non-ASCII text
        raise binascii.Error(str(exc)) from None
    # strict_mode still accepts stray bits in the last character; re-encoding catches those.
    if binascii.b2a_base64(raw, newline=False) != spelled:
        raise binascii.Error("non-canonical base64")
    return raw


def key_id(name: str, public_key: bytes) -> bytes:
    """First 4 bytes of SHA-256(name || 0x0A || 0x01 || public key), as the signed-note spec says."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + ED25519 + public_key).digest()[:4]


def default_name(public_key: bytes) -> str:
    """The log's name (checkpoint origin and key name), derived from its key so it needs no config."""
    return "andon.ledger/" + hashlib.sha256(public_key).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Verifier:
    """A public key that checks checkpoint and bundle signatures."""

    name: str
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public_key)

    def verify(self, signature: bytes, message: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True

    def vkey(self) -> str:
        """The signed-note verifier key text."""
        encoded = base64.b64encode(ED25519 + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    def raw(self) -> str:
        """The 32-byte public key in base64."""
        return base64.b64encode(self.public_key).decode("ascii")

    @classmethod
    def parse(cls, text: str) -> Verifier:
        """Read a verifier key (``name+keyid+base64``); raises ConfigError saying what is wrong."""
        parts = text.strip().split("+", 2)  # base64 may itself contain "+"
        if len(parts) != 3:
            raise ConfigError(
                f"verifier key {text.strip()!r} is not of the form <name>+<hex key id>+<base64 key>"
            )
        name, hex_id, encoded = parts
        try:
            blob = b64decode_strict(encoded)
            expected_id = bytes.fromhex(hex_id)
        except ValueError as exc:
            raise ConfigError(f"verifier key {text.strip()!r} is not valid hex/base64: {exc}") from None
        if len(blob) != 33 or blob[:1] != ED25519:
            raise ConfigError(f"verifier key {text.strip()!r} is not an Ed25519 key (type 0x01, 32 bytes)")
        verifier = cls(name=name, public_key=blob[1:])
        if verifier.key_id != expected_id:
            raise ConfigError(f"verifier key {text.strip()!r}: key id {hex_id} does not match the key")
        return verifier


@dataclass(frozen=True, slots=True)
class Signer:
    """The ledger's private signing key and the name it signs as."""

    name: str
    private_key: Ed25519PrivateKey

    @property
    def verifier(self) -> Verifier:
        return Verifier(name=self.name, public_key=_raw_public(self.private_key))

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)

    @classmethod
    def generate(cls) -> Signer:
        private = Ed25519PrivateKey.generate()
        return cls._named(private)

    @classmethod
    def _named(cls, private: Ed25519PrivateKey) -> Signer:
        return cls(name=default_name(_raw_public(private)), private_key=private)

    def pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


def _raw_public(private: Ed25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def write_secret(path: Path, content: bytes) -> bool:
    """Create ``path`` with mode 0600 holding ``content``; False if another process made it first.

    The file is written under a temporary name and hard-linked into place, so no reader ever sees
    it half-written and two processes racing to create it agree on one key.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temp, path)
    except FileExistsError:
        return False
    finally:
        temp.unlink(missing_ok=True)
    return True


def load_signer(path: Path) -> Signer:
    """Read a PEM Ed25519 private key."""
    try:
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the ledger signing key {path}: {exc}") from None
    if not isinstance(private, Ed25519PrivateKey):
        raise ConfigError(f"{path} is not an Ed25519 private key")
    return Signer._named(private)


def signing_key(directory: Path | None = None) -> Signer:
    """The ledger signing key in ``directory`` (default the data dir), created on first use."""
    path = _directory(directory) / SIGNING_KEY_FILE
    if not path.exists():
        write_secret(path, Signer.generate().pem())  # losing the race is fine: read the winner's key
    return load_signer(path)


def redaction_key(directory: Path | None = None) -> bytes:
    """The HMAC key that makes masked values correlatable, created on first use."""
    path = _directory(directory) / REDACTION_KEY_FILE
    if not path.exists():
        write_secret(path, secrets.token_bytes(32))
    try:
        key = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the redaction key {path}: {exc}") from None
    if len(key) < 16:
        raise ConfigError(f"the redaction key {path} is shorter than 16 bytes; restore it from backup")
    return key


def _directory(directory: Path | None) -> Path:
    if directory is not None:
        return directory
    from andon.store import data_dir

    return data_dir()

"""Password hashing (argon2) and random secrets stored as hashes (API tokens, session keys)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# A hash of a random password, verified against when the user does not exist, so that a
# login for an unknown name costs as long as one with a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    """Return the argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Return whether ``password`` matches; constant work whether or not a hash exists."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Return whether the hash was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(password_hash)


def new_secret(nbytes: int = 32) -> str:
    """Return a URL-safe random secret."""
    return secrets.token_urlsafe(nbytes)


def digest(secret: str) -> str:
    """Return the SHA-256 hex digest of a high-entropy secret (tokens, session keys)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    """Compare two strings in constant time."""
    return hmac.compare_digest(a.encode(), b.encode())


#: PBKDF2 rounds for device secrets. The secrets are 256-bit random, so the hash need not be slow;
#: the format is Mosquitto's ``$7$`` so an external broker can check the same credentials.
DEVICE_HASH_ROUNDS = 1000


def hash_device_secret(secret: str) -> str:
    """Return a Mosquitto-compatible ``$7$`` PBKDF2-SHA512 hash of a device secret."""
    salt = secrets.token_bytes(12)
    derived = hashlib.pbkdf2_hmac("sha512", secret.encode(), salt, DEVICE_HASH_ROUNDS)
    return f"$7${DEVICE_HASH_ROUNDS}${base64.b64encode(salt).decode()}${base64.b64encode(derived).decode()}"


def verify_device_secret(secret_hash: str | None, secret: str) -> bool:
    """Return whether ``secret`` matches a ``$7$`` hash; False for a missing or malformed hash."""
    if not secret_hash:
        return False
    parts = secret_hash.split("$")
    if len(parts) != 5 or parts[1] != "7":  # "$7$<rounds>$<salt>$<hash>"
        return False
    try:
        rounds = int(parts[2])
        salt = base64.b64decode(parts[3], validate=True)
        expected = base64.b64decode(parts[4], validate=True)
    except (ValueError, binascii.Error):
        return False
    derived = hashlib.pbkdf2_hmac("sha512", secret.encode(), salt, rounds)
    return hmac.compare_digest(derived, expected)

"""Encryption at rest for secrets and sensitive text (MultiFernet).

Keys come from ENCRYPTION_KEYS (comma-separated; the first encrypts, all
decrypt), kept apart from the database, so a copy of the database alone
reveals nothing. Any long random string is a key: each is stretched to a
Fernet key with HKDF. To rotate, put a new key first, run
`tidsnok rotate-keys`, then remove the old key (docs/security.md).
"""

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


def _fernet_key(secret: str) -> bytes:
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"tidsnok-encryption").derive(secret.encode())
    return base64.urlsafe_b64encode(raw)


@lru_cache(maxsize=4)
def _multi(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(_fernet_key(k)) for k in keys])


def keys() -> tuple[str, ...]:
    return tuple(k.strip() for k in settings.ENCRYPTION_KEYS.split(",") if k.strip())


def encrypt(text: str) -> str:
    return _multi(keys()).encrypt(text.encode()).decode()


def decrypt(token: str) -> str:
    return _multi(keys()).decrypt(token.encode()).decode()


def encrypt_bytes(data: bytes) -> bytes:
    return _multi(keys()).encrypt(data)


def decrypt_bytes(token: bytes) -> bytes:
    return _multi(keys()).decrypt(token)


def rotate(token: str) -> str:
    """Re-encrypt a token under the first (newest) key."""
    return _multi(keys()).rotate(token.encode()).decode()

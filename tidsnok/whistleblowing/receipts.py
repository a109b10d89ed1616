"""Anonymous receipts: how an anonymous reporter comes back without being known.

A receipt is 24 characters of Crockford base32 (5 bits each, 120 bits in all),
shown once in six groups of four (ABCD-EFGH-...). The first 8 characters are a
public locator that finds the report (40 bits); the other 16 are the secret
(80 bits). tidsnok stores the locator and an Argon2 hash of the secret, never
the receipt itself: the database alone cannot open a report's conversation.

Checking a receipt costs one Argon2 verification whether the locator exists or
not (an unknown locator is checked against a dummy hash), and every refusal
says the same thing, so neither the time nor the answer tells whether a receipt
exists. Failed attempts are limited per locator and by a global budget per
minute, counted in the shared cache: nothing about who tried (no IP address) is
kept, only a keyed digest of the locator tried.
"""

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from django.conf import settings
from django.core.cache import cache

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
LOCATOR_LENGTH = 8
SECRET_LENGTH = 16
LENGTH = LOCATOR_LENGTH + SECRET_LENGTH
GROUP = 4
# Letters people mistype for digits, and separators they add.
_READ_AS = str.maketrans({"I": "1", "L": "1", "O": "0", "U": "V"})
_SEPARATORS = str.maketrans("", "", " -_.\t\n\r")

# Failed attempts allowed per locator in its window, and in all per minute.
LOCATOR_FAILURES = 5
LOCATOR_WINDOW = 15 * 60
GLOBAL_FAILURES_PER_MINUTE = 30


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    # argon2-cffi's defaults (RFC 9106 low-memory profile): slow enough that a
    # stolen database does not give the secrets away. The test settings make
    # it cheap (TIDSNOK_RECEIPT_ARGON2), as they do for passwords.
    return PasswordHasher(**getattr(settings, "TIDSNOK_RECEIPT_ARGON2", {}))


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher().hash(secrets.token_hex(16))


@dataclass(frozen=True)
class NewReceipt:
    locator: str
    secret: str
    hash: str

    @property
    def code(self) -> str:
        return self.locator + self.secret

    @property
    def grouped(self) -> str:
        return group(self.code)


def _random(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def new_receipt(locator_taken=lambda locator: False) -> NewReceipt:
    """A fresh receipt; `locator_taken` is asked so that locators never repeat."""
    locator = _random(LOCATOR_LENGTH)
    while locator_taken(locator):
        locator = _random(LOCATOR_LENGTH)
    secret = _random(SECRET_LENGTH)
    return NewReceipt(locator=locator, secret=secret, hash=_hasher().hash(secret))


def group(code: str) -> str:
    return "-".join(code[i : i + GROUP] for i in range(0, len(code), GROUP))


def normalise(text: str | None) -> str | None:
    """The 24 characters of a receipt as typed (any case, with or without
    dashes or spaces, O for 0, I or L for 1), or None if it cannot be one."""
    if not text or len(text) > 80:
        return None
    code = text.upper().translate(_SEPARATORS).translate(_READ_AS)
    if len(code) != LENGTH or any(c not in ALPHABET for c in code):
        return None
    return code


def split(code: str) -> tuple[str, str]:
    return code[:LOCATOR_LENGTH], code[LOCATOR_LENGTH:]


def verify(secret: str, stored_hash: str | None) -> bool:
    """One Argon2 verification, against the dummy hash when there is no report."""
    try:
        return _hasher().verify(stored_hash or _dummy_hash(), secret) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def check_work() -> None:
    """The cost of a verification, for answers that refuse before looking (bad format)."""
    verify(_random(SECRET_LENGTH), None)


# --- limiting failed attempts ---------------------------------------------------------------------


def _digest(locator: str) -> str:
    # A keyed digest: the cache table does not list which locators were tried.
    return hmac.new(settings.SECRET_KEY.encode(), locator.encode(), hashlib.sha256).hexdigest()[:32]


def _locator_key(locator: str) -> str:
    return f"wb:receipt:fail:{_digest(locator)}"


def _global_key(minute: int) -> str:
    return f"wb:receipt:global:{minute}"


def _minute() -> int:
    return int(time.time() // 60)


def limited(locator: str) -> bool:
    """True if attempts for this locator, or attempts in all, are used up for now."""
    if cache.get(_locator_key(locator), 0) >= LOCATOR_FAILURES:
        return True
    return cache.get(_global_key(_minute()), 0) >= GLOBAL_FAILURES_PER_MINUTE


# Reports accepted through the channel per minute, in all: a flood is refused
# without knowing (or storing) who sends it.
SUBMISSIONS_PER_MINUTE = 30


def submission_allowed() -> bool:
    """Count one submission against this minute's budget; False once it is spent."""
    key = f"wb:submit:{_minute()}"
    _increment(key, 120)
    return cache.get(key, 0) <= SUBMISSIONS_PER_MINUTE


def note_failure(locator: str) -> None:
    _increment(_locator_key(locator), LOCATOR_WINDOW)
    _increment(_global_key(_minute()), 120)


def _increment(key: str, timeout: int) -> None:
    if cache.add(key, 1, timeout):
        return
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout)

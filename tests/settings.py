"""Test settings: the real settings with fixed test keys and fast hashing."""

import atexit
import os
import shutil
import tempfile

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-0123456789")
os.environ.setdefault("AUDIT_KEY", "test-audit-key-not-for-production-0123456789")
os.environ.setdefault("ENCRYPTION_KEYS", "test-encryption-key-not-for-production-0123456789")
if "TIDSNOK_DATA_DIR" not in os.environ:
    # Shared with the processes this one starts (they inherit the variable); removed by the one that made it.
    os.environ["TIDSNOK_DATA_DIR"] = tempfile.mkdtemp(prefix="tidsnok-test-")
    atexit.register(shutil.rmtree, os.environ["TIDSNOK_DATA_DIR"], ignore_errors=True)

from tidsnok.settings import *  # noqa: E402,F403

# Argon2 is deliberately slow; tests log in hundreds of times.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The same for the Argon2 hash of anonymous whistleblowing receipts.
TIDSNOK_RECEIPT_ARGON2 = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}
# E-mail: the test runner swaps every MAILERS entry for the in-memory backend.
ACCOUNT_RATE_LIMITS = dict(ACCOUNT_RATE_LIMITS)  # noqa: F405

# A file, not memory: some tests start other processes (sweep workers, a second
# writer to the audit chain) that must see the same database.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}  # noqa: F405

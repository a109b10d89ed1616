"""Settings for tidsnok, read from environment variables.

Every setting an operator may change is documented in docs/settings.md.
"""

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {value!r}") from exc


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DATA_DIR = Path(env_str("TIDSNOK_DATA_DIR", str(BASE_DIR / "var")))


def env_secret(name: str) -> str:
    """A secret from NAME, from the file named by NAME_FILE, or (development only) a local file.

    Development secrets are generated once into DATA_DIR and kept there, so a
    restart keeps sessions and the audit chain verifiable, and git never sees them.
    """
    if os.environ.get(name):
        return os.environ[name]
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text().strip()
    if env_bool("TIDSNOK_DEV_SECRETS"):
        local = DATA_DIR / "secrets" / name.lower()
        if not local.exists():
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_text(secrets.token_urlsafe(48))
            local.chmod(0o600)
        return local.read_text().strip()
    raise ImproperlyConfigured(f"Set {name} or {name}_FILE (see docs/settings.md)")


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_secret("SECRET_KEY")
# Earlier keys, still accepted for sessions and signed links while SECRET_KEY is rotated.
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS")
# The audit chain is keyed separately so that leaking SECRET_KEY does not let
# anyone rewrite history undetected, and rotating SECRET_KEY keeps the chain valid.
AUDIT_KEY = env_secret("AUDIT_KEY")
# Earlier audit keys, newest first: the chain's events before `tidsnok audit rotate-key` were
# hashed with them, and verifying those needs them (docs/deployment.md, "Keys").
AUDIT_KEY_FALLBACKS = env_list("AUDIT_KEY_FALLBACKS")
# Keys for encryption at rest (TOTP secrets, whistleblowing content), kept apart
# from the database. Comma-separated; the first encrypts, all decrypt.
ENCRYPTION_KEYS = env_secret("ENCRYPTION_KEYS")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    # Rooms, lowest first (see docs/architecture.md).
    "tidsnok.audit",
    "tidsnok.org",
    "tidsnok.access",
    "tidsnok.deadlines",
    "tidsnok.cases",
    "tidsnok.notify",
    "tidsnok.absence",
    "tidsnok.whistleblowing",
    "tidsnok.risk",
    "tidsnok.reports",
    "tidsnok.retention",
    "tidsnok.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "tidsnok.web.middleware.RequestLogMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "tidsnok.web.middleware.NorwegianAcceptLanguageMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "tidsnok.web.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "tidsnok.access.middleware.RequireSecondFactorMiddleware",
]

ROOT_URLCONF = "tidsnok.urls"
WSGI_APPLICATION = "tidsnok.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # web's templates first, so they override the defaults of allauth.
        "DIRS": [BASE_DIR / "tidsnok" / "web" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "tidsnok.web.context_processors.navigation",
                "tidsnok.notify.context_processors.notifications",
            ],
        },
    },
]

# Database: SQLite in WAL mode with IMMEDIATE transactions by default, so that
# concurrent writers queue instead of failing with "database is locked".
DATA_DIR.mkdir(parents=True, exist_ok=True)
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'tidsnok.sqlite3'}")
# A worker keeps its connection between requests: on PostgreSQL a new one costs a TCP
# handshake, SCRAM authentication and a fresh server process with cold caches, about a
# quarter of the throughput under load (docs/performance.md, finding 20). The health check
# replaces a connection the server dropped (a restart, a failover) instead of failing a request.
_db = dj_database_url.parse(
    DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60), conn_health_checks=True
)
if _db["ENGINE"] == "django.db.backends.sqlite3":
    _db["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": env_int("SQLITE_BUSY_TIMEOUT", 20),
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
    }
    _db["TEST"] = {"NAME": env_str("SQLITE_TEST_NAME", "") or None}
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Shared across app servers: login rate limits and allauth's counters must not
# live in one process.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "tidsnok_cache",
        # Django's default of 300 entries, once passed, deletes a third of the entries in key
        # order on the next write: the statistics, then the calendar feeds, then the reporting
        # channel's rate limits. A 50,000-employee organisation has thousands of feeds.
        "OPTIONS": {"MAX_ENTRIES": env_int("CACHE_MAX_ENTRIES", 100_000)},
    }
}

AUTH_USER_MODEL = "org.User"
AUTHENTICATION_BACKENDS = [
    "allauth.account.auth_backends.AuthenticationBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_ADAPTER = "tidsnok.access.adapters.AccountAdapter"
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_RATE_LIMITS = {
    # Wrong passwords: 5 per 5 minutes per account, 20 per minute per address.
    "login_failed": "20/m/ip,5/5m/key",
    "login": "30/m/ip",
    "reset_password": "5/m/ip,3/m/key",
}
MFA_ADAPTER = "tidsnok.access.adapters.MFAAdapter"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_TOTP_ISSUER = "tidsnok"
MFA_PASSKEY_LOGIN_ENABLED = False
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = DEBUG

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600)
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG and SITE_URL.startswith("https"))
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
CSRF_COOKIE_HTTPONLY = False
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
if env_bool("BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Everything is served by tidsnok itself: no CDN, no inline script.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

LANGUAGE_CODE = "nb"
LANGUAGES = [("nb", _("Norwegian bokmål")), ("en", _("English"))]
LANGUAGE_COOKIE_NAME = "tidsnok_language"
LANGUAGE_COOKIE_SAMESITE = "Lax"
LOCALE_PATHS = [BASE_DIR / "tidsnok" / "locale"]
TIME_ZONE = "Europe/Oslo"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(DATA_DIR / "media")))

# E-mail through Django 6.1's MAILERS, from EMAIL_URL or EMAIL_HOST & co. (docs/notify.md).
from tidsnok.notify.mailconfig import mailer_from_env  # noqa: E402

MAILERS = {"default": mailer_from_env(os.environ, DATA_DIR)}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "tidsnok <tidsnok@localhost>")
# Reminders and the sweep (docs/notify.md).
TIDSNOK_SWEEP_INTERVAL = env_int("TIDSNOK_SWEEP_INTERVAL", 60)
TIDSNOK_DIGEST_HOUR = env_int("TIDSNOK_DIGEST_HOUR", 7)
TIDSNOK_MAIL_MAX_ATTEMPTS = env_int("TIDSNOK_MAIL_MAX_ATTEMPTS", 8)
TIDSNOK_MAIL_RETRY_SECONDS = env_int("TIDSNOK_MAIL_RETRY_SECONDS", 60)
TIDSNOK_CLAIM_TIMEOUT = env_int("TIDSNOK_CLAIM_TIMEOUT", 600)
TIDSNOK_MAIL_KEEP_DAYS = env_int("TIDSNOK_MAIL_KEEP_DAYS", 30)

# One line per event on standard output. Records carry user ids, never names
# or case content (see tidsnok.web.middleware.RequestLogMiddleware).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"line": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "line", "stream": "ext://sys.stdout"}},
    "root": {"handlers": ["stdout"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's own request logger prints paths of failed requests; ours
        # already logs every request without personal data.
        "django.request": {"handlers": ["stdout"], "level": "ERROR", "propagate": False},
        "django.server": {"handlers": [], "level": "ERROR", "propagate": False},
    },
}

# How far back a "first knew" date may lie before a reason is required.
TIDSNOK_KNOWN_AT_REASON_DAYS = env_int("TIDSNOK_KNOWN_AT_REASON_DAYS", 30)
API_PAGE_SIZE = env_int("API_PAGE_SIZE", 50)

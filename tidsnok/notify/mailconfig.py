"""E-mail configuration from the environment, as a Django 6.1 MAILERS entry.

Pure: imported by settings.py, so it must not touch Django's settings or models.

EMAIL_URL wins when set:
    smtp://user:password@host:port      plain SMTP (add ?tls=1 for STARTTLS)
    smtp+tls://user:password@host:587   STARTTLS
    smtps://user:password@host:465      implicit TLS
    file:///absolute/folder             one file per connection in the folder (development)
    console:  locmem:  dummy:           Django's console, in-memory and no-op backends
User and password are URL-encoded (%40 for @). ?timeout=SECONDS sets the SMTP timeout (default 10).

Otherwise EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD (or
EMAIL_HOST_PASSWORD_FILE), EMAIL_USE_TLS, EMAIL_USE_SSL, EMAIL_TIMEOUT; with none
of them, SMTP on localhost:25. (EMAIL_BACKEND and EMAIL_FILE_PATH in the environment
are still understood, for older scripts.)
"""

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

SMTP = "django.core.mail.backends.smtp.EmailBackend"
FILE = "django.core.mail.backends.filebased.EmailBackend"
SIMPLE = {
    "console": "django.core.mail.backends.console.EmailBackend",
    "locmem": "django.core.mail.backends.locmem.EmailBackend",
    "dummy": "django.core.mail.backends.dummy.EmailBackend",
}
DEFAULT_TIMEOUT = 10


class EmailConfigError(ValueError):
    pass


def _true(value) -> bool:
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def _secret(env, name: str) -> str | None:
    if env.get(name):
        return env[name]
    path = env.get(f"{name}_FILE")
    if path:
        return Path(path).read_text().strip()
    return None


def parse_email_url(url: str, data_dir: Path | str = ".") -> dict:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in SIMPLE:
        return {"BACKEND": SIMPLE[scheme]}
    if scheme == "file":
        # file:///abs/path, or file://relative/path (the "host" is then the first folder)
        path = unquote(parts.netloc + parts.path)
        if not path:
            raise EmailConfigError("EMAIL_URL file: needs a folder, e.g. file:///srv/tidsnok/mail")
        folder = Path(path)
        if not folder.is_absolute():
            folder = Path(data_dir) / folder
        return {"BACKEND": FILE, "OPTIONS": {"file_path": str(folder)}}
    if scheme not in {"smtp", "smtp+tls", "submission", "smtps", "smtp+ssl"}:
        raise EmailConfigError(f"EMAIL_URL: unknown scheme {parts.scheme!r}")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    use_ssl = scheme in {"smtps", "smtp+ssl"} or _true(query.get("ssl", ""))
    use_tls = scheme in {"smtp+tls", "submission"} or _true(query.get("tls", ""))
    if use_ssl and use_tls:
        raise EmailConfigError("EMAIL_URL: choose TLS (STARTTLS) or SSL, not both")
    if not parts.hostname:
        raise EmailConfigError("EMAIL_URL: no host")
    try:
        port = parts.port
    except ValueError as exc:
        raise EmailConfigError("EMAIL_URL: bad port") from exc
    options = {
        "host": parts.hostname,
        "port": port or (465 if use_ssl else 587 if use_tls else 25),
        "use_tls": use_tls,
        "use_ssl": use_ssl,
        "timeout": int(query.get("timeout", DEFAULT_TIMEOUT)),
    }
    if parts.username:
        options["username"] = unquote(parts.username)
        options["password"] = unquote(parts.password or "")
    return {"BACKEND": SMTP, "OPTIONS": options}


def mailer_from_env(env, data_dir: Path | str = ".") -> dict:
    """The MAILERS["default"] entry for this environment."""
    url = _secret(env, "EMAIL_URL")
    if url:
        return parse_email_url(url, data_dir)
    backend = env.get("EMAIL_BACKEND", "")
    if backend and backend != SMTP:
        if backend == FILE:
            return {"BACKEND": FILE, "OPTIONS": {"file_path": env.get("EMAIL_FILE_PATH") or str(Path(data_dir) / "mail")}}
        return {"BACKEND": backend}
    use_ssl, use_tls = _true(env.get("EMAIL_USE_SSL", "")), _true(env.get("EMAIL_USE_TLS", ""))
    if use_ssl and use_tls:
        raise EmailConfigError("EMAIL_USE_TLS and EMAIL_USE_SSL exclude each other")
    options = {
        "host": env.get("EMAIL_HOST") or "localhost",
        "port": int(env.get("EMAIL_PORT") or (465 if use_ssl else 587 if use_tls else 25)),
        "use_tls": use_tls,
        "use_ssl": use_ssl,
        "timeout": int(env.get("EMAIL_TIMEOUT") or DEFAULT_TIMEOUT),
    }
    user = env.get("EMAIL_HOST_USER")
    if user:
        options["username"] = user
        options["password"] = _secret(env, "EMAIL_HOST_PASSWORD") or ""
    return {"BACKEND": SMTP, "OPTIONS": options}

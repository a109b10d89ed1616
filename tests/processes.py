"""Helpers for tests that start tidsnok in a child process (sweep workers, app servers)."""

from urllib.parse import quote

from django.db import connection


def database_url() -> str:
    """The URL of the database this test runs on, for DATABASE_URL in a child process."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    user = quote(settings.get("USER") or "", safe="")
    password = quote(settings.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings.get("HOST") or "localhost"
    if host.startswith("/"):  # the directory of a Unix socket, as dj-database-url reads it
        host = quote(host, safe="")
    port = f":{settings['PORT']}" if settings.get("PORT") else ""
    return f"postgres://{credentials}{host}{port}/{settings['NAME']}"

"""API authentication: a personal bearer token, or the browser session."""

from django.utils import timezone
from ninja.security import HttpBearer, SessionAuth

from tidsnok.org import scope
from tidsnok.access.models import ApiToken, hash_token


class BearerToken(HttpBearer):
    def authenticate(self, request, token):
        row = ApiToken.objects.live().select_related("user").filter(digest=hash_token(token)).first()
        if row is None:
            return None
        # Touch at most once a minute: a write on every request would serialise
        # all API traffic on SQLite.
        now = timezone.now()
        if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
        request.user = row.user
        return row.user


class Session(SessionAuth):
    """The browser session, with the same second-factor rule as the HTML pages."""

    def authenticate(self, request, key):
        user = super().authenticate(request, key)
        if user is None:
            return None
        if scope.needs_second_factor(user):
            from tidsnok.access.middleware import _has_second_factor

            if not _has_second_factor(user):
                return None
        return user

"""API authentication: a personal bearer token, or the browser session.

The second-factor rule differs on purpose:
- a bearer token is issued by the operator (`tidsnok token create`) to one
  person for one integration, stored only as a hash and revocable; it works
  for HR and administrators without a second factor, because no password is
  involved that a second factor would back up;
- a browser session of an HR adviser or administrator without a second factor
  is refused with 403, the same rule the HTML pages enforce by redirecting to
  the enrolment page (the API answers in JSON instead of redirecting).
"""

from django.utils import timezone
from django.utils.translation import gettext as _
from ninja.errors import HttpError
from ninja.security import HttpBearer, SessionAuth

from tidsnok.access.middleware import has_second_factor
from tidsnok.access.models import ApiToken, hash_token
from tidsnok.org import scope


class BearerToken(HttpBearer):
    def authenticate(self, request, token):
        if not token:
            return None
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
        if scope.needs_second_factor(user) and not has_second_factor(user):
            raise HttpError(403, _("Set up a second factor before you use the API from the browser."))
        return user

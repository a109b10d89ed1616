from django.shortcuts import redirect
from django.urls import reverse

from tidsnok.org import scope

# Paths a user without a second factor may still reach: enrolling one,
# logging out, changing language, static files and health checks. The API is
# open here because it applies the same rule itself (access.api_auth.Session)
# and must answer in JSON, not with a redirect to an HTML page.
_OPEN_PREFIXES = ("/accounts/", "/i18n/", "/static/", "/healthz", "/varsling", "/api/")


class RequireSecondFactorMiddleware:
    """HR advisers and administrators must enrol a second factor before
    reaching anything else. allauth then asks for it at every login."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not request.path.startswith(_OPEN_PREFIXES)
            and scope.needs_second_factor(user)
            and not has_second_factor(user)
        ):
            return redirect(reverse("mfa_activate_totp") + "?required=1")
        return self.get_response(request)


def has_second_factor(user) -> bool:
    """A TOTP app or a security key; recovery codes alone do not count, since
    they exist only as a fallback for one of those."""
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(
        user=user, type__in=[Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN]
    ).exists()

"""State changes in access: personal API tokens.

Each function checks the actor, changes state and writes its audit event in
one transaction, so a token exists (or stops working) exactly when the log
says so. `actor=None` is the operator at the command line (`tidsnok token`).
"""

from django.db import transaction
from django.utils import timezone

from tidsnok.access.models import ApiToken, hash_token
from tidsnok.access.policy import AccessDenied
from tidsnok.audit.services import record
from tidsnok.org import scope

# Enough of the token to recognise it in a list and to revoke it by, without
# revealing anything that helps to guess the rest (9 of 43 random characters).
PREFIX_LENGTH = 12


def _require_token_owner_or_admin(actor, user) -> None:
    """The operator, the user herself, or an administrator of her organisation."""
    if actor is None:
        return
    if actor.pk == user.pk:
        return
    own_org = scope.organisation_id_of(actor)
    if scope.is_admin(actor) and own_org is not None and own_org == scope.organisation_id_of(user):
        return
    raise AccessDenied("token")


@transaction.atomic
def create_token(actor, user, name: str = "") -> tuple[ApiToken, str]:
    """Issue a token for `user`. Returns the row and the raw token, which is
    shown once and never stored: only its SHA-256 digest is kept."""
    _require_token_owner_or_admin(actor, user)
    if not user.is_active:
        raise ValueError(f"{user.email} is not an active user")
    raw = ApiToken.new_raw()
    token = ApiToken.objects.create(user=user, name=name, prefix=raw[:PREFIX_LENGTH], digest=hash_token(raw))
    record(actor, "api_token.created", token, {"user": user.pk, "prefix": token.prefix})
    return token, raw


@transaction.atomic
def revoke_token(actor, token: ApiToken) -> bool:
    """Stop a token from working. Returns False if it was already revoked
    (nothing changes and nothing is logged a second time)."""
    _require_token_owner_or_admin(actor, token.user)
    # Conditional update: two operators revoking at once log one revocation.
    now = timezone.now()
    changed = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now)
    if not changed:
        token.refresh_from_db(fields=["revoked_at"])
        return False
    token.revoked_at = now
    record(actor, "api_token.revoked", token, {"user": token.user_id, "prefix": token.prefix})
    return True

"""Personal API tokens: the `tidsnok token` command and the services behind it."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tidsnok.access.models import ApiToken, hash_token
from tidsnok.access.policy import AccessDenied
from tidsnok.access.services import create_token, revoke_token
from tidsnok.audit.models import AuditEvent
from tidsnok.audit.services import verify_chain


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("token", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_create_prints_the_token_once_and_stores_only_its_hash(world):
    out, err = run("create", "--user", "marte@test.no", "--name", "Lønnssystem")
    raw = out.strip()
    assert raw.startswith("tn_") and len(raw) > 40
    token = ApiToken.objects.get(user=world.user("marte"))
    assert token.digest == hash_token(raw)
    assert token.name == "Lønnssystem"
    assert token.prefix == raw[:12]
    assert not ApiToken.objects.filter(digest=raw).exists()
    # The explanation goes to stderr, so stdout holds the token alone.
    assert raw not in err and token.prefix in err


def test_created_token_authenticates_api_requests(world, client):
    out, _ = run("create", "--user", "marte@test.no")
    response = client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {out.strip()}")
    assert response.status_code == 200
    assert response.json()["email"] == "marte@test.no"


def test_create_accepts_the_address_in_any_case(world):
    run("create", "--user", "Marte@Test.no")
    assert ApiToken.objects.filter(user=world.user("marte")).count() == 1


def test_create_and_revoke_write_audit_events_without_the_token(world):
    out, _ = run("create", "--user", "marte@test.no", "--name", "Integrasjon")
    raw = out.strip()
    token = ApiToken.objects.get()
    run("revoke", "--id", str(token.pk))
    events = list(AuditEvent.objects.filter(object_type="access.apitoken").order_by("seq"))
    assert [e.action for e in events] == ["api_token.created", "api_token.revoked"]
    for event in events:
        assert event.actor_id is None  # the operator at the command line
        assert event.object_id == str(token.pk)
        assert event.data["user"] == world.user("marte").pk
        assert event.data["prefix"] == token.prefix
        assert raw not in str(event.data) and token.digest not in str(event.data)
    assert verify_chain().ok


def test_list_shows_prefixes_and_state_never_the_tokens(world):
    out, _ = run("create", "--user", "marte@test.no", "--name", "Første")
    first_raw = out.strip()
    run("create", "--user", "marte@test.no", "--name", "Andre")
    first, second = ApiToken.objects.order_by("id")
    revoke_token(None, first)
    listing, _ = run("list", "--user", "marte@test.no")
    assert first.prefix in listing and second.prefix in listing
    assert "Første" in listing and "Andre" in listing
    assert first_raw not in listing
    first_line = next(line for line in listing.splitlines() if first.prefix in line)
    second_line = next(line for line in listing.splitlines() if second.prefix in line)
    assert first_line.count(".20") == 2  # created and revoked dates
    assert second_line.count(".20") == 1  # created only


def test_list_says_when_there_are_no_tokens(world):
    out, _ = run("list", "--user", "emil@test.no")
    assert "no tokens" in out


def test_revoke_by_prefix_stops_the_token_working(world, client):
    out, _ = run("create", "--user", "marte@test.no")
    raw = out.strip()
    message, _ = run("revoke", "--prefix", raw[:12])
    assert "revoked" in message
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401


def test_revoking_twice_changes_nothing_the_second_time(world):
    run("create", "--user", "marte@test.no")
    token = ApiToken.objects.get()
    run("revoke", "--id", str(token.pk))
    revoked_at = ApiToken.objects.get().revoked_at
    out, _ = run("revoke", "--id", str(token.pk))
    assert "already revoked" in out
    assert ApiToken.objects.get().revoked_at == revoked_at
    assert AuditEvent.objects.filter(action="api_token.revoked").count() == 1


def test_revoke_refuses_an_ambiguous_prefix(world):
    first, _ = create_token(None, world.user("marte"))
    second, _ = create_token(None, world.user("emil"))
    ApiToken.objects.filter(pk=second.pk).update(prefix=first.prefix)
    with pytest.raises(CommandError, match="--id"):
        run("revoke", "--prefix", first.prefix)
    assert not ApiToken.objects.filter(revoked_at__isnull=False).exists()


@pytest.mark.parametrize("args", [
    ("create", "--user", "nobody@test.no"),
    ("list", "--user", "nobody@test.no"),
    ("revoke", "--id", "999"),
    ("revoke", "--prefix", "tn_unknown"),
])
def test_unknown_user_or_token_is_a_command_error(world, args):
    with pytest.raises(CommandError):
        run(*args)


def test_deactivated_user_gets_no_token(world):
    user = world.user("emil")
    user.is_active = False
    user.save(update_fields=["is_active"])
    with pytest.raises(CommandError, match="not an active user"):
        run("create", "--user", "emil@test.no")
    assert not ApiToken.objects.exists()


# --- who may issue and revoke (for when tokens are issued from the web) ---------

def test_a_user_may_issue_and_revoke_her_own_token(world):
    marte = world.user("marte")
    token, _ = create_token(marte, marte)
    assert revoke_token(marte, token) is True
    assert AuditEvent.objects.filter(action="api_token.revoked", actor=marte).exists()


def test_an_administrator_may_issue_a_token_for_someone_in_her_organisation(world):
    token, _ = create_token(world.user("ada"), world.user("emil"))
    assert token.user == world.user("emil")
    assert AuditEvent.objects.get(action="api_token.created").actor == world.user("ada")


@pytest.mark.parametrize("actor", ["marte", "hanne", "emil"])
def test_nobody_else_may_issue_a_token_for_someone(world, actor):
    with pytest.raises(AccessDenied):
        create_token(world.user(actor), world.user("ella"))
    assert not ApiToken.objects.exists()
    assert not AuditEvent.objects.filter(action="api_token.created").exists()


def test_nobody_else_may_revoke_someones_token(world):
    token, _ = create_token(None, world.user("ella"))
    with pytest.raises(AccessDenied):
        revoke_token(world.user("marte"), token)
    token.refresh_from_db()
    assert token.revoked_at is None

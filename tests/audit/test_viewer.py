"""The audit log viewer at /audit/: administrators only, newest first, keyset
pages, filters, and the "Verify chain" button."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.audit.conftest import flip_action
from tests.conftest import enrol_totp
from tidsnok.audit.models import AuditEvent
from tidsnok.audit.services import record

URL = "/audit/"


@pytest.fixture
def admin(world, client):
    enrol_totp(world.user("ada"))
    client.force_login(world.user("ada"))
    return client


def seqs_in(body: str) -> list[int]:
    """The event numbers of the table rows, in page order."""
    return [int(seq) for seq in re.findall(r'<th scope="row">(\d+)</th>', body)]


def seqs_on(response) -> list[int]:
    return seqs_in(response.content.decode())


def test_it_is_mounted_at_audit():
    assert reverse("audit_log") == URL


def test_administrator_sees_the_newest_events_first(admin, world):
    record(world.user("ada"), "person.changed", world.emil, {"changed": ["position"], "comment": "private words"})
    response = admin.get(URL)
    assert response.status_code == 200
    body = response.content.decode()
    last = AuditEvent.objects.order_by("-seq").first()
    assert seqs_on(response)[0] == last.seq
    assert seqs_on(response) == sorted(seqs_on(response), reverse=True)
    assert "ada@test.no" in body
    assert f"org.person:{world.emil.pk}" in body
    assert last.hash[:12] in body
    assert timezone.localtime(last.time).strftime("%d.%m.%Y %H:%M") in body
    # Masked data as compact JSON: the free text never appears, only its fingerprint.
    assert "private words" not in body
    assert "&quot;changed&quot;:[&quot;position&quot;]" in body and "hmac:" in body


@pytest.mark.parametrize("persona", ["marte", "emil", "hanne", "hugo", "siri"])
def test_others_get_404(world, client, persona):
    user = world.user(persona)
    enrol_totp(user)  # so HR reaches the view instead of being sent to enrol
    client.force_login(user)
    assert client.get(URL).status_code == 404
    assert client.post(URL).status_code == 404


def test_anonymous_is_sent_to_log_in(db, client):
    response = client.get(URL)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_keyset_pages_walk_the_whole_log_without_overlap(admin):
    for i in range(110):
        record(None, "page.test", data={"i": i})
    total = AuditEvent.objects.count()
    seen, url = [], URL
    while url:
        response = admin.get(url)
        page = seqs_on(response)
        assert 0 < len(page) <= 50
        seen += page
        older = re.search(r'href="(\?[^"]*before=\d+[^"]*)" rel="next"', response.content.decode())
        url = URL + older.group(1).replace("&amp;", "&") if older else None
    assert seen == list(range(total, 0, -1))


def test_newer_link_goes_back_a_page(admin):
    for i in range(120):
        record(None, "page.test", data={"i": i})
    total = AuditEvent.objects.count()
    second = admin.get(f"{URL}?before={total - 49}")
    assert seqs_on(second) == list(range(total - 50, total - 100, -1))
    newer = re.search(r'href="(\?after=\d+)" rel="prev"', second.content.decode())
    assert newer
    assert seqs_on(admin.get(URL + newer.group(1))) == list(range(total, total - 50, -1))
    assert 'rel="prev"' not in admin.get(URL).content.decode()


def test_page_queries_do_not_grow_with_the_events_shown(admin, world, django_assert_num_queries):
    for i in range(60):
        record(world.user("ada" if i % 2 else "marte"), "page.test", data={"i": i})
    record(world.user("ada"), "other.test")
    with CaptureQueriesContext(connection) as one_row:
        assert len(seqs_on(admin.get(URL + "?action=other.test"))) == 1
    # The page itself reads the events once, actors joined in (select_related);
    # the rest is the session, the second-factor check and the navigation.
    own = [query["sql"] for query in one_row.captured_queries if "audit_auditevent" in query["sql"]]
    assert len(own) == 1 and 'JOIN "org_user"' in own[0]
    assert "COUNT(" not in own[0] and "OFFSET" not in own[0]
    with django_assert_num_queries(len(one_row)):
        assert len(seqs_on(admin.get(URL + "?action=page.test"))) == 50


def test_filter_by_actor_email_or_id(admin, world):
    ada = world.user("ada")
    mine = record(ada, "thing.done")
    record(world.user("marte"), "thing.done")
    assert seqs_on(admin.get(URL, {"actor": "ADA@test.no"})) == [mine.seq]
    assert seqs_on(admin.get(URL, {"actor": str(ada.pk)})) == [mine.seq]
    assert seqs_on(admin.get(URL, {"actor": "nobody@test.no"})) == []


def test_filter_by_object_type_and_id(admin, world):
    emil, ella = world.emil, world.ella
    one = record(None, "person.looked_at", emil)
    two = record(None, "person.looked_at", ella)
    persons = seqs_on(admin.get(URL, {"object": "org.person", "action": "person.looked_at"}))
    assert persons == [two.seq, one.seq]
    assert seqs_on(admin.get(URL, {"object": f"org.person:{emil.pk}", "action": "person.looked_at"})) == [one.seq]
    by_id = seqs_on(admin.get(URL, {"object": f":{ella.pk}", "action": "person.looked_at"}))
    assert by_id == [two.seq]


def test_filter_by_action_exact_or_prefix(admin):
    created = record(None, "widget.created")
    changed = record(None, "widget.changed")
    record(None, "widgets.counted")
    assert seqs_on(admin.get(URL, {"action": "widget.created"})) == [created.seq]
    assert seqs_on(admin.get(URL, {"action": "widget"})) == [changed.seq, created.seq]
    assert seqs_on(admin.get(URL, {"action": "widget."})) == [changed.seq, created.seq]
    assert len(seqs_on(admin.get(URL, {"action": "widget*"}))) == 3


def test_filters_stay_on_the_page_links(admin):
    for i in range(60):
        record(None, "page.test", data={"i": i})
    body = admin.get(URL, {"action": "page"}).content.decode()
    assert re.search(r'href="\?action=page&amp;before=\d+" rel="next"', body)


def test_verify_chain_button_reports_a_holding_chain(admin):
    response = admin.post(URL + "?action=person", follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert response.redirect_chain == [(URL + "?action=person", 302)]  # back to the same filtered page
    assert f"The chain holds: {AuditEvent.objects.count()} events" in response.content.decode()


def test_the_page_speaks_bokmal(admin):
    body = admin.post(URL, follow=True, HTTP_ACCEPT_LANGUAGE="nb").content.decode()
    assert "Revisjonslogg" in body and "Kontroller kjeden" in body
    assert f"Kjeden er hel: {AuditEvent.objects.count()} hendelser" in body


def test_verify_chain_button_names_the_first_bad_event(admin):
    flip_action(7)
    response = admin.post(URL, follow=True, HTTP_ACCEPT_LANGUAGE="en")
    body = response.content.decode()
    assert "The chain is broken at event 7 (" in body
    assert "its content does not match its hash" in body


def test_filters_are_labelled_and_the_page_has_no_inline_script_or_style(admin):
    body = admin.get(URL).content.decode()
    for name in ("actor", "object", "action"):
        assert f'<label for="id_{name}">' in body
    assert "<caption>" in body and '<th scope="col">' in body
    assert " style=" not in body and "<style" not in body
    assert not re.search(r"<script(?![^>]*\bsrc=)", body)
    assert not re.search(r"\son[a-z]+=", body)


def test_an_invalid_filter_shows_its_error_and_no_events(admin):
    body = admin.get(URL, {"actor": "x" * 300}).content.decode()
    assert seqs_in(body) == [] and 'class="error"' in body


def test_nonsense_page_positions_do_not_break_the_page(admin):
    for position in ("?before=abc", "?after=-3", "?before=" + "9" * 30, "?after=" + "9" * 30):
        assert admin.get(URL + position).status_code == 200, position

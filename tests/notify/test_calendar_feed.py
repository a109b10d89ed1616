"""The personal calendar feed: a secret, revocable address listing exactly the
user's open deadlines, with links and without sensitive text."""

import re
from datetime import date

import time_machine
from icalendar import Calendar

from tidsnok.cases import services as case_services
from tidsnok.cases.models import EntryKind
from tidsnok.notify import services
from tidsnok.notify.models import CalendarFeed
from tidsnok.notify.responsibility import deadlines_of

from .conftest import open_case


def fetch(client, token):
    return client.get(f"/kalender/{token}.ics")


def events(response):
    calendar = Calendar.from_ical(response.content)
    return {str(e["uid"]): e for e in calendar.walk("VEVENT")}


def test_the_feed_lists_exactly_her_open_deadlines(world, client):
    mine = open_case(world, known_at=date(2027, 3, 22))
    open_case(world, actor="kim", known_at=date(2027, 3, 22), concerns=[world.kari])  # someone else's
    with time_machine.travel(date(2027, 3, 24), tick=False):
        case_services.add_entry(world.user("marte"), mine, kind=EntryKind.CONVERSATION, occurred_on=date(2027, 3, 24),
                                text="Samtale.", data={"participants": [world.emil.pk, world.marte.pk]})
    token = services.new_calendar_feed(world.user("marte"))
    response = fetch(client, token)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    found = events(response)
    expected = set(deadlines_of(world.marte).values_list("pk", flat=True))
    assert {int(re.match(r"deadline-(\d+)@", uid).group(1)) for uid in found} == expected
    met = mine.deadlines.get(rule_id="psychosocial.first_conversation")
    assert f"deadline-{met.pk}@127.0.0.1" not in found  # met: no longer open
    event = found[f"deadline-{mine.deadlines.get(rule_id='psychosocial.assessment').pk}@127.0.0.1"]
    assert event.decoded("dtstart") == mine.deadlines.get(rule_id="psychosocial.assessment").due
    assert str(event["summary"]) == f"Dokumentert vurdering (sak {mine.number})"
    assert str(event["url"]) == f"http://127.0.0.1:8000/saker/{mine.pk}/"
    text = response.content.decode()
    for word in ("Emil", "rekker", "Marte", "Kari"):
        assert word not in text


def test_a_revoked_address_is_not_found(world, client):
    open_case(world, known_at=date(2027, 3, 22))
    token = services.new_calendar_feed(world.user("marte"))
    assert fetch(client, token).status_code == 200
    services.revoke_calendar_feed(world.user("marte"))
    assert fetch(client, token).status_code == 404


def test_a_new_address_replaces_the_old_one(world, client):
    old = services.new_calendar_feed(world.user("marte"))
    new = services.new_calendar_feed(world.user("marte"))
    assert fetch(client, old).status_code == 404
    assert fetch(client, new).status_code == 200
    assert CalendarFeed.objects.filter(user=world.user("marte"), revoked_at__isnull=True).count() == 1


def test_the_token_is_stored_only_as_a_hash(world):
    token = services.new_calendar_feed(world.user("marte"))
    feed = CalendarFeed.objects.get(user=world.user("marte"))
    assert token not in feed.token_hash
    assert len(feed.token_hash) == 64


def test_a_guessed_address_is_not_found(world, client):
    services.new_calendar_feed(world.user("marte"))
    assert fetch(client, "not-a-token").status_code == 404


def test_an_address_of_a_deactivated_login_is_not_found(world, client):
    token = services.new_calendar_feed(world.user("marte"))
    user = world.user("marte")
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert fetch(client, token).status_code == 404


def test_the_preferences_page_shows_a_new_address_once(world, client):
    client.force_login(world.user("marte"))
    response = client.post("/meldinger/innstillinger/", {"action": "new_feed"}, follow=True)
    url = re.search(r"http://testserver/kalender/[^<\s]+\.ics", response.content.decode()).group(0)
    assert client.get(url.replace("http://testserver", "")).status_code == 200
    again = client.get("/meldinger/innstillinger/").content.decode()
    assert url not in again
    client.post("/meldinger/innstillinger/", {"action": "revoke_feed"})
    assert client.get(url.replace("http://testserver", "")).status_code == 404

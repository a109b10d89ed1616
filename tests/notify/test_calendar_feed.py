"""The personal calendar feed: a secret, revocable address listing exactly the
user's open deadlines, with links and without sensitive text."""

import re
from datetime import date, datetime
from unittest import mock

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client
from icalendar import Calendar

from tidsnok.cases import services as case_services
from tidsnok.cases.models import Deadline, EntryKind, Kind, Source
from tidsnok.notify import services
from tidsnok.notify.models import CalendarFeed

from .conftest import OSLO, at, open_case
from .sql_rule import deadlines_of


@pytest.fixture(autouse=True)
def empty_cache(db):
    # Rendered feeds are cached by content; a body left by another test must not
    # turn a miss into a hit here (nor the other way round).
    cache.clear()
    yield
    cache.clear()


def fetch(client, token, etag=None):
    return client.get(f"/kalender/{token}.ics", **({"HTTP_IF_NONE_MATCH": etag} if etag else {}))


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


# --- repeated polls -----------------------------------------------------------------------------


def to_ical_spy():
    """Watches icalendar's serialisation without replacing it."""
    return mock.patch.object(Calendar, "to_ical", autospec=True, side_effect=Calendar.to_ical)


def uids_of(found):
    return {int(re.match(r"deadline-(\d+)@", uid).group(1)) for uid in found}


def uids(response):
    return uids_of(events(response))


def test_a_client_that_sends_back_its_etag_gets_not_modified_without_a_body(world, client):
    open_case(world, known_at=date(2027, 3, 22))
    token = services.new_calendar_feed(world.user("marte"))
    first = fetch(client, token)
    assert first.status_code == 200 and first["ETag"]
    with to_ical_spy() as spy:
        again = fetch(client, token, etag=first["ETag"])
    assert again.status_code == 304
    assert again.content == b"" and spy.call_count == 0
    assert again["ETag"] == first["ETag"]
    # Clients revalidate every poll and shared caches keep nothing of a secret address.
    for response in (first, again):
        assert set(response["Cache-Control"].replace(" ", "").split(",")) == {"private", "no-cache"}


def test_a_met_deadline_gives_a_new_etag_and_body(world, client):
    case = open_case(world, known_at=date(2027, 3, 22))
    token = services.new_calendar_feed(world.user("marte"))
    first = fetch(client, token)
    first_conversation = case.deadlines.get(rule_id="psychosocial.first_conversation")
    assert first_conversation.pk in uids(first)
    with time_machine.travel(at(date(2027, 3, 24), 10), tick=False):
        case_services.add_entry(world.user("marte"), case, kind=EntryKind.CONVERSATION, occurred_on=date(2027, 3, 24),
                                text="Samtale.", data={"participants": [world.emil.pk, world.marte.pk]})
    changed = fetch(client, token, etag=first["ETag"])
    assert changed.status_code == 200
    assert changed["ETag"] != first["ETag"]
    assert first_conversation.pk not in uids(changed)
    assert fetch(client, token, etag=changed["ETag"]).status_code == 304


def test_a_waived_deadline_gives_a_new_etag(world, client):
    case = open_case(world, known_at=date(2027, 3, 22))
    token = services.new_calendar_feed(world.user("marte"))
    first = fetch(client, token)
    assessment = case.deadlines.get(rule_id="psychosocial.assessment")
    case_services.waive_deadline(world.user("hanne"), assessment, reason="Vurdert i en annen sak.")
    changed = fetch(client, token, etag=first["ETag"])
    assert changed.status_code == 200 and changed["ETag"] != first["ETag"]
    assert assessment.pk in uids(first) and assessment.pk not in uids(changed)


def test_a_moved_deadline_gives_a_new_etag_even_if_its_change_time_stood_still(world, client):
    # The fingerprint holds the fields the body shows, not only updated_at.
    case = open_case(world, known_at=date(2027, 3, 22))
    token = services.new_calendar_feed(world.user("marte"))
    first = fetch(client, token)
    assessment = case.deadlines.get(rule_id="psychosocial.assessment")
    Deadline.objects.filter(pk=assessment.pk).update(due=date(2027, 5, 3))
    changed = fetch(client, token, etag=first["ETag"])
    assert changed.status_code == 200 and changed["ETag"] != first["ETag"]
    moved = events(changed)[f"deadline-{assessment.pk}@127.0.0.1"]
    assert moved.decoded("dtstart") == date(2027, 5, 3)


def test_changing_her_language_gives_a_new_etag_and_english_titles(world, client):
    case = open_case(world, known_at=date(2027, 3, 22))
    token = services.new_calendar_feed(world.user("marte"))
    first = fetch(client, token)
    browser = Client()
    browser.force_login(world.user("marte"))
    browser.post("/i18n/setlang/", {"language": "en", "next": "/"})
    english = fetch(client, token, etag=first["ETag"])
    assert english.status_code == 200 and english["ETag"] != first["ETag"]
    assessment = case.deadlines.get(rule_id="psychosocial.assessment")
    event = events(english)[f"deadline-{assessment.pk}@127.0.0.1"]
    assert str(event["summary"]) == f"{assessment.title_en} (case {case.number})"


def test_a_repeated_poll_is_served_from_the_cache_byte_for_byte(world, client):
    open_case(world, known_at=date(2027, 3, 22))
    token = services.new_calendar_feed(world.user("marte"))
    with time_machine.travel(at(date(2027, 4, 1), 9), tick=False), to_ical_spy() as spy:
        first = fetch(client, token)
    assert spy.call_count == 1
    # Another client three quarters of an hour later, sending no ETag.
    with time_machine.travel(at(date(2027, 4, 1), 9, 45), tick=False), to_ical_spy() as spy:
        second = Client().get(f"/kalender/{token}.ics")
    assert spy.call_count == 0
    assert second.status_code == 200
    assert second.content == first.content
    assert second["ETag"] == first["ETag"]


def test_two_managers_never_get_each_others_feed(world, client):
    marte_case = open_case(world, known_at=date(2027, 3, 22))
    kim_case = open_case(world, actor="kim", known_at=date(2027, 3, 22), concerns=[world.kari])
    marte = services.new_calendar_feed(world.user("marte"))
    kim = services.new_calendar_feed(world.user("kim"))
    for _round in range(2):  # the second round is served from the cache
        mine, theirs = fetch(client, marte), fetch(client, kim)
        assert mine["ETag"] != theirs["ETag"] and mine.content != theirs.content
        assert uids(mine) == set(marte_case.deadlines.filter(status="open", expected_event=False).values_list("pk", flat=True))
        assert uids(theirs) == set(kim_case.deadlines.filter(status="open", expected_event=False).values_list("pk", flat=True))
        assert fetch(client, marte, etag=theirs["ETag"]).status_code == 200


def test_a_revoked_address_is_not_found_even_with_its_feed_cached(world, client):
    open_case(world, known_at=date(2027, 3, 22))
    token = services.new_calendar_feed(world.user("marte"))
    first = fetch(client, token)
    services.revoke_calendar_feed(world.user("marte"))
    assert cache.get(f"feed:{first['ETag'].strip(chr(34))}") == first.content  # still cached...
    assert fetch(client, token).status_code == 404  # ...but never served
    assert fetch(client, token, etag=first["ETag"]).status_code == 404


def test_dtstamp_is_when_the_deadline_last_changed_in_utc(world, client):
    # 08:00:05.678 in Oslo in March (CET) is 07:00:05 UTC; iCalendar keeps whole seconds.
    with time_machine.travel(datetime(2027, 3, 22, 8, 0, 5, 678000, tzinfo=OSLO), tick=False):
        case = case_services.open_case(
            world.user("marte"), kind=Kind.PSYCHOSOCIAL, concerns=[world.emil], factors=["workload"],
            description="Samtale om arbeidsmengde.", source=Source.EMPLOYEE_TOLD, known_at=date(2027, 3, 22),
        )
    token = services.new_calendar_feed(world.user("marte"))
    found = events(fetch(client, token))
    assert found
    for deadline in case.deadlines.filter(pk__in=uids_of(found)):
        stamp = found[f"deadline-{deadline.pk}@127.0.0.1"]["dtstamp"]
        assert stamp.to_ical() == b"20270322T070005Z"
        assert stamp.dt == deadline.updated_at.replace(microsecond=0)
    assert "DTSTAMP:20270322T070005Z" in fetch(client, token).content.decode()


def test_her_deadlines_read_by_key_and_decided_in_python_are_those_the_rule_in_sql_gives(world):
    from tidsnok.notify.feed import deadlines_by_keys, open_deadline_keys

    mine = open_case(world, known_at=date(2027, 3, 22))
    with_hr = open_case(world, known_at=date(2027, 3, 1))
    with time_machine.travel(at(date(2027, 3, 2)), tick=False):
        # HR joins: the case's HR deadline is hers from now on, not the manager's.
        case_services.ask_hr(world.user("marte"), with_hr, "Usikker på habilitet.")
    hr = with_hr.handlers.get(role="hr", removed_at__isnull=True).person
    kims = open_case(world, actor="kim", known_at=date(2027, 3, 22), concerns=[world.kari])
    for person in (world.marte, hr, world.people["kim"]):
        keys = open_deadline_keys(person.user)
        assert keys == sorted(deadlines_of(person).values_list("due", "pk")), person.name
        assert [d.pk for d in deadlines_by_keys(keys)] == [pk for _due, pk in keys]
    marte = {pk for _due, pk in open_deadline_keys(world.user("marte"))}
    hrs = {pk for _due, pk in open_deadline_keys(hr.user)}
    assert marte and hrs and not marte & hrs
    assert {d.case_id for d in Deadline.objects.filter(pk__in=hrs)} == {with_hr.pk}
    assert not marte & set(kims.deadlines.values_list("pk", flat=True))
    assert mine.pk in {d.case_id for d in Deadline.objects.filter(pk__in=marte)}

"""The bell, the notifications page, preferences and the organisation's reminder rules."""

import re
from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tidsnok.access.policy import AccessDenied
from tidsnok.audit.models import AuditEvent
from tidsnok.notify import services
from tidsnok.notify.models import Mode, Notification, OrganisationSettings, Preference
from tests.conftest import enrol_totp

from .conftest import open_case, sweep_at


def test_the_bell_counts_unread_and_marking_read_clears_it(world, client):
    case = open_case(world, known_at=date(2027, 3, 22))
    for day in (date(2027, 3, 30), date(2027, 4, 1), date(2027, 4, 2)):
        sweep_at(day)
    user = world.user("marte")
    unread = Notification.objects.filter(user=user, read_at__isnull=True).count()
    assert unread >= 3
    client.force_login(user)
    home = client.get("/").content.decode()
    assert f'<span class="bell-count" aria-hidden="true">{unread}</span>' in home
    page = client.get("/meldinger/").content.decode()
    assert f"Forfaller i dag: Første samtale med den det gjelder (sak {case.number})" in page
    assert f'href="/saker/{case.pk}/"' in page
    first = Notification.objects.filter(user=user).first()
    client.post("/meldinger/", {"id": first.pk})
    assert Notification.objects.filter(user=user, read_at__isnull=True).count() == unread - 1
    client.post("/meldinger/", {"all": "1"})
    assert not Notification.objects.filter(user=user, read_at__isnull=True).exists()
    assert "bell-count" not in client.get("/").content.decode()


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's query plan")
def test_the_bell_counts_from_the_index_alone(world):
    """Every page counts the unread notifications; HR may have hundreds."""
    with CaptureQueriesContext(connection) as counted:
        Notification.objects.shown().filter(user=world.user("hanne"), read_at__isnull=True).count()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {counted.captured_queries[0]['sql']}")
        plan = " ".join(str(row) for row in cursor.fetchall())
    assert "COVERING INDEX" in plan, plan


def test_nobody_can_mark_someone_elses_notifications(world, client):
    open_case(world, known_at=date(2027, 3, 22))
    sweep_at(date(2027, 3, 30))
    theirs = Notification.objects.filter(user=world.user("marte")).first()
    client.force_login(world.user("kim"))
    client.post("/meldinger/", {"id": theirs.pk})
    client.post("/meldinger/", {"all": "1"})
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_a_notification_about_a_case_she_lost_shows_no_details(world, client):
    case = open_case(world, known_at=date(2027, 3, 22))
    sweep_at(date(2027, 3, 30))
    from tidsnok.cases.models import Exclusion

    Exclusion.objects.create(case=case, person=world.marte, reason="test")
    client.force_login(world.user("marte"))
    page = client.get("/meldinger/").content.decode()
    assert case.number not in page
    assert "ikke lenger har tilgang til" in page


def test_notifications_are_shown_in_english_for_english_users(world, client):
    case = open_case(world, known_at=date(2027, 3, 22))
    sweep_at(date(2027, 3, 30))
    user = world.user("marte")
    user.language = "en"
    user.save(update_fields=["language"])
    client.force_login(user)
    page = client.get("/meldinger/").content.decode()
    assert f"Due in 2 working days: First conversation with the person concerned (case {case.number})" in page


def test_she_chooses_digest_only(world, client):
    client.force_login(world.user("marte"))
    page = client.get("/meldinger/innstillinger/").content.decode()
    assert re.search(r'<input[^>]*value="immediate"[^>]*checked', page)  # the default
    client.post("/meldinger/innstillinger/", {"action": "mode", "mode": "digest"})
    assert Preference.objects.get(user=world.user("marte")).mode == Mode.DIGEST
    response = client.post("/meldinger/innstillinger/", {"action": "mode", "mode": "sometimes"})
    assert response.status_code == 200
    assert Preference.objects.get(user=world.user("marte")).mode == Mode.DIGEST


def test_my_deadlines_lists_what_she_is_responsible_for(world, client):
    mine = open_case(world, known_at=date(2027, 3, 22))
    other = open_case(world, actor="kim", known_at=date(2027, 3, 22), concerns=[world.kari])
    client.force_login(world.user("marte"))
    page = client.get("/meldinger/frister/").content.decode()
    assert mine.number in page and other.number not in page


def test_my_deadlines_come_a_page_at_a_time_and_none_is_left_out(world, client, monkeypatch):
    from tidsnok.notify import views

    monkeypatch.setattr(views, "DEADLINES_PER_PAGE", 2)
    case = open_case(world, known_at=date(2027, 3, 22))
    expected = [d.due.strftime("%d.%m.%Y") for d in case.deadlines.filter(status="open").order_by("due", "pk")]
    assert len(expected) > 2
    client.force_login(world.user("marte"))
    pages = [client.get("/meldinger/frister/", {"page": n}).content.decode() for n in range(1, len(expected))]
    listed = [day for page in pages for day in re.findall(r"<td>(\d\d\.\d\d\.\d{4})", page)]
    assert listed[:len(expected)] == expected  # past the last page the last page comes again
    assert f"Frister 1–2 av {len(expected)}" in pages[0] and 'rel="next"' in pages[0]
    assert "Forfallsdato" in pages[0]  # not "Frist" twice: the date column has a name of its own


def test_my_deadlines_ask_the_same_number_of_queries_for_one_case_as_for_several(world, client):
    open_case(world, known_at=date(2027, 3, 22))
    client.force_login(world.user("marte"))
    client.get("/meldinger/frister/")  # the session and the language are settled by the first request
    with CaptureQueriesContext(connection) as few:
        assert client.get("/meldinger/frister/").status_code == 200
    for day in (1, 8, 15):
        open_case(world, known_at=date(2027, 3, day))
    with CaptureQueriesContext(connection) as many:
        body = client.get("/meldinger/frister/").content.decode()
    assert body.count("<tr>") > 6 and len(many) == len(few)


def test_hr_sets_the_reminder_rules_and_the_change_is_audited(world, login):
    client = login(world.user("hanne"), enrol_totp(world.user("hanne")))
    assert client.get("/meldinger/paminnelsesregler/").status_code == 200
    response = client.post("/meldinger/paminnelsesregler/", {"reminder_lead_days": 3, "escalate_after_days": 1})
    assert response.status_code == 302
    settings = OrganisationSettings.objects.get(organisation=world.org)
    assert (settings.reminder_lead_days, settings.escalate_after_days) == (3, 1)
    event = AuditEvent.objects.filter(action="notify.settings_changed").get()
    assert event.data["after"] == {"reminder_lead_days": 3, "escalate_after_days": 1}
    assert event.data["before"] == {"reminder_lead_days": 2, "escalate_after_days": 2}


def test_the_rules_apply_to_the_next_sweep(world):
    services.update_org_settings(world.user("hanne"), world.org, reminder_lead_days=3, escalate_after_days=1)
    case = open_case(world, known_at=date(2027, 3, 22))  # first conversation due Thursday 1 April
    sweep_at(date(2027, 3, 29))  # Easter Monday
    deadline = case.deadlines.get(rule_id="psychosocial.first_conversation")
    from tidsnok.notify.models import Reminder

    # Three working days before 1 April: 31, 30 March, then back across Easter to 24 March.
    assert Reminder.objects.filter(deadline=deadline, kind="before", on_date=date(2027, 3, 24)).exists()
    sweep_at(date(2027, 4, 2))  # one working day overdue escalates now
    assert Reminder.objects.filter(deadline=deadline, kind="escalation", on_date=date(2027, 4, 2)).exists()


def test_managers_and_limited_hr_may_not_change_the_rules(world, client):
    for key in ("marte", "hugo"):
        with pytest.raises(AccessDenied):
            services.update_org_settings(world.user(key), world.org, reminder_lead_days=1, escalate_after_days=1)
    client.force_login(world.user("marte"))
    assert client.get("/meldinger/paminnelsesregler/").status_code == 404


def test_rules_outside_the_bounds_are_refused(world):
    with pytest.raises(ValidationError) as error:
        services.update_org_settings(world.user("hanne"), world.org, reminder_lead_days=99, escalate_after_days=0)
    assert set(error.value.message_dict) == {"reminder_lead_days", "escalate_after_days"}


def _queries(client, url):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_list_pages_make_as_many_queries_for_many_rows_as_for_few(world, client):
    from tidsnok.cases.models import Case

    open_case(world, known_at=date(2027, 3, 22))
    sweep_at(date(2027, 3, 30))
    client.force_login(world.user("marte"))
    few = {url: _queries(client, url) for url in ("/meldinger/", "/meldinger/frister/", "/etterlevelse/")}
    for i in range(6):
        open_case(world, known_at=date(2027, 3, 22), concerns=[world.ella], description=f"Sak {i}")
    for day in (date(2027, 3, 30), date(2027, 4, 1), date(2027, 4, 2)):
        sweep_at(day)
    assert Case.objects.count() == 7 and Notification.objects.filter(user=world.user("marte")).count() > 10
    many = {url: _queries(client, url) for url in few}
    assert many == few, (few, many)

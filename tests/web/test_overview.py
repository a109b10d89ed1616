import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import time_machine

from tidsnok.cases import services as case_services
from tidsnok.cases.models import Kind, Source

from tests.conftest import enrol_totp


def test_manager_sees_her_people_on_min_oversikt(world, client):
    client.force_login(world.user("marte"))
    response = client.get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Min oversikt" in body
    assert "Emil Ansatt" in body and "Ella Ansatt" in body
    assert "Stine Ansatt" not in body  # sibling unit


def test_employee_sees_only_herself(world, client):
    client.force_login(world.user("emil"))
    body = client.get("/").content.decode()
    assert "Emil Ansatt" in body
    assert "Ella Ansatt" not in body


def test_hr_without_second_factor_is_sent_to_enrol_one(world, client):
    client.force_login(world.user("hanne"))
    response = client.get("/")
    assert response.status_code == 302
    assert "/accounts/2fa/totp/activate/" in response["Location"]


def test_hr_with_second_factor_reaches_overview(world, client):
    enrol_totp(world.user("hanne"))
    client.force_login(world.user("hanne"))
    assert client.get("/").status_code == 200


def test_english_browser_gets_english_and_norwegian_variants_get_bokmal(db, client):
    assert 'lang="en"' in client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9").content.decode()
    for header in ("nb", "no", "nn", "no-NO", "nn-NO,en;q=0.5"):
        body = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE=header).content.decode()
        assert 'lang="nb"' in body, header


def test_healthz_reports_database_and_migrations(db, client):
    assert client.get("/healthz").json() == {"status": "ok", "database": True, "migrations": "applied"}


def test_the_language_button_is_remembered_for_a_logged_in_user(world, client):
    client.force_login(world.user("marte"))
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    world.user("marte").refresh_from_db()
    assert world.user("marte").language == "en"
    assert 'lang="en"' in client.get("/").content.decode()
    client.post("/i18n/setlang/", {"language": "nb", "next": "/"})
    assert 'lang="nb"' in client.get("/").content.decode()


def test_a_manager_of_many_sees_her_people_a_page_at_a_time_and_nobody_is_left_out(world, client):
    from tidsnok.org import services as org_services
    from tidsnok.web.views import PEOPLE_PER_PAGE

    hj = world.emil.unit
    for n in range(PEOPLE_PER_PAGE + 3):
        org_services.save_person(world.user("ada"), world.org, f"P{n:03d}", name=f"Pleier {n:03d}", unit_id=hj.pk)
    client.force_login(world.user("marte"))
    first = client.get("/").content.decode()
    total = int(re.search(rf"Personer 1–{PEOPLE_PER_PAGE} av (\d+)", first).group(1))
    assert PEOPLE_PER_PAGE < total <= 2 * PEOPLE_PER_PAGE
    assert "Side 1 av 2" in first and 'rel="next"' in first
    second = client.get("/?side=2").content.decode()
    assert f"Personer {PEOPLE_PER_PAGE + 1}–{total} av {total}" in second
    names = ["Emil Ansatt", "Ella Ansatt", *(f"Pleier {n:03d}" for n in range(PEOPLE_PER_PAGE + 3))]
    for name in names:
        assert (name in first) != (name in second), name  # on exactly one of the pages
    assert "Stine Ansatt" not in first + second  # still only her own units
    assert client.get("/?side=99").status_code == 200  # past the end: the last page


def test_min_oversikt_asks_the_same_number_of_queries_for_a_few_people_as_for_many(world, client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tidsnok.org import services as org_services
    from tidsnok.web.views import PEOPLE_PER_PAGE

    client.force_login(world.user("marte"))
    client.get("/")  # the session and the language are settled by the first request
    with CaptureQueriesContext(connection) as few:
        assert client.get("/").status_code == 200
    for n in range(2 * PEOPLE_PER_PAGE):
        org_services.save_person(world.user("ada"), world.org, f"M{n:03d}", name=f"Mange {n:03d}",
                                 unit_id=world.emil.unit_id)
    with CaptureQueriesContext(connection) as many:
        assert client.get("/?side=2").status_code == 200
    assert len(many) == len(few)


# --- "Deadlines in the next two weeks" on Min oversikt ----------------------------------------

OSLO = ZoneInfo("Europe/Oslo")


def _open_case_known_on(world, day: date, concerns):
    with time_machine.travel(datetime(day.year, day.month, day.day, 8, tzinfo=OSLO), tick=False):
        return case_services.open_case(
            world.user("marte"), kind=Kind.PSYCHOSOCIAL, concerns=concerns, parties=[], factors=["workload"],
            description="Sier han ikke rekker arbeidsoppgavene.", source=Source.EMPLOYEE_TOLD, known_at=day,
        )


def _min_oversikt_on(client, user, day: date) -> str:
    with time_machine.travel(datetime(day.year, day.month, day.day, 9, tzinfo=OSLO), tick=False):
        client.force_login(user)  # logged in that day: a session from today would have expired
        return client.get("/").content.decode()


def _soon_section(body: str) -> str:
    match = re.search(r'<section aria-labelledby="soon-heading".*?</section>', body, re.S)
    assert match, "no section of deadlines due soon"
    return match.group(0)


def test_a_manager_sees_first_what_is_overdue_or_due_within_two_weeks_and_nothing_later(world, client):
    from tidsnok.web.views import SOON_DAYS

    case = _open_case_known_on(world, date(2027, 3, 1), [world.emil])
    today = date(2027, 3, 15)
    section = _soon_section(_min_oversikt_on(client, world.user("marte"), today))
    open_deadlines = list(case.deadlines.filter(status="open").order_by("due", "pk"))
    soon = [d for d in open_deadlines if d.due <= today + timedelta(days=SOON_DAYS)]
    later = [d for d in open_deadlines if d.due > today + timedelta(days=SOON_DAYS)]
    assert soon and later, "the case should have deadlines on both sides of the two weeks"
    listed = re.findall(r"<td>(\d\d\.\d\d\.\d{4})", section)
    assert listed == [d.due.strftime("%d.%m.%Y") for d in soon]
    assert any(d.due < today for d in soon) == ("(overskredet)" in section)
    assert f'href="/saker/{case.pk}/"' in section and case.number in section
    assert 'href="/meldinger/frister/"' in section and "Det er flere." not in section


def test_only_the_first_few_are_shown_and_the_rest_is_one_click_away(world, client):
    from tidsnok.web.views import SOON_SHOWN

    for _ in range(SOON_SHOWN):
        _open_case_known_on(world, date(2027, 3, 1), [world.emil])
    section = _soon_section(_min_oversikt_on(client, world.user("marte"), date(2027, 3, 15)))
    assert len(re.findall(r"<td>(\d\d\.\d\d\.\d{4})", section)) == SOON_SHOWN
    assert "Det er flere." in section and "Alle mine frister" in section


def test_a_manager_with_nothing_due_is_told_so_and_an_employee_sees_no_such_section(world, client):
    section = _soon_section(_min_oversikt_on(client, world.user("marte"), date(2027, 3, 15)))
    assert "Ingenting er overskredet, og ingenting forfaller de neste to ukene." in section
    assert 'id="soon-heading"' not in _min_oversikt_on(client, world.user("emil"), date(2027, 3, 15))


def test_a_manager_of_another_unit_does_not_see_marte_s_deadlines(world, client):
    theirs = _open_case_known_on(world, date(2027, 3, 1), [world.emil])
    body = _min_oversikt_on(client, world.user("sander"), date(2027, 3, 15))
    assert theirs.number not in body
    assert "Ingenting er overskredet" in _soon_section(body)

"""Innsynskopi: the employee's access copy (GDPR art. 15).

Emil's data is built through the services (a case about him with shared and
internal entries, a case where he is a witness, a sick-leave episode with a
follow-up plan, whistleblowing reports he filed by name and anonymously, and
one that names him), the copy is exported by HR and read back with pypdf.
"""

import io
import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pypdf import PdfReader

from tests.conftest import enrol_totp
from tidsnok.absence import services as absence_services
from tidsnok.absence.models import Certification, WorkRelated
from tidsnok.access.policy import AccessDenied
from tidsnok.audit.models import AuditEvent
from tidsnok.audit.services import record_access
from tidsnok.cases import services
from tidsnok.cases.models import EntryKind, Kind, MeasureKind, Source, Visibility
from tidsnok.notify.models import Notification
from tidsnok.org.models import Person, User
from tidsnok.reports.access_copy import (
    EXPORT_ACTION,
    UnknownLanguage,
    access_copy_document,
    collect,
    export_access_copy,
)
from tidsnok.reports.access_copy_requests import one_month_after
from tidsnok.reports.models import AccessRequest
from tidsnok.whistleblowing import services as whistleblowing_services

OSLO = ZoneInfo("Europe/Oslo")
ANONYMOUS_TEXT = "Anonymt: kantinen har rotter og ingen gjør noe."
REPORT_ABOUT_EMIL = "Emil Ansatt kjefter på nye kolleger hver morgen."
WITNESS_TEXT = "Emil så krangelen i garderoben fra døra."


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 3, day, hour, 0, tzinfo=OSLO)


def pdf_text(content: bytes) -> str:
    assert content.startswith(b"%PDF-")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def fresh(user) -> User:
    """The user as a new request sees her: the scope caches on the object are empty."""
    return User.objects.get(pk=user.pk)


@pytest.fixture
def clock():
    with time_machine.travel(at(2), tick=False) as traveller:
        yield traveller


def report(world, user, anonymity, description):
    return whistleblowing_services.submit_report(
        user, world.org, category="work_environment", anonymity=anonymity, description=description,
    )


def emils_case(world, description="Emil sier han ikke rekker arbeidsoppgavene."):
    marte = world.user("marte")
    case = services.open_case(
        marte, kind=Kind.PSYCHOSOCIAL, concerns=[world.emil], factors=["workload"], description=description,
        source=Source.EMPLOYEE_TOLD, known_at=date(2026, 3, 2),
    )
    services.add_entry(marte, case, kind=EntryKind.CONVERSATION, occurred_on=date(2026, 3, 2),
                       text="Delt samtale om kveldsvakter.", visibility=Visibility.SHARED,
                       data={"participants": [world.emil.pk, world.marte.pk]})
    services.add_entry(marte, case, kind=EntryKind.NOTE, occurred_on=date(2026, 3, 2),
                       text="Internt: sjekk turnusen før neste møte.", visibility=Visibility.INTERNAL)
    services.add_measure(marte, case, what="Færre kveldsvakter i april", kind=MeasureKind.ORGANISATIONAL,
                         owner=world.marte, due=date(2026, 3, 20), area="workload")
    return case


@pytest.fixture
def emils_data(world, clock):
    marte = world.user("marte")
    case = emils_case(world)
    # A conflict about Ella where Emil is a witness: its content is Ella's.
    conflict = services.open_case(
        marte, kind=Kind.CONFLICT, concerns=[world.ella], parties=[(world.emil, "witness")],
        description="Ella og en kollega i konflikt om vaktbytter.", source=Source.OBSERVED,
        known_at=date(2026, 3, 2),
    )
    services.add_entry(marte, conflict, kind=EntryKind.CONVERSATION, occurred_on=date(2026, 3, 2),
                       text=WITNESS_TEXT, about=world.emil,
                       data={"participants": [world.emil.pk, world.marte.pk]})
    # Sick leave with a follow-up plan.
    episode = absence_services.register_episode(
        marte, person=world.emil, start=date(2026, 2, 2), grade=50, certified=Certification.DOCTOR,
        work_related=WorkRelated.PARTLY, open_case=True,
    )
    absence_services.save_plan(
        marte, episode.case, work_tasks_and_capacity="Kan ta dagvakter uten tunge løft.",
        employer_measures="Fritak fra nattevakter.", further_follow_up="Ny samtale om to uker.",
    )
    # Reads of his case.
    record_access(world.user("hanne"), case, role="hr", reason="case_page")
    # Whistleblowing: his own named report, his own anonymous one, and Ella's naming him.
    report(world, world.user("emil"), "named", "Verneutstyret mangler på lageret.")
    report(world, world.user("emil"), "anonymous", ANONYMOUS_TEXT)
    report(world, world.user("ella"), "named", REPORT_ABOUT_EMIL)
    return {"case": case, "conflict": conflict, "episode": episode}


def export(world, key="hanne", lang="nb", person=None):
    return export_access_copy(fresh(world.user(key)), person or world.emil, lang)


# --- content ------------------------------------------------------------------------------------


def test_hr_gets_a_pdf_with_every_section_in_norwegian(world, emils_data):
    exported = export(world)
    text = flat(pdf_text(exported.content))
    assert exported.filename == "innsynskopi-T004-2026-03-02.pdf"
    assert exported.language == "nb"
    for heading in ("Innsynskopi", "Om deg", "Sykefravær", "Saker som gjelder deg", "Oppfølgingsplaner",
                    "Andre saker", "Varsling", "Hvem som har lest sakene dine", "Hendelser om personopplysningene dine",
                    "Hva som er utelatt, og hvorfor"):
        assert heading in text, heading
    assert "Emil Ansatt" in text and "T004" in text and "Hjemmetjenesten (HJ)" in text
    assert "Rådgiver" in text
    # when, by whom, the legal basis and the deadline
    assert "02.03.2026" in text
    assert "Hanne HR" in text
    assert "art. 15" in text
    assert "én måned" in text


def test_absence_shows_dates_grade_certificate_and_work_relatedness(world, emils_data):
    text = flat(pdf_text(export(world).content))
    assert "02.02.2026" in text
    assert "50 % fra 02.02.2026" in text
    assert "Sykmelding" in text
    assert "Delvis arbeidsrelatert" in text
    assert "diagnose" in text.lower()  # only to say that there is none


def test_the_case_about_him_shows_entries_marked_shared_or_internal(world, emils_data):
    text = flat(pdf_text(export(world).content))
    case = emils_data["case"]
    assert case.number in text
    assert "Psykososial bekymring" in text
    assert "Delt samtale om kveldsvakter." in text
    assert "Internt: sjekk turnusen før neste møte." in text
    assert "Delt med deg" in text and "Intern" in text
    assert "Færre kveldsvakter i april" in text
    assert "Marte Leder" in text


def test_each_entry_row_carries_its_own_marking(world, emils_data):
    hanne = fresh(world.user("hanne"))
    document = access_copy_document(hanne, collect(hanne, world.emil), "nb", datetime(2026, 3, 2, tzinfo=OSLO))
    tables = [b for s in document["sections"] for b in s["blocks"] if b["type"] == "table"]
    entry_rows = {row[5]: row[4] for table in tables if "Delt eller intern" in table["header"][4:5]
                  for row in table["rows"]}
    assert entry_rows["Delt samtale om kveldsvakter."] == "Delt med deg"
    assert entry_rows["Internt: sjekk turnusen før neste møte."] == "Intern"


def test_the_follow_up_plan_and_deadlines_are_in_the_copy(world, emils_data):
    text = flat(pdf_text(export(world).content))
    sick_leave = emils_data["episode"].case
    assert sick_leave.number in text
    assert "Kan ta dagvakter uten tunge løft." in text
    assert "Fritak fra nattevakter." in text
    assert "planversjon 1" in text
    assert "aml § 4-6 (3)" in text  # the plan's deadline with its basis


def test_a_case_about_someone_else_is_listed_by_number_without_its_content(world, emils_data):
    text = flat(pdf_text(export(world).content))
    conflict = emils_data["conflict"]
    assert conflict.number in text
    assert "Vitne" in text
    assert "Ella og en kollega i konflikt" not in text
    assert WITNESS_TEXT not in text


def test_anonymous_reports_and_reports_about_him_never_appear(world, emils_data):
    text = flat(pdf_text(export(world).content))
    assert ANONYMOUS_TEXT not in text
    assert REPORT_ABOUT_EMIL not in text
    assert "Ella" not in text  # neither as the reporter nor as the concerned of the conflict
    # His named report is listed, without its content.
    assert "Uforsvarlig arbeidsmiljø" in text
    assert "Verneutstyret mangler" not in text
    assert "behandles separat av HR" in text
    assert "aml § 2 A-4" in text


def test_the_copy_lists_who_read_his_cases_and_the_events_about_him(world, emils_data):
    text = flat(pdf_text(export(world).content))
    case = emils_data["case"]
    assert f"{case.number} Hanne HR HR Lest" in text
    assert "person.created" in text


def test_the_copy_is_in_english_when_asked(world, emils_data):
    exported = export(world, lang="en")
    text = flat(pdf_text(exported.content))
    assert exported.filename.startswith("access-copy-T004-")
    assert "Access copy" in text and "Cases that concern you" in text
    assert "Shared with you" in text and "Internal" in text
    assert "Psychosocial concern" in text
    assert "assessed separately by HR" in text


def test_user_text_is_text_never_markup(world, clock):
    markup = '#panic("nei") *fet* $x$ ]['
    emils_case(world, description="Beskrivelse " + markup)
    assert markup in flat(pdf_text(export(world).content))


# --- the audit event ----------------------------------------------------------------------------


def test_the_export_writes_one_audit_event_without_content(world, emils_data):
    exported = export(world)
    event = AuditEvent.objects.get(action=EXPORT_ACTION)
    assert event == exported.event
    assert event.object_type == "org.person" and event.object_id == str(world.emil.pk)
    assert event.actor == world.user("hanne")
    assert event.role == "hr"
    assert event.data["sha256"] == exported.sha256
    assert event.data["counts"]["cases"] == 2  # his psychosocial case and the sick-leave case
    stored = str(event.data)
    assert "kveldsvakter" not in stored and "Emil" not in stored


def test_a_refused_export_writes_no_event(world, emils_data):
    with pytest.raises(AccessDenied):
        export(world, key="marte")
    assert not AuditEvent.objects.filter(action=EXPORT_ACTION).exists()


# --- who may export -----------------------------------------------------------------------------


def test_hr_for_helse_may_export_emil_but_not_kari(world, emils_data):
    assert export(world, key="hugo").content.startswith(b"%PDF-")
    with pytest.raises(AccessDenied):
        export(world, key="hugo", person=world.kari)


def test_an_administrator_may_export_and_is_told_what_hr_must_complete(world, emils_data):
    text = flat(pdf_text(export(world, key="ada").content))
    assert "Emil Ansatt" in text
    assert "administrator" in text.lower()
    # The administrator reads no case content.
    assert "Delt samtale om kveldsvakter." not in text
    assert "HR må fullføre" in text


@pytest.mark.parametrize("key", ["marte", "helga", "ella", "emil", "siri", "kim"])
def test_managers_employees_and_safety_reps_may_not_export(world, emils_data, key):
    with pytest.raises(AccessDenied):
        export(world, key=key)


@pytest.fixture
def harassment(world, clock):
    """A harassment case about Emil, restricted to its handlers: Helga (the next manager up, since
    Marte is accused) and Hugo (HR for Helse, involved at once). Hanne handles nothing in it."""
    case = services.open_case(
        world.user("helga"), kind=Kind.HARASSMENT, concerns=[world.emil], parties=[(world.marte, "accused")],
        factors=["harassment"], description="Nedsettende kommentarer fra lederen.",
        source=Source.EMPLOYEE_TOLD, known_at=date(2026, 3, 2),
    )
    assert case.handlers.filter(person=world.hugo, removed_at__isnull=True).exists()
    assert not case.handlers.filter(person=world.hanne).exists()
    return case


def test_a_restricted_case_hr_does_not_handle_is_counted_not_opened(world, harassment):
    collected = collect(fresh(world.user("hanne")), world.emil)
    assert collected.cases == [] and collected.unreadable_cases == 1
    text = flat(pdf_text(export(world, key="hanne").content))
    assert harassment.number not in text
    assert "Nedsettende kommentarer" not in text
    assert "Flere saker knyttet til deg som er begrenset til saksbehandlerne og ikke er med i denne kopien: 1." in text


def test_the_hr_handler_of_a_restricted_case_puts_it_in_the_copy(world, harassment):
    text = flat(pdf_text(export(world, key="hugo").content))
    assert harassment.number in text
    assert "Nedsettende kommentarer fra lederen." in text
    assert "Trakassering" in text


# --- the HTML pages -----------------------------------------------------------------------------


@pytest.fixture
def hr_client(client, world):
    def _client(key="hanne"):
        from tidsnok.access.middleware import has_second_factor

        user = world.user(key)
        if key in ("hanne", "hugo", "ada") and not has_second_factor(user):
            enrol_totp(user)
        client.force_login(user)
        return client

    return _client


def test_hr_finds_the_person_and_sees_the_counts(world, emils_data, hr_client):
    client = hr_client()
    response = client.get("/rapporter/innsyn/", {"sok": "Emil"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Emil Ansatt" in page and "Kari Ansatt" not in page
    response = client.get(f"/rapporter/innsyn/{world.emil.pk}/")
    assert response.status_code == 200
    page = flat(response.content.decode())
    assert "Last ned innsynskopi (PDF)" in page
    assert 'data-count="cases">2<' in page
    assert 'data-count="entries_internal">' in page


def test_hr_downloads_the_copy_as_an_attachment(world, emils_data, hr_client):
    client = hr_client()
    response = client.post(f"/rapporter/innsyn/{world.emil.pk}/pdf", {"lang": "nb"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="innsynskopi-T004-2026-03-02.pdf"'
    assert response["Cache-Control"] == "no-store, private"
    assert "Innsynskopi" in pdf_text(response.content)
    assert AuditEvent.objects.filter(action=EXPORT_ACTION).count() == 1


@pytest.mark.parametrize("key", ["marte", "emil", "kim"])
def test_others_get_404_on_every_page(world, emils_data, hr_client, key):
    client = hr_client(key)
    assert client.get("/rapporter/innsyn/").status_code == 404
    assert client.get(f"/rapporter/innsyn/{world.emil.pk}/").status_code == 404
    assert client.post(f"/rapporter/innsyn/{world.emil.pk}/pdf", {"lang": "nb"}).status_code == 404
    assert not AuditEvent.objects.filter(action=EXPORT_ACTION).exists()


def test_hr_outside_the_persons_scope_gets_404(world, emils_data, hr_client):
    client = hr_client("hugo")
    assert client.get(f"/rapporter/innsyn/{world.kari.pk}/").status_code == 404
    assert client.post(f"/rapporter/innsyn/{world.kari.pk}/pdf", {"lang": "nb"}).status_code == 404
    # Kari is not even found by name.
    assert "Kari Ansatt" not in client.get("/rapporter/innsyn/", {"sok": "Kari"}).content.decode()


def test_an_unknown_person_is_404(world, hr_client):
    client = hr_client()
    assert client.get("/rapporter/innsyn/999999/").status_code == 404
    assert client.post("/rapporter/innsyn/999999/pdf", {"lang": "nb"}).status_code == 404


def test_a_wrong_language_is_a_clear_error(world, emils_data, hr_client):
    client = hr_client()
    response = client.post(f"/rapporter/innsyn/{world.emil.pk}/pdf", {"lang": "de"})
    assert response.status_code == 400
    assert "språk" in response.content.decode()
    assert not AuditEvent.objects.filter(action=EXPORT_ACTION).exists()
    with pytest.raises(UnknownLanguage):
        export(world, lang="de")


def test_the_download_needs_a_post(world, emils_data, hr_client):
    client = hr_client()
    assert client.get(f"/rapporter/innsyn/{world.emil.pk}/pdf").status_code == 405


def test_the_search_list_is_bounded(world, hr_client):
    for n in range(30):
        Person.objects.create(organisation=world.org, employee_number=f"X{n:03d}", name=f"Ekstra Person {n}",
                              unit=world.units["HJ"])
    page = hr_client().get("/rapporter/innsyn/", {"sok": "Ekstra"}).content.decode()
    assert page.count("Ekstra Person") == 20
    assert "Flere enn 20 treff" in page


# --- query count --------------------------------------------------------------------------------


def _queries(world, key="hanne") -> int:
    hanne = fresh(world.user(key))
    with CaptureQueriesContext(connection) as captured:
        # Reading and wording: every attribute the document uses is read here too.
        collected = collect(hanne, Person.objects.get(pk=world.emil.pk))
        access_copy_document(hanne, collected, "nb", datetime(2026, 3, 2, tzinfo=OSLO))
    return len(captured)


def test_the_number_of_queries_does_not_grow_with_cases_and_episodes(world, clock):
    emils_case(world)
    absence_services.register_episode(
        world.user("marte"), person=world.emil, start=date(2026, 1, 5), end=date(2026, 1, 6),
        certified=Certification.SELF,
    )
    few = _queries(world)
    for n in range(3):
        emils_case(world)
        start = date(2025, 1, 5) + timedelta(days=40 * n)
        absence_services.register_episode(
            world.user("marte"), person=world.emil, start=start, end=start + timedelta(days=1),
            certified=Certification.SELF,
        )
    assert _queries(world) == few
    collected = collect(fresh(world.user("hanne")), world.emil)
    assert len(collected.cases) == 4 and len(collected.episodes) == 4


# --- requests for a copy (stage 2) ----------------------------------------------------------------


def test_one_month_after_counts_calendar_months():
    assert one_month_after(date(2026, 3, 2)) == date(2026, 4, 2)
    assert one_month_after(date(2026, 1, 31)) == date(2026, 2, 28)
    assert one_month_after(date(2028, 1, 31)) == date(2028, 2, 29)
    assert one_month_after(date(2026, 12, 15)) == date(2027, 1, 15)


def test_an_employee_asks_for_her_copy_and_hr_in_scope_is_notified(world, clock, client):
    client.force_login(world.user("emil"))
    page = client.get("/rapporter/innsyn/be-om/").content.decode()
    assert "Be om innsynskopi" in page and "Du har ikke bedt om en kopi." in page
    response = client.post("/rapporter/innsyn/be-om/", follow=True)
    assert "Kravet ditt er mottatt. HR gir deg kopien innen 02.04.2026." in response.content.decode()
    request = AccessRequest.objects.get()
    assert (request.person, request.received_on, request.due_on) == (world.emil, date(2026, 3, 2), date(2026, 4, 2))
    event = AuditEvent.objects.get(action="person.access_requested")
    assert (event.object_type, event.object_id, event.actor) == ("org.person", str(world.emil.pk), world.user("emil"))
    assert event.data == {"request": request.pk, "received_on": "2026-03-02", "due_on": "2026-04-02"}
    notified = set(Notification.objects.filter(kind="access_request").values_list("user__email", flat=True))
    assert notified == {"hanne@test.no", "hugo@test.no"}  # HR for the whole organisation and for Helse


def test_hr_in_scope_gets_an_e_mail_with_the_due_date_and_not_who_asked(world, clock, client):
    from tidsnok.notify.messages import build_message
    from tidsnok.notify.models import Mail

    client.force_login(world.user("emil"))
    client.post("/rapporter/innsyn/be-om/")
    mails = {mail.to: mail for mail in Mail.objects.filter(kind="access_request")}
    assert set(mails) == {"hanne@test.no", "hugo@test.no"}  # one each, though the request is one
    message = build_message(mails["hugo@test.no"])
    assert message.subject == "tidsnok: en ansatt ber om innsynskopi, frist 02.04.2026"
    assert "/rapporter/innsyn/" in message.body and "02.04.2026" in message.body
    assert "Emil" not in message.subject + message.body


def test_hr_is_reminded_a_week_before_the_copy_is_due_and_once_it_is_overdue(world, clock, client, hr_client):
    from tidsnok.cases import hooks
    from tidsnok.notify.models import Mail
    from tidsnok.reports.access_copy_requests import remind_due

    assert remind_due in hooks.sweep_upkeep  # every sweep round runs it
    client.force_login(world.user("emil"))
    client.post("/rapporter/innsyn/be-om/")  # 02.03, due 02.04
    clock.move_to(at(25))
    assert remind_due() == 0  # eight days left
    clock.move_to(at(26))
    assert remind_due() == 1 and remind_due() == 0  # a week left: once
    soon = Notification.objects.filter(kind="access_due")
    assert set(soon.values_list("user__email", flat=True)) == {"hanne@test.no", "hugo@test.no"}
    assert Mail.objects.filter(kind="access_due").count() == 2
    page = hr_client("hanne").get("/meldinger/").content.decode()
    assert '<a href="/rapporter/innsyn/">En innsynskopi skal gis innen 02.04.2026' in page

    clock.move_to(datetime(2026, 4, 3, 8, 0, tzinfo=OSLO))
    assert remind_due() == 1 and remind_due() == 0
    overdue = Mail.objects.get(kind="access_due", to="hugo@test.no", data__overdue=True)
    from tidsnok.notify.messages import build_message

    message = build_message(overdue)
    assert message.subject == "tidsnok: en innsynskopi skulle vært gitt innen 02.04.2026"
    assert "Emil" not in message.subject + message.body

    # Delivered: no more reminders.
    AccessRequest.objects.update(delivered_at=timezone.now())
    AccessRequest.objects.update(reminded="")
    assert remind_due() == 0


def test_hr_goes_from_the_notification_to_the_open_requests(world, clock, client, hr_client):
    client.force_login(world.user("emil"))
    client.post("/rapporter/innsyn/be-om/")
    page = hr_client("hugo").get("/meldinger/").content.decode()
    assert '<a href="/rapporter/innsyn/">En ansatt har bedt om innsynskopi' in page


def test_asking_twice_keeps_one_open_request(world, clock, client):
    client.force_login(world.user("emil"))
    client.post("/rapporter/innsyn/be-om/")
    response = client.post("/rapporter/innsyn/be-om/", follow=True)
    assert "Du har allerede bedt om innsyn" in response.content.decode()
    assert AccessRequest.objects.count() == 1
    assert AuditEvent.objects.filter(action="person.access_requested").count() == 1


def test_hr_sees_open_requests_in_scope_with_overdue_marked(world, clock, client, hr_client):
    client.force_login(world.user("emil"))
    client.post("/rapporter/innsyn/be-om/")
    client.force_login(world.user("kari"))
    client.post("/rapporter/innsyn/be-om/")
    hugo = hr_client("hugo")
    page = hugo.get("/rapporter/innsyn/").content.decode()
    assert "Emil Ansatt" in page and "02.04.2026" in page
    assert "Kari Ansatt" not in page  # Skole is outside Hugo's scope
    assert "Overskredet" not in page
    clock.move_to(at(2) + timedelta(days=40))
    response = hr_client("hugo").get("/rapporter/innsyn/")  # a new login: the old session has expired
    assert response.status_code == 200
    page = response.content.decode()
    assert "Overskredet" in page


def test_open_requests_come_a_page_at_a_time_the_most_urgent_first_and_none_is_left_out(
        world, clock, client, hr_client, monkeypatch):
    from tidsnok.reports import access_copy_views

    monkeypatch.setattr(access_copy_views, "REQUEST_LIMIT", 1)
    client.force_login(world.user("emil"))
    client.post("/rapporter/innsyn/be-om/")
    clock.move_to(at(2) + timedelta(days=1))
    client.force_login(world.user("kari"))
    client.post("/rapporter/innsyn/be-om/")
    hanne = hr_client()
    first = hanne.get("/rapporter/innsyn/").content.decode()
    second = hanne.get("/rapporter/innsyn/", {"side": 2}).content.decode()
    assert "Emil Ansatt" in first and "Kari Ansatt" not in first  # Emil asked first: due first
    assert "Kari Ansatt" in second and "Emil Ansatt" not in second
    assert "Side 1 av 2 (2 åpne)" in first and 'rel="next"' in first


def test_hr_marks_the_request_delivered_with_the_export(world, clock, client, hr_client):
    client.force_login(world.user("emil"))
    client.post("/rapporter/innsyn/be-om/")
    request = AccessRequest.objects.get()
    hanne = hr_client()
    page = hanne.get(f"/rapporter/innsyn/{world.emil.pk}/").content.decode()
    assert f'name="request" value="{request.pk}"' in page
    response = hanne.post(f"/rapporter/innsyn/{world.emil.pk}/pdf", {"lang": "nb", "request": request.pk})
    assert response.status_code == 200
    text = flat(pdf_text(response.content))
    assert "Kravet ditt kom inn 02.03.2026" in text and "Svarfrist 02.04.2026" in text
    request.refresh_from_db()
    exported = AuditEvent.objects.get(action=EXPORT_ACTION)
    delivered = AuditEvent.objects.get(action="person.access_request_delivered")
    assert request.delivered_by == world.user("hanne") and request.delivered_sha256 == exported.data["sha256"]
    assert delivered.object_id == str(world.emil.pk)
    assert delivered.data == {"request": request.pk, "sha256": exported.data["sha256"], "late": False}
    assert delivered.seq == exported.seq + 1  # written together
    # The employee sees it delivered; HR's list is empty again.
    client.force_login(world.user("emil"))
    assert "Ikke ennå" not in client.get("/rapporter/innsyn/be-om/").content.decode()
    assert "Ingen åpne krav om innsyn." in hr_client().get("/rapporter/innsyn/").content.decode()


def test_a_delivered_request_cannot_be_delivered_again(world, clock, client, hr_client):
    client.force_login(world.user("emil"))
    client.post("/rapporter/innsyn/be-om/")
    request = AccessRequest.objects.get()
    hanne = hr_client()
    answer = {"lang": "nb", "request": request.pk}
    assert hanne.post(f"/rapporter/innsyn/{world.emil.pk}/pdf", answer).status_code == 200
    again = hanne.post(f"/rapporter/innsyn/{world.emil.pk}/pdf", answer)
    assert again.status_code == 400
    assert "allerede besvart" in again.content.decode()
    assert AuditEvent.objects.filter(action=EXPORT_ACTION).count() == 1
    assert AuditEvent.objects.filter(action="person.access_request_delivered").count() == 1


def test_a_request_of_another_person_is_refused(world, clock, client, hr_client):
    client.force_login(world.user("ella"))
    client.post("/rapporter/innsyn/be-om/")
    request = AccessRequest.objects.get()
    response = hr_client().post(f"/rapporter/innsyn/{world.emil.pk}/pdf", {"lang": "nb", "request": request.pk})
    assert response.status_code == 400
    request.refresh_from_db()
    assert request.is_open
    assert not AuditEvent.objects.filter(action=EXPORT_ACTION).exists()

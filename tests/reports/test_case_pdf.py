"""Saksdokumentasjon: one case as a PDF, for the inspector who asks.

A case is built through the services (open, conversation, assessment, measure,
the employee's response, follow-up, close), exported, and read back with pypdf:
the text must be there, selectable, in the reader's language.
"""

import hashlib
import io
import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from pypdf import PdfReader

from tests.conftest import enrol_totp
from tidsnok.access.policy import AccessDenied
from tidsnok.access.services import create_token
from tidsnok.audit.models import AuditCheckpoint, AuditEvent
from tidsnok.audit.services import head, record, verify_chain
from tidsnok.cases import services
from tidsnok.cases.models import Entry, EntryKind, Kind, Measure, MeasureKind, MeasureStatus, Source, Visibility
from tidsnok.reports.case_pdf import _case_events, export_case_pdf

OSLO = ZoneInfo("Europe/Oslo")
# User text that would be markup if it were pasted into a typst source.
MARKUP = '#panic("nei") *fet* $x$ ]['


def at(day: int, hour: int = 10, minute: int = 15) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=OSLO)


def pdf_text(content: bytes) -> str:
    assert content.startswith(b"%PDF-")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def flat(text: str) -> str:
    """The text with all whitespace collapsed, for phrases that may wrap."""
    return re.sub(r"\s+", " ", text)


@pytest.fixture
def clock():
    with time_machine.travel(at(4), tick=False) as traveller:
        yield traveller


@pytest.fixture
def full_case(world, clock):
    """A workload case from first knowledge to closure, recorded a little late
    at every step, as real cases are."""
    marte = world.user("marte")
    # Known Monday 2 March, registered Wednesday 4 March.
    case = services.open_case(
        marte, kind=Kind.PSYCHOSOCIAL, concerns=[world.emil], factors=["workload"],
        description="Emil sier han ikke rekker arbeidsoppgavene; særlig økt pågang på kveldsvakter. " + MARKUP,
        source=Source.EMPLOYEE_TOLD, known_at=date(2026, 3, 2),
        known_at_reason="Emil ba meg vente til han hadde snakket med verneombudet.",
    )
    clock.move_to(at(5))
    services.add_entry(marte, case, kind=EntryKind.CONVERSATION, occurred_on=date(2026, 3, 3),
                       text="Samtale om arbeidsmengde og kveldsvakter.",
                       data={"participants": [world.emil.pk, world.marte.pk]})
    services.add_entry(marte, case, kind=EntryKind.ASSESSMENT, occurred_on=date(2026, 3, 5),
                       text="Belastningen er for høy over tid.",
                       data={"health_risk": "medium", "work_related": "yes", "factors_confirmed": ["workload"]})
    measure = services.add_measure(marte, case, what="Færre kveldsvakter i april", kind=MeasureKind.ORGANISATIONAL,
                                   owner=world.marte, due=date(2026, 3, 20), area="workload")
    clock.move_to(at(6, 9, 0))
    services.respond_to_measure(world.user("emil"), measure, agrees=False,
                                comment="Jeg ønsker også hjelp med prioritering.")
    clock.move_to(at(23, 14, 30))
    services.add_entry(marte, case, kind=EntryKind.FOLLOW_UP, occurred_on=date(2026, 3, 20),
                       text="Vaktplanen er endret.", measure=measure)
    measure.refresh_from_db()
    services.update_measure(marte, measure, measure.version, status=MeasureStatus.DONE)
    case.refresh_from_db()
    services.close_case(marte, case, "Arbeidsmengden er redusert; Emil opplever bedring.", case.version)
    clock.move_to(at(24, 8, 0))
    case.refresh_from_db()
    return case


def bearer(world, key: str) -> dict:
    _, raw = create_token(None, world.user(key))
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


# --- content ------------------------------------------------------------------------------------


def test_the_pdf_holds_the_case_facts_in_norwegian(world, full_case):
    exported = export_case_pdf(world.user("marte"), full_case, "nb")
    text = pdf_text(exported.content)
    assert exported.filename == "SAK-2026-0001.pdf"
    assert "Saksdokumentasjon" in text
    assert "SAK-2026-0001" in text
    assert "Psykososial bekymring" in text
    assert "Hjemmetjenesten (HJ)" in text
    assert "Avsluttet" in text
    assert "02.03.2026" in text  # when the manager first knew
    assert "Den ansatte fortalte det" in text  # how she learnt of it
    assert "Hvorfor registrert først nå Emil ba meg vente til han hadde snakket med verneombudet." in flat(text)
    assert "Arbeidsmengde og tidspress" in text and "aml § 4-3 (2) c" in text
    assert "Emil Ansatt" in text and "Marte Leder" in text
    assert "særlig økt pågang på kveldsvakter" in flat(text)  # æøå as real text


def test_user_text_is_shown_as_text_never_as_markup(world, full_case):
    text = flat(pdf_text(export_case_pdf(world.user("marte"), full_case, "nb").content))
    assert MARKUP in text


def test_deadlines_show_due_against_met_with_their_basis_and_why(world, full_case):
    text = flat(pdf_text(export_case_pdf(world.user("marte"), full_case, "nb").content))
    first = full_case.deadlines.get(rule_id="psychosocial.first_conversation")
    assert first.met_on == date(2026, 3, 3)
    assert "Første samtale med den det gjelder" in text
    assert "Dokumentert vurdering" in text
    # Due 9 March (5 working days after Monday 2 March), met 3 March: in time.
    assert "09.03.2026" in text and "03.03.2026 (i tide)" in text
    assert "Oppfylt i tide" in text
    # The basis of the number and of the duty, and the reason for the date.
    assert "tidsnoks standardfrist (ikke fastsatt i lov)" in text
    assert "aml § 4-3 (1)–(4)" in text
    assert "Start 02.03.2026 + 5 arbeidsdager = 09.03.2026" in text
    assert "hoppet over: 07.03–08.03 helg" in text


def test_each_entry_shows_when_it_happened_and_when_it_was_recorded(world, full_case):
    text = flat(pdf_text(export_case_pdf(world.user("marte"), full_case, "nb").content))
    # The conversation happened on 3 March and was written down on 5 March.
    assert re.search(r"03\.03\.2026 05\.03\.2026 10:15 2 dager senere Samtale", text)
    # The follow-up happened on 20 March, recorded on 23 March.
    assert re.search(r"20\.03\.2026 23\.03\.2026 14:30 3 dager senere Oppfølging", text)
    # What was known when: registered two days after the manager knew.
    assert "Registrert i tidsnok: 04.03.2026 10:15 (2 dager senere)" in text


def test_measures_show_owner_due_status_and_the_employees_disagreement(world, full_case):
    text = flat(pdf_text(export_case_pdf(world.user("marte"), full_case, "nb").content))
    assert "Færre kveldsvakter i april" in text
    assert "Organisatorisk / jobbsiden – Arbeidsmengde" in text
    assert "Ansvarlig Marte Leder" in text
    assert "Frist 20.03.2026" in text
    assert "Status Utført (23.03.2026)" in text
    assert "Uenig – Emil Ansatt, 06.03.2026: Jeg ønsker også hjelp med prioritering." in text


def test_participants_are_listed_with_their_conversations(world, full_case):
    text = flat(pdf_text(export_case_pdf(world.user("marte"), full_case, "nb").content))
    assert "Medvirkning og deltakere" in text
    assert "Emil Ansatt Den saken gjelder, Tok opp saken 03.03.2026" in text


def test_the_pdf_names_the_audit_head_and_the_verification_at_export(world, full_case):
    seq, digest = head()
    exported = export_case_pdf(world.user("marte"), full_case, "nb")
    text = flat(pdf_text(exported.content))
    assert f"hendelse nr. {seq}" in text
    assert digest in text.replace(" ", "")
    assert "Revisjonskjeden er kontrollert ved eksport og er intakt" in text
    # The case's own events are listed by number.
    opened = AuditEvent.objects.get(action="case.opened", object_id=str(full_case.pk))
    assert f"{opened.seq} 04.03.2026 10:15 case.opened Marte Leder {opened.hash[:16]}" in text


def test_the_events_listed_are_those_about_the_case_its_entries_and_measures_in_order(world, full_case,
                                                                                       harassment_case):
    entries = {str(pk) for pk in Entry.objects.filter(case=full_case).values_list("pk", flat=True)}
    measures = {str(pk) for pk in Measure.objects.filter(case=full_case).values_list("pk", flat=True)}
    assert entries and measures
    expected = [
        e.seq for e in AuditEvent.objects.order_by("seq")
        if (e.object_type, e.object_id) == ("cases.case", str(full_case.pk))
        or (e.object_type == "cases.entry" and e.object_id in entries)
        or (e.object_type == "cases.measure" and e.object_id in measures)
    ]
    listed = [row[0] for row in _case_events(full_case)]
    assert listed == expected
    assert {"cases.case", "cases.entry", "cases.measure"} <= {row[4] for row in _case_events(full_case)}


def test_a_broken_chain_is_reported_in_the_pdf(world, full_case):
    event = AuditEvent.objects.get(action="case.closed")
    AuditEvent.objects.filter(pk=event.pk).update(data={"tampered": True})
    text = flat(pdf_text(export_case_pdf(world.user("marte"), full_case, "nb").content))
    assert f"Revisjonskjeden er BRUTT ved hendelse {event.seq}" in text


def test_the_pdf_is_in_english_for_an_english_reader(world, full_case):
    user = world.user("marte")
    user.language = "en"
    user.save(update_fields=["language"])
    exported = export_case_pdf(user, full_case)
    text = flat(pdf_text(exported.content))
    assert exported.language == "en"
    assert "Case documentation" in text
    assert "Psychosocial concern" in text
    assert "First conversation with the person concerned" in text
    assert "Start 02.03.2026 + 5 working days = 09.03.2026" in text
    assert "03.03.2026 (in time)" in text
    assert re.search(r"03\.03\.2026 05\.03\.2026 10:15 2 days later Conversation", text)
    assert "Disagrees – Emil Ansatt, 06.03.2026" in text
    assert "The audit chain was verified at export and is intact" in text
    assert "Saksdokumentasjon" not in text


def test_the_pdf_is_archival_and_uses_only_the_fonts_inside_typst(world, full_case):
    content = export_case_pdf(world.user("marte"), full_case, "nb").content
    assert b"pdfaid:part" in content  # PDF/A-2u
    fonts = {name.split(b"+")[-1] for name in re.findall(rb"/BaseFont\s*/([\w+\-]+)", content)}
    assert fonts and all(f.startswith((b"LibertinusSerif", b"DejaVuSansMono")) for f in fonts), fonts


def test_a_character_the_fonts_lack_still_exports(world, clock):
    case = services.open_case(
        world.user("marte"), kind=Kind.PSYCHOSOCIAL, concerns=[world.emil], source=Source.OBSERVED,
        description="Stemningen er god \U0001F600 men travel.", known_at=date(2026, 3, 3),
    )
    text = pdf_text(export_case_pdf(world.user("marte"), case, "nb").content)
    assert "Stemningen er god" in text and "men travel." in text


# --- verifying from a checkpoint ----------------------------------------------------------------


def _other_activity(world, count=3):
    """Events elsewhere in the installation after the checkpoint."""
    for i in range(count):
        record(world.user("marte"), "org.person.changed", data={"n": i}, object_type="org.person", object_id=str(i))


def test_the_pdf_names_the_checkpoint_and_the_events_verified_now(world, full_case, clock):
    checkpoint = verify_chain(checkpoint=True).saved_checkpoint  # the nightly `tidsnok audit verify`
    clock.move_to(at(24, 9, 30))
    _other_activity(world)
    seq, _ = head()
    assert seq > checkpoint.seq + 1
    exported = export_case_pdf(world.user("marte"), full_case, "nb")
    text = flat(pdf_text(exported.content))
    assert (
        f"Revisjonskjeden er intakt. Alle hendelser til og med nr. {checkpoint.seq} ble kontrollert i sin helhet "
        f"24.03.2026 08:00 (kontrollpunkt); hendelsene {checkpoint.seq + 1}–{seq} ble kontrollert nå, ved eksport."
    ) in text
    assert f"hendelse nr. {seq}" in text
    assert exported.event.data["chain_checkpoint_seq"] == checkpoint.seq
    assert exported.event.data["chain_head_seq"] == seq


def test_the_pdf_names_a_checkpoint_advanced_since_the_full_verification(world, full_case, clock):
    user = world.user("marte")
    user.language = "en"
    user.save(update_fields=["language"])
    full = verify_chain(checkpoint=True).saved_checkpoint
    clock.move_to(at(24, 9, 30))
    _other_activity(world)
    first = export_case_pdf(user, full_case)  # verifies from the full run's checkpoint, and advances it
    assert first.event.data["chain_checkpoint_seq"] == full.seq
    clock.move_to(at(24, 11, 0))
    _other_activity(world)
    seq, _ = head()
    second = export_case_pdf(user, full_case)
    text = flat(pdf_text(second.content))
    advanced = first.event.seq - 1  # the first export verified up to the event before its own
    assert (
        f"The audit chain is intact. Every event up to no. {full.seq} was verified in full on 24.03.2026 08:00, "
        f"those after it up to no. {advanced} in later checks, the last on 24.03.2026 09:30 (checkpoint); "
        f"events {advanced + 1}–{seq} were verified now, at export."
    ) in text
    assert second.event.data["chain_checkpoint_seq"] == advanced


def test_the_first_pdf_without_a_checkpoint_verifies_the_whole_chain(world, full_case):
    seq, _ = head()
    exported = export_case_pdf(world.user("marte"), full_case, "nb")
    text = flat(pdf_text(exported.content))
    assert f"Revisjonskjeden er kontrollert ved eksport og er intakt: {seq} hendelser stemmer." in text
    assert exported.event.data["chain_checkpoint_seq"] == 0


def test_a_tampered_event_after_the_checkpoint_is_reported_in_the_pdf(world, full_case, clock):
    checkpoint = verify_chain(checkpoint=True).saved_checkpoint
    _other_activity(world)
    event = AuditEvent.objects.filter(seq__gt=checkpoint.seq).order_by("seq").first()
    AuditEvent.objects.filter(pk=event.pk).update(data={"tampered": True})
    exported = export_case_pdf(world.user("marte"), full_case, "nb")
    text = flat(pdf_text(exported.content))
    assert f"Revisjonskjeden er BRUTT ved hendelse {event.seq}: innholdet stemmer ikke med hashen." in text
    assert (
        f"Kontrollert fra kontrollpunktet ved hendelse {checkpoint.seq} (24.03.2026 08:00); "
        "hendelsene før det ble ikke lest på nytt."
    ) in text
    assert exported.event.data["chain_verified"] is False


def test_a_tampered_event_at_the_checkpoint_is_reported_in_the_pdf(world, full_case, clock):
    checkpoint = verify_chain(checkpoint=True).saved_checkpoint
    AuditEvent.objects.filter(seq=checkpoint.seq).update(action="case.tampered")
    text = flat(pdf_text(export_case_pdf(world.user("marte"), full_case, "nb").content))
    assert (
        f"Revisjonskjeden er BRUTT ved hendelse {checkpoint.seq}: "
        "den stemmer ikke lenger med kontrollpunktet ved denne hendelsen."
    ) in text


def test_a_tampered_checkpoint_makes_the_pdf_verify_the_whole_chain(world, full_case, clock):
    checkpoint = verify_chain(checkpoint=True).saved_checkpoint
    AuditCheckpoint.objects.filter(pk=checkpoint.pk).update(seq=checkpoint.seq + 50)
    seq, _ = head()
    exported = export_case_pdf(world.user("marte"), full_case, "nb")
    text = flat(pdf_text(exported.content))
    assert f"Revisjonskjeden er kontrollert ved eksport og er intakt: {seq} hendelser stemmer." in text
    assert "kontrollpunkt" not in text
    assert exported.event.data["chain_checkpoint_seq"] == 0


# --- the audit event ----------------------------------------------------------------------------


def test_the_export_is_audited_with_the_files_fingerprint(world, full_case):
    before = AuditEvent.objects.filter(action="case.exported").count()
    exported = export_case_pdf(world.user("marte"), full_case, "nb")
    event = AuditEvent.objects.get(action="case.exported")
    assert before == 0
    assert event == exported.event
    assert event.object_type == "cases.case" and event.object_id == str(full_case.pk)
    assert event.actor == world.user("marte")
    assert event.data["sha256"] == hashlib.sha256(exported.content).hexdigest()
    assert event.data["chain_verified"] is True
    assert verify_chain().ok


def test_exporting_changes_nothing_in_the_case(world, full_case):
    deadlines = list(full_case.deadlines.values())
    entries = Entry.objects.filter(case=full_case).count()
    export_case_pdf(world.user("marte"), full_case, "nb")
    assert list(full_case.deadlines.values()) == deadlines
    assert Entry.objects.filter(case=full_case).count() == entries


def test_the_concerned_employee_cannot_export_through_the_service(world, full_case):
    with pytest.raises(AccessDenied):
        export_case_pdf(world.user("emil"), full_case, "nb")
    assert not AuditEvent.objects.filter(action="case.exported").exists()


# --- HTML download and API ----------------------------------------------------------------------


def test_the_handler_downloads_the_pdf_as_an_attachment(world, full_case, client):
    client.force_login(world.user("marte"))
    response = client.get(f"/rapporter/saker/{full_case.pk}/pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="SAK-2026-0001.pdf"'
    assert response["Cache-Control"] == "no-store, private"
    assert "Saksdokumentasjon" in pdf_text(response.content)
    assert AuditEvent.objects.filter(action="case.exported", actor=world.user("marte")).count() == 1


def test_the_download_can_be_asked_for_in_english(world, full_case, client):
    client.force_login(world.user("marte"))
    response = client.get(f"/rapporter/saker/{full_case.pk}/pdf?lang=en")
    assert "Case documentation" in pdf_text(response.content)


def test_the_api_returns_the_pdf_in_the_users_language(world, full_case, client):
    response = client.get(f"/api/v1/cases/{full_case.pk}/pdf", **bearer(world, "marte"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="SAK-2026-0001.pdf"'
    assert "Saksdokumentasjon" in pdf_text(response.content)
    english = client.get(f"/api/v1/cases/{full_case.pk}/pdf?lang=en", **bearer(world, "marte"))
    assert "Case documentation" in pdf_text(english.content)
    assert AuditEvent.objects.filter(action="case.exported").count() == 2


@pytest.mark.parametrize("key", ["emil", "kim", "sander", "siri"])
def test_people_without_handler_access_get_404(world, full_case, client, key):
    client.force_login(world.user(key))
    assert client.get(f"/rapporter/saker/{full_case.pk}/pdf").status_code == 404
    response = client.get(f"/api/v1/cases/{full_case.pk}/pdf", **bearer(world, key))
    assert response.status_code == 404
    assert response.json()["message"]
    assert not AuditEvent.objects.filter(action="case.exported").exists()


def test_an_unknown_case_is_404(world, client):
    client.force_login(world.user("marte"))
    assert client.get("/rapporter/saker/999999/pdf").status_code == 404
    assert client.get("/api/v1/cases/999999/pdf", **bearer(world, "marte")).status_code == 404


def test_logged_out_visitors_are_sent_to_the_login(world, full_case, client):
    response = client.get(f"/rapporter/saker/{full_case.pk}/pdf")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
    assert client.get(f"/api/v1/cases/{full_case.pk}/pdf").status_code == 401


# --- impartiality -------------------------------------------------------------------------------


@pytest.fixture
def harassment_case(world, clock):
    enrol_totp(world.user("hanne"))
    return services.open_case(
        world.user("helga"), kind=Kind.HARASSMENT, concerns=[world.emil], parties=[(world.marte, "accused")],
        factors=["harassment"], description="Emil forteller om nedsettende kommentarer fra lederen.",
        source=Source.EMPLOYEE_TOLD, known_at=date(2026, 3, 3),
    )


def test_the_accused_manager_gets_404_through_the_view_and_the_api(world, harassment_case, client):
    client.force_login(world.user("marte"))
    assert client.get(f"/rapporter/saker/{harassment_case.pk}/pdf").status_code == 404
    assert client.get(f"/api/v1/cases/{harassment_case.pk}/pdf").status_code == 404
    assert client.get(f"/api/v1/cases/{harassment_case.pk}/pdf", **bearer(world, "marte")).status_code == 404
    with pytest.raises(AccessDenied):
        export_case_pdf(world.user("marte"), harassment_case, "nb")
    assert not AuditEvent.objects.filter(action="case.exported").exists()


def test_the_next_manager_exports_the_harassment_case_with_the_exclusion(world, harassment_case, client):
    client.force_login(world.user("helga"))
    response = client.get(f"/rapporter/saker/{harassment_case.pk}/pdf")
    assert response.status_code == 200
    text = flat(pdf_text(response.content))
    assert "Utelukket for habilitet" in text
    assert "Marte Leder er utelukket fra saken for habilitet (part i saken: anklaget)" in text
    assert "Begrenset tilgang" in text
    assert "HR involvert: Hugo HR Helse" in text


# --- size ---------------------------------------------------------------------------------------


def test_a_case_with_200_entries_exports(world, clock):
    marte = world.user("marte")
    case = services.open_case(
        marte, kind=Kind.CONFLICT, concerns=[world.ella], description="Langvarig konflikt i teamet.",
        source=Source.OBSERVED, known_at=date(2026, 3, 2),
    )
    Entry.objects.bulk_create([
        Entry(case=case, kind=EntryKind.NOTE, occurred_on=date(2026, 3, 2 + n % 3), author=world.marte,
              visibility=Visibility.INTERNAL, text=f"Notat nummer {n}: oppfølging av teamet, æøå.")
        for n in range(200)
    ])
    exported = export_case_pdf(marte, case, "nb")
    reader = PdfReader(io.BytesIO(exported.content))
    text = flat("\n".join(page.extract_text() for page in reader.pages))
    assert len(reader.pages) > 5
    assert "Notat nummer 0:" in text and "Notat nummer 199:" in text
    assert AuditEvent.objects.filter(action="case.exported", object_id=str(case.pk)).count() == 1


def test_the_reasons_the_rules_gave_are_in_the_documents_language_whatever_the_session(world, full_case):
    from django.utils import translation

    reasons = set(full_case.deadlines.exclude(reason_code="").values_list("reason_code", flat=True))
    assert "case_closed" in reasons
    with translation.override("en"):
        norwegian = flat(pdf_text(export_case_pdf(world.user("marte"), full_case, "nb").content))
    with translation.override("nb"):
        english = flat(pdf_text(export_case_pdf(world.user("marte"), full_case, "en").content))
    assert "Saken ble avsluttet." in norwegian and "The case was closed." not in norwegian
    assert "The case was closed." in english and "Saken ble avsluttet." not in english

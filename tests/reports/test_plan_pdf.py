"""Oppfølgingsplan: one version of the follow-up plan as a PDF for the doctor and
NAV. Built through the absence services, exported, and read back with pypdf."""

import hashlib
import io
import re
from datetime import date

import pytest
import time_machine
from pypdf import PdfReader

from tidsnok.absence import services
from tidsnok.access.policy import AccessDenied
from tidsnok.access.services import create_token
from tidsnok.audit.models import AuditEvent
from tidsnok.reports.plan_pdf import export_plan_pdf

# User text that would be markup if it were pasted into a typst source.
MARKUP = '#panic("nei") *fet* $x$ ]['


def pdf_text(content: bytes) -> str:
    assert content.startswith(b"%PDF-")
    return re.sub(r"\s+", " ", "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(content)).pages))


def bearer(world, key: str) -> dict:
    _, raw = create_token(None, world.user(key))
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


@pytest.fixture
def plan(world):
    """Emil on 100 % doctor-certified leave from 2 November; a plan made on
    20 November that he disagreed with, then a second version he approved,
    sent to the doctor."""
    marte = world.user("marte")
    with time_machine.travel(date(2026, 11, 20), tick=False):
        episode = services.register_episode(marte, person=world.emil, start=date(2026, 11, 2), certified="doctor",
                                            grade=100)
        first = services.save_plan(
            marte, episode.case, work_tasks_and_capacity="Kan ta kontorarbeid og telefonoppfølging, ikke løft.",
            employer_measures="Kortere vakter, fritak fra kveldsvakter. " + MARKUP,
            further_follow_up="Samtale hver fredag.\nNy vurdering om tre uker.",
        )
        services.respond_to_plan(world.user("emil"), first, approves=False, comment="Fredager passer dårlig.")
    with time_machine.travel(date(2026, 11, 24), tick=False):
        second = services.save_plan(
            marte, episode.case, work_tasks_and_capacity="Kan ta kontorarbeid og telefonoppfølging, ikke løft.",
            employer_measures="Kortere vakter, fritak fra kveldsvakter.",
            assisted_measures="Tilretteleggingstilskudd fra NAV søkes.",
            further_follow_up="Samtale hver torsdag.",
        )
        services.respond_to_plan(world.user("emil"), second, approves=True, comment="Torsdag er fint.")
        services.record_plan_sent(marte, second, recipient="doctor", sent_on=date(2026, 11, 24))
    with time_machine.travel(date(2026, 11, 25), tick=False):
        yield episode.case


def test_the_plan_pdf_holds_navs_structure_and_the_employees_answer(world, plan):
    version = plan.follow_up_plan.versions.get(number=2)
    exported = export_plan_pdf(world.user("marte"), version, "nb")
    text = pdf_text(exported.content)
    assert exported.filename == f"oppfolgingsplan-{plan.number}-v2.pdf"
    for phrase in (
        "Oppfølgingsplan", "Emil Ansatt", "Test-kommune (org.nr. 123456789)", "Første fraværsdag 02.11.2026",
        "Versjon 2, utarbeidet 24.11.2026", "aml § 4-6 (3)",
        "Arbeidsoppgaver og arbeidsevne", "Kan ta kontorarbeid og telefonoppfølging, ikke løft.",
        "Tilrettelegging og tiltak fra arbeidsgiver", "Kortere vakter, fritak fra kveldsvakter.",
        "Tiltak med bistand fra NAV eller andre", "Tilretteleggingstilskudd fra NAV søkes.",
        "Plan for videre oppfølging", "Samtale hver torsdag.",
        "Arbeidstakerens svar", "Arbeidstakeren er enig i planen.", "Torsdag er fint.",
        "Sendt til sykmelder 24.11.2026",
    ):
        assert phrase in text, phrase


def test_the_plan_pdf_holds_nothing_medical(world, plan):
    version = plan.follow_up_plan.versions.get(number=2)
    text = pdf_text(export_plan_pdf(world.user("marte"), version, "nb").content).lower()
    # Neither the grade nor the kind of certificate: the plan is about the work.
    assert "100 %" not in text and "grad" not in text
    assert "sykmelding" not in text and "egenmelding" not in text
    assert "diagnose" in text  # only in the sentence saying there is none
    assert text.count("diagnose") == 1


def test_an_earlier_version_is_exported_as_it_was_and_says_a_newer_exists(world, plan):
    version = plan.follow_up_plan.versions.get(number=1)
    text = pdf_text(export_plan_pdf(world.user("marte"), version, "nb").content)
    assert "Det finnes en nyere versjon av planen (versjon 2)." in text
    assert "Arbeidstakeren er uenig i planen." in text and "Fredager passer dårlig." in text
    assert MARKUP in text  # user text is text, never markup
    assert "Samtale hver fredag. Ny vurdering om tre uker." in text
    assert "Denne versjonen er ikke registrert sendt ennå." in text


def test_the_export_is_audited_with_the_files_hash(world, plan):
    version = plan.follow_up_plan.versions.get(number=2)
    exported = export_plan_pdf(world.user("marte"), version, "en")
    event = AuditEvent.objects.get(action="absence.plan_exported")
    assert event.data["sha256"] == hashlib.sha256(exported.content).hexdigest() == exported.sha256
    assert event.data["number"] == 2 and event.data["case"] == plan.pk and event.data["language"] == "en"
    assert event.object_id == str(version.pk)
    assert "Follow-up plan" in pdf_text(exported.content)


def test_the_manager_downloads_it_from_the_follow_up_page(world, plan, client):
    client.force_login(world.user("marte"))
    page = client.get(f"/sykefravaer/sak/{plan.pk}/").content.decode()
    assert f"/rapporter/sykefravaer/{plan.pk}/plan/2/pdf" in page
    assert f"/rapporter/sykefravaer/{plan.pk}/plan/1/pdf" in page
    response = client.get(f"/rapporter/sykefravaer/{plan.pk}/plan/2/pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Cache-Control"] == "no-store, private"
    assert "Samtale hver torsdag." in pdf_text(response.content)
    english = client.get(f"/rapporter/sykefravaer/{plan.pk}/plan/2/pdf?lang=en")
    assert "The employee agrees with the plan." in pdf_text(english.content)


def test_the_employee_downloads_her_own_plan(world, plan, client):
    client.force_login(world.user("emil"))
    page = client.get(f"/sykefravaer/sak/{plan.pk}/").content.decode()
    assert f"/rapporter/sykefravaer/{plan.pk}/plan/2/pdf" in page
    response = client.get(f"/rapporter/sykefravaer/{plan.pk}/plan/2/pdf")
    assert response.status_code == 200
    assert "Emil Ansatt" in pdf_text(response.content)
    event = AuditEvent.objects.get(action="absence.plan_exported")
    assert event.actor_id == world.user("emil").pk


@pytest.mark.parametrize("key", ["ella", "sander", "kim", "siri", "ask"])
def test_others_get_404_and_nothing_is_logged(world, plan, client, key):
    client.force_login(world.user(key))
    assert client.get(f"/rapporter/sykefravaer/{plan.pk}/plan/2/pdf").status_code == 404
    assert client.get(f"/api/v1/cases/{plan.pk}/plan/2/pdf", **bearer(world, key)).status_code == 404
    version = plan.follow_up_plan.versions.get(number=2)
    with pytest.raises(AccessDenied):
        export_plan_pdf(world.user(key), version, "nb")
    assert not AuditEvent.objects.filter(action="absence.plan_exported").exists()


def test_an_unknown_version_or_case_is_404(world, plan, client):
    client.force_login(world.user("marte"))
    assert client.get(f"/rapporter/sykefravaer/{plan.pk}/plan/3/pdf").status_code == 404
    assert client.get("/rapporter/sykefravaer/999999/plan/1/pdf").status_code == 404
    assert client.get(f"/api/v1/cases/{plan.pk}/plan/3/pdf", **bearer(world, "marte")).status_code == 404


def test_the_api_returns_the_plan_pdf_in_the_language_asked_for(world, plan, client):
    response = client.get(f"/api/v1/cases/{plan.pk}/plan/2/pdf", **bearer(world, "marte"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="oppfolgingsplan-{plan.number}-v2.pdf"'
    assert "Oppfølgingsplan" in pdf_text(response.content)
    english = client.get(f"/api/v1/cases/{plan.pk}/plan/2/pdf?lang=en", **bearer(world, "emil"))
    assert english.status_code == 200
    assert "Work tasks and work capacity" in pdf_text(english.content)
    assert AuditEvent.objects.filter(action="absence.plan_exported").count() == 2
    assert client.get(f"/api/v1/cases/{plan.pk}/plan/2/pdf").status_code == 401


def test_logged_out_visitors_are_sent_to_the_login(world, plan, client):
    response = client.get(f"/rapporter/sykefravaer/{plan.pk}/plan/2/pdf")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]

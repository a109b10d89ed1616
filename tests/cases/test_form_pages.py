"""The case page's forms, each on a page of its own: the case page renders no
form and links to each; GET shows the form, POST saves and goes back to the case,
bad input comes back on the form's page in the user's language. Works without
scripts: plain links and plain posts."""

import re
from datetime import date

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.conftest import enrol_totp
from tidsnok.cases import services
from tidsnok.cases.models import DeadlineStatus, EntryKind, Kind, MeasureKind, Source

TODAY = date(2027, 3, 3)  # a Wednesday
KNOWN = date(2027, 3, 1)


@pytest.fixture(autouse=True)
def frozen_wednesday():
    with time_machine.travel(TODAY, tick=False):
        yield


def open_case(world, actor="marte", **kw):
    fields = dict(kind=Kind.PSYCHOSOCIAL, concerns=[world.emil], factors=["workload"],
                  description="Emil sier han ikke rekker arbeidsoppgavene.", source=Source.EMPLOYEE_TOLD, known_at=KNOWN)
    fields.update(kw)
    return services.open_case(world.user(actor), **fields)


def add_measure(world, case, **kw):
    fields = dict(what="Omfordele to brukere til Ella", kind=MeasureKind.ORGANISATIONAL, owner=world.marte,
                  due=date(2027, 3, 20), area="workload")
    fields.update(kw)
    return services.add_measure(world.user("marte"), case, **fields)


def main(body: str) -> str:
    return body[body.index("<main"):body.index("</main>")]


def text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main(response.content.decode()))).replace("&#x27;", "'")


def links(body: str) -> dict[str, str]:
    """The case page's links to form pages: url -> link text."""
    found = re.findall(r'<a href="(/saker/\d+/[^"#?]+/)">(.*?)</a>', main(body))
    return {href: re.sub(r"<[^>]+>", "", label).strip() for href, label in found}


def test_the_case_page_renders_no_form_and_links_to_each(world, client):
    case = open_case(world)
    measure = add_measure(world, case)
    client.force_login(world.user("marte"))
    body = client.get(f"/saker/{case.pk}/").content.decode()
    assert "<form" not in main(body)  # only the header's language and logout forms remain
    base = f"/saker/{case.pk}/"
    assert links(body) == {
        base + "oppforing/samtale/": "Dokumenter en samtale",
        base + "oppforing/vurdering/": "Dokumenter en vurdering",
        base + "oppforing/oppfolging/": "Dokumenter en oppfølging",
        base + "oppforing/beslutning/": "Dokumenter en beslutning",
        base + "oppforing/notat/": "Skriv et internt notat",
        base + "tiltak/": "Legg til et tiltak",
        base + f"tiltak/{measure.pk}/status/": f"Endre status: {measure.what}",
        base + "usikker/": "Jeg er usikker på prosess eller habilitet",
        base + "avslutt/": "Avslutt saken",
    }
    for href, label in links(body).items():
        page = client.get(href)
        assert page.status_code == 200, href
        form_page = page.content.decode()
        # Its own page: the title, a form that posts back here, and a way back to where she was.
        heading = "Endre status" if "/status/" in href else label
        assert f"<h1>{heading}</h1>" in form_page, href
        assert re.search(rf'<form method="post" action="{re.escape(href)}"', form_page), href
        assert 'name="csrfmiddlewaretoken"' in form_page
        assert re.search(rf'<a class="button secondary" href="{base}#[\w-]+">Avbryt</a>', form_page), href


def test_the_measure_page_shows_the_measure_and_saving_goes_back_to_it(world, client):
    case = open_case(world)
    measure = add_measure(world, case)
    client.force_login(world.user("marte"))
    page = text(client.get(f"/saker/{case.pk}/tiltak/{measure.pk}/status/"))
    assert "Omfordele to brukere til Ella" in page and "Marte Leder" in page and "20.03.2027" in page
    assert "Planlagt" in page
    response = client.post(f"/saker/{case.pk}/tiltak/{measure.pk}/status/", {
        f"m{measure.pk}-status": "in_progress", f"m{measure.pk}-version": measure.version,
    })
    assert response.status_code == 302 and response["Location"] == f"/saker/{case.pk}/#measure-{measure.pk}"


def test_hr_has_the_handler_and_waiver_pages_and_a_manager_has_not(world, client):
    enrol_totp(world.user("hanne"))
    case = open_case(world)
    deadline = case.deadlines.filter(status=DeadlineStatus.OPEN, expected_event=False).order_by("due").first()
    waive = f"/saker/{case.pk}/frister/{deadline.pk}/frafall/"
    client.force_login(world.user("marte"))
    assert waive not in links(client.get(f"/saker/{case.pk}/").content.decode())
    assert client.get(waive).status_code == 404
    assert client.get(f"/saker/{case.pk}/behandlere/").status_code == 404

    client.force_login(world.user("hanne"))
    found = links(client.get(f"/saker/{case.pk}/").content.decode())
    assert found[waive].startswith("Frafall denne fristen: ")
    assert found[f"/saker/{case.pk}/behandlere/"] == "Legg til en saksbehandler"
    page = text(client.get(waive))
    assert "Frist: Første samtale med den det gjelder" in page and "Hvorfor frafalles fristen?" in page
    page = client.get(f"/saker/{case.pk}/behandlere/").content.decode()
    assert "Helga Sektorleder" in page  # a candidate: manages a unit above the case's


def test_bad_input_comes_back_on_the_forms_page_with_a_linked_summary(world, client):
    case = open_case(world)
    client.force_login(world.user("marte"))
    response = client.post(f"/saker/{case.pk}/tiltak/", {"tiltak-what": "", "tiltak-visibility": "shared"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "<h1>Legg til et tiltak</h1>" in body
    summary = body[body.index('class="message error error-summary"'):]
    summary = summary[:summary.index("</div>")]
    assert "Beskriv tiltaket." in summary and "Velg hvem som eier tiltaket." in summary
    # Every link in the summary leads to a field on this page.
    for target in re.findall(r'href="#([^"]+)"', summary):
        assert f'id="{target}"' in body, target
    assert case.measures.count() == 0


def test_an_english_user_gets_the_form_and_its_errors_in_english(world, client):
    case = open_case(world)
    user = world.user("marte")
    user.language = "en"
    user.save()
    client.force_login(user)
    page = text(client.get(f"/saker/{case.pk}/oppforing/samtale/"))
    assert "Document a conversation" in page and "Cancel" in page and "Summary of the conversation" in page
    response = client.post(f"/saker/{case.pk}/oppforing/samtale/", {
        "samtale-occurred_on": "2027-03-02", "samtale-text": "", "samtale-visibility": "shared",
    })
    assert response.status_code == 400
    assert "Write what happened." in text(response)


def test_the_forms_of_a_closed_case_lead_back_to_it(world, client):
    case = open_case(world)
    case = services.close_case(world.user("marte"), case, "Løst i samtale.", case.version)
    client.force_login(world.user("marte"))
    response = client.get(f"/saker/{case.pk}/oppforing/notat/")
    assert response.status_code == 302 and response["Location"] == f"/saker/{case.pk}/"
    page = text(client.get(response["Location"]))
    assert "Saken er avsluttet. Gjenåpne den for å legge til noe." in page
    assert set(links(client.get(f"/saker/{case.pk}/").content.decode()).values()) == {"Gjenåpne saken"}
    assert client.get(f"/saker/{case.pk}/gjenapne/").status_code == 200
    case_open = open_case(world)
    assert client.get(f"/saker/{case_open.pk}/gjenapne/").status_code == 302


def test_a_form_page_costs_the_same_queries_however_long_the_case_grows(world, client, django_assert_num_queries):
    case = open_case(world)
    marte = world.user("marte")
    add_measure(world, case)
    client.force_login(marte)

    def count(path):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(path).status_code == 200
        return len(queries)

    paths = [f"/saker/{case.pk}/oppforing/{slug}/" for slug in ("samtale", "vurdering", "oppfolging")]
    paths.append(f"/saker/{case.pk}/tiltak/")
    few = {path: count(path) for path in paths}
    for i in range(9):
        services.add_entry(marte, case, kind=EntryKind.CONVERSATION, occurred_on=TODAY, text=f"Samtale {i}.",
                           data={"participants": [world.emil.pk, world.ella.pk]})
        add_measure(world, case, what=f"Tiltak {i}", owner=world.dina)
    for path in paths:
        with django_assert_num_queries(few[path]):
            client.get(path)

"""The case pages through the Django test client: the manager's whole path, the
concerned employee's participation, HR taking over when the manager is accused,
stale edits, bad input in both languages, and query counts that do not grow."""

import re
from datetime import date

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tidsnok.audit.models import AuditEvent
from tidsnok.audit.services import verify_chain
from tidsnok.cases import services
from tidsnok.cases.models import (
    Case,
    DeadlineStatus,
    Entry,
    EntryKind,
    Kind,
    Measure,
    MeasureKind,
    MeasureStatus,
    Source,
    Status,
    Visibility,
)
from tests.conftest import enrol_totp

TODAY = date(2027, 3, 3)  # a Wednesday
KNOWN = date(2027, 3, 1)  # the Monday before


@pytest.fixture(autouse=True)
def frozen_wednesday():
    with time_machine.travel(TODAY, tick=False):
        yield


def new_case_data(world, **overrides):
    data = {
        "unit": world.units["HJ"].pk, "kind": "psychosocial", "concerns": [world.emil.pk], "factors": ["workload"],
        "description": "Emil sier han ikke rekker arbeidsoppgavene.", "source": "employee_told",
        "known_at": KNOWN.isoformat(), "known_at_reason": "",
        "party-TOTAL_FORMS": "3", "party-INITIAL_FORMS": "0", "party-MIN_NUM_FORMS": "0", "party-MAX_NUM_FORMS": "3",
    }
    data.update(overrides)
    return data


def open_case(world, actor="marte", **kw):
    fields = dict(kind=Kind.PSYCHOSOCIAL, concerns=[world.emil], factors=["workload"],
                  description="Emil sier han ikke rekker arbeidsoppgavene.", source=Source.EMPLOYEE_TOLD, known_at=KNOWN)
    fields.update(kw)
    return services.open_case(world.user(actor), **fields)


def add_measure(world, case, actor="marte", **kw):
    fields = dict(what="Omfordele to brukere til Ella", kind=MeasureKind.ORGANISATIONAL, owner=world.marte,
                  due=date(2027, 3, 20), area="workload")
    fields.update(kw)
    return services.add_measure(world.user(actor), case, **fields)


def text(response) -> str:
    """The page's main content as plain text, for asserting what a reader sees."""
    body = response.content.decode()
    main = body[body.index("<main"):body.index("</main>")]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main)).replace("&#x27;", "'")


def url(case, suffix=""):
    return f"/saker/{case.pk}/{suffix}"


# --- the manager's path -------------------------------------------------------------------------


def test_manager_registers_documents_follows_up_and_closes_a_case(world, client):
    client.force_login(world.user("marte"))
    form = client.get("/saker/ny/")
    assert form.status_code == 200
    # The seed's own words beside the form.
    assert "Arbeidsmengde og tidspress er ditt ansvar å regulere" in text(form)
    assert "involvere HR for å sikre riktig prosess" in text(form)
    assert "aml § 4-3 (2) c" in text(form)

    response = client.post("/saker/ny/", new_case_data(world))
    case = Case.objects.get()
    assert response.status_code == 302 and response["Location"] == url(case)
    page = client.get(url(case))
    assert "Sak %s er registrert." % case.number in text(page)
    assert "Start 01.03.2027 + 5 arbeidsdager = 08.03.2027" in text(page)

    response = client.post(url(case, "oppforing/samtale/"), {
        "samtale-occurred_on": "02.03.2027", "samtale-participants": [world.emil.pk, world.marte.pk],
        "samtale-text": "Gikk gjennom oppgavene hans.", "samtale-visibility": "shared",
    })
    assert response.status_code == 302
    response = client.post(url(case, "oppforing/vurdering/"), {
        "vurdering-occurred_on": "2027-03-03", "vurdering-health_risk": "medium", "vurdering-work_related": "yes",
        "vurdering-factors_confirmed": ["workload"], "vurdering-text": "For mange brukere.",
        "vurdering-visibility": "internal",
    })
    assert response.status_code == 302
    response = client.post(url(case, "tiltak/"), {
        "tiltak-what": "Omfordele to brukere til Ella", "tiltak-kind": "organisational", "tiltak-area": "workload",
        "tiltak-owner": world.marte.pk, "tiltak-due": "2027-03-20", "tiltak-visibility": "shared",
    })
    assert response.status_code == 302
    measure = Measure.objects.get(case=case)
    response = client.post(url(case, "oppforing/oppfolging/"), {
        "oppfolging-occurred_on": "2027-03-03", "oppfolging-measure": measure.pk,
        "oppfolging-text": "Emil sier det er bedre.", "oppfolging-visibility": "shared",
    })
    assert response.status_code == 302
    response = client.post(url(case, f"tiltak/{measure.pk}/status/"), {
        f"m{measure.pk}-status": "done", f"m{measure.pk}-version": measure.version,
    })
    assert response.status_code == 302
    case.refresh_from_db()
    response = client.post(url(case, "avslutt/"), {
        "avslutt-evaluation": "Arbeidsmengden er justert; Emil melder at det fungerer.", "avslutt-version": case.version,
    })
    assert response.status_code == 302

    case.refresh_from_db()
    assert case.status == Status.CLOSED
    deadlines = {d.rule_id: d for d in case.deadlines.all()}
    assert deadlines["psychosocial.first_conversation"].status == DeadlineStatus.MET
    assert deadlines["psychosocial.first_conversation"].met_on == date(2027, 3, 2)
    assert deadlines["psychosocial.assessment"].status == DeadlineStatus.MET
    assert [e.kind for e in case.entries.filter(kind__in=["conversation", "assessment", "follow_up", "evaluation"])
            .order_by("pk")] == ["conversation", "assessment", "follow_up", "evaluation"]
    page = text(client.get(url(case)))
    assert "Avsluttet" in page and "Gjenåpne saken" in page
    assert "Oppfylt 02.03.2027" in page
    assert verify_chain().ok


def test_case_page_shows_when_each_entry_happened_and_was_recorded(world, client):
    case = open_case(world)
    services.add_entry(world.user("marte"), case, kind=EntryKind.CONVERSATION, occurred_on=KNOWN, text="Samtale.",
                       data={"participants": [world.emil.pk]})
    client.force_login(world.user("marte"))
    page = text(client.get(url(case)))
    assert "Registrert 03.03.2027" in page
    assert "registrert 2 dager etter at det skjedde" in page
    assert "Oppfylt 01.03.2027" in page


def test_why_this_date_gives_the_count_and_the_legal_basis(world, client):
    case = open_case(world)
    client.force_login(world.user("marte"))
    body = client.get(url(case)).content.decode()
    why = body[body.index("Hvorfor denne datoen?"):]
    why = why[:why.index("</details>")]
    assert "Start 01.03.2027 + 5 arbeidsdager = 08.03.2027 (hoppet over: 06.03–07.03 helg)" in why
    assert "aml § 4-3 (1)–(4)" in why
    assert "loven angir ikke antall dager" in why


def test_an_overdue_deadline_is_marked_on_the_page_and_in_the_list(world, client):
    case = open_case(world, known_at=date(2027, 2, 15))
    client.force_login(world.user("marte"))
    page = text(client.get(url(case)))
    assert "frist er overskredet" in page or "frister er overskredet" in page
    assert "Overskredet med" in page
    # The picture's coordinates are plain numbers, not "12,5" as bokmål writes decimals.
    svg = client.get(url(case)).content.decode()
    svg = svg[svg.index('<svg class="tl-svg"'):]
    svg = svg[:svg.index("</svg>")]
    assert re.search(r'points="[\d. ,]+"', svg) and not re.search(r'(x|cx|y|cy|x1|x2)="\d+,\d', svg)
    listing = text(client.get("/saker/?overdue=1"))
    assert case.number in listing and "Overskredet" in listing


def test_sector_manager_registers_harassment_by_a_manager_and_the_case_moves_past_her(world, client):
    client.force_login(world.user("helga"))
    # Helga manages Helse and the units under it; choosing Hjemmetjenesten narrows the list.
    narrowed = text(client.get(f"/saker/ny/?enhet={world.units['HJ'].pk}"))
    assert "Emil Ansatt" in narrowed and "Stine Ansatt" not in narrowed
    response = client.post("/saker/ny/", new_case_data(
        world, kind="harassment", factors=["harassment"], known_at=TODAY.isoformat(),
        description="Emil forteller om nedsettende kommentarer fra lederen.",
        **{"party-0-person": world.marte.pk, "party-0-role": "accused"},
    ))
    assert response.status_code == 302
    case = Case.objects.get()
    assert case.owner == world.helga and case.restricted
    assert case.exclusions.filter(person=world.marte).exists()
    client.force_login(world.user("marte"))
    assert client.get(url(case)).status_code == 404


def test_a_unit_outside_the_manager_s_scope_in_the_address_gives_her_own_units(world, client):
    client.force_login(world.user("helga"))
    page = text(client.get(f"/saker/ny/?enhet={world.units['SK'].pk}"))
    assert "Kari Ansatt" not in page
    assert "Emil Ansatt" in page  # her first unit, Helse, and the units under it


def test_a_party_without_a_role_is_refused(world, client):
    client.force_login(world.user("marte"))
    response = client.post("/saker/ny/", new_case_data(world, **{"party-0-person": world.ella.pk}))
    assert response.status_code == 400
    assert "Velg personens rolle i saken." in text(response)
    assert Case.objects.count() == 0


def test_a_manager_of_a_unit_too_large_to_list_finds_the_people_by_name(world, client, monkeypatch):
    monkeypatch.setattr("tidsnok.cases.views.PEOPLE_LIMIT", 2)
    client.force_login(world.user("marte"))
    page = text(client.get("/saker/ny/"))
    assert "for mange personer til å liste dem" in page and "Emil Ansatt" not in page

    page = client.get("/saker/ny/?sok=emil, ella").content.decode()
    assert 'name="sok" value="emil, ella"' in page
    assert "Emil Ansatt" in page and "Ella Ansatt" in page and "Dina Nestleder" not in page

    response = client.post("/saker/ny/", new_case_data(
        world, sok="emil, ella", **{"party-0-person": world.ella.pk, "party-0-role": "witness"}))
    assert response.status_code == 302
    case = Case.objects.get()
    parties = set(case.parties.values_list("person__name", "role"))
    assert {("Emil Ansatt", "concerned"), ("Ella Ansatt", "witness")} <= parties


def test_an_employee_cannot_register_cases(world, client):
    client.force_login(world.user("emil"))
    assert client.get("/saker/ny/").status_code == 404
    assert client.post("/saker/ny/", new_case_data(world)).status_code == 404
    assert Case.objects.count() == 0


def test_an_english_user_reads_the_case_page_in_english(world, client):
    case = open_case(world)
    user = world.user("marte")
    user.language = "en"
    user.save()
    client.force_login(user)
    page = text(client.get(url(case)))
    assert "Why this date?" in page
    assert "Start 01.03.2027 + 5 working days = 08.03.2027" in page
    assert "First conversation with the person concerned" in page
    assert "Workload and time pressure are your responsibility to regulate." in page


# --- bad input ----------------------------------------------------------------------------------


def test_a_late_registration_without_reason_is_redisplayed_in_norwegian_and_nothing_is_written(world, client):
    client.force_login(world.user("marte"))
    response = client.post("/saker/ny/", new_case_data(world, known_at="2027-01-10"))
    assert response.status_code == 400
    assert Case.objects.count() == 0
    body = response.content.decode()
    message = "Du fikk vite om dette for mer enn 30 dager siden: skriv hvorfor saken registreres først nå."
    assert message in body
    # The error sits on the reason field, is announced with it, and the input is kept.
    assert 'id="id_known_at_reason_error"' in body
    assert re.search(r'<textarea[^>]*aria-describedby="[^"]*id_known_at_reason_error', body)
    assert "Emil sier han ikke rekker arbeidsoppgavene." in body
    assert 'value="2027-01-10"' in body


def test_bad_input_is_explained_in_english_for_an_english_user(world, client):
    user = world.user("marte")
    user.language = "en"
    user.save()
    client.force_login(user)
    response = client.post("/saker/ny/", new_case_data(world, kind="", concerns=[], known_at="2027-01-10"))
    assert response.status_code == 400
    page = text(response)
    assert "Choose the kind of case." in page
    assert "Choose at least one person the case concerns." in page
    assert "You first knew more than 30 days ago" in page
    assert Case.objects.count() == 0


def test_a_conversation_without_summary_is_refused_and_the_input_kept(world, client):
    case = open_case(world)
    before = Entry.objects.filter(case=case).count()
    client.force_login(world.user("marte"))
    response = client.post(url(case, "oppforing/samtale/"), {
        "samtale-occurred_on": "2027-03-02", "samtale-participants": [world.emil.pk], "samtale-text": " ",
        "samtale-visibility": "shared",
    })
    assert response.status_code == 400
    assert Entry.objects.filter(case=case).count() == before
    body = response.content.decode()
    assert "Skriv hva som skjedde." in body
    # The form's own page comes back, with the errors summarised at the top and the input kept.
    assert "<h1>Dokumenter en samtale</h1>" in body and 'id="samtale"' in body
    assert 'class="message error error-summary" role="alert"' in body
    assert re.search(r'<input[^>]*value="%s"[^>]*checked' % world.emil.pk, body)


def test_a_date_in_the_future_is_refused(world, client):
    case = open_case(world)
    client.force_login(world.user("marte"))
    response = client.post(url(case, "oppforing/notat/"), {"notat-occurred_on": "2027-04-01", "notat-text": "x"})
    assert response.status_code == 400
    assert "Datoen kan ikke være fram i tid." in text(response)


def test_closing_with_an_open_measure_lists_the_refusals(world, client):
    case = open_case(world)
    add_measure(world, case)
    case.refresh_from_db()
    client.force_login(world.user("marte"))
    response = client.post(url(case, "avslutt/"), {"avslutt-evaluation": "", "avslutt-version": case.version})
    assert response.status_code == 400
    page = text(response)
    assert "1 tiltak er fortsatt åpne" in page
    assert "Skriv en sluttevaluering" in page
    case.refresh_from_db()
    assert case.is_open


# --- the stale edit -----------------------------------------------------------------------------


def test_a_stale_measure_edit_shows_the_message_and_overwrites_nothing(world, client):
    case = open_case(world)
    measure = add_measure(world, case)
    seen = measure.version
    # Dina, the deputy, starts the measure while Marte has the page open.
    services.update_measure(world.user("dina"), measure, seen, status=MeasureStatus.IN_PROGRESS)
    client.force_login(world.user("marte"))
    response = client.post(url(case, f"tiltak/{measure.pk}/status/"), {
        f"m{measure.pk}-status": "cancelled", f"m{measure.pk}-cancel_reason": "Ikke lenger aktuelt.",
        f"m{measure.pk}-version": seen,
    })
    assert response.status_code == 409
    measure.refresh_from_db()
    assert measure.status == MeasureStatus.IN_PROGRESS and measure.cancel_reason == ""
    body = response.content.decode()
    assert "Noen andre har endret dette i mellomtiden." in body
    # Her choice and reason are still there, now against the version she can see.
    assert "Ikke lenger aktuelt." in body
    assert re.search(r'<option value="cancelled" selected>', body)
    assert f'name="m{measure.pk}-version" value="{measure.version}"' in body
    # Saving again after checking goes through.
    response = client.post(url(case, f"tiltak/{measure.pk}/status/"), {
        f"m{measure.pk}-status": "cancelled", f"m{measure.pk}-cancel_reason": "Ikke lenger aktuelt.",
        f"m{measure.pk}-version": measure.version,
    })
    assert response.status_code == 302
    measure.refresh_from_db()
    assert measure.status == MeasureStatus.CANCELLED


# --- the concerned employee ---------------------------------------------------------------------


def test_employee_sees_shared_entries_comments_and_answers_a_measure(world, client):
    case = open_case(world)
    marte = world.user("marte")
    services.add_entry(marte, case, kind=EntryKind.CONVERSATION, occurred_on=KNOWN, text="Vi ble enige om å se på turnusen.",
                       data={"participants": [world.emil.pk, world.marte.pk]})
    services.add_entry(marte, case, kind=EntryKind.NOTE, occurred_on=TODAY, text="Internt: vurder Ellas kapasitet.")
    measure = add_measure(world, case)
    hidden = add_measure(world, case, what="Snakke med Ella om kapasitet", visibility=Visibility.INTERNAL)

    client.force_login(world.user("emil"))
    assert case.number in text(client.get("/saker/mine/"))
    page = text(client.get(url(case)))
    assert "Vi ble enige om å se på turnusen." in page
    assert "Omfordele to brukere til Ella" in page
    assert "Internt: vurder Ellas kapasitet." not in page
    assert hidden.what not in page
    assert "Hvorfor denne datoen?" not in page  # deadlines are the handlers' tools

    response = client.post(url(case, "kommentar/"), {"kommentar-text": "Jeg trenger også færre kveldsvakter."})
    assert response.status_code == 302
    response = client.post(url(case, f"tiltak/{measure.pk}/svar/"), {
        f"r{measure.pk}-agrees": "no", f"r{measure.pk}-comment": "Ella har nok allerede.",
    })
    assert response.status_code == 302
    reply = Entry.objects.get(case=case, kind=EntryKind.MEASURE_RESPONSE)
    assert reply.data == {"agrees": False} and reply.about == world.emil
    assert Entry.objects.filter(case=case, kind=EntryKind.COMMENT, author=world.emil).exists()
    page = text(client.get(url(case)))
    assert "Jeg trenger også færre kveldsvakter." in page
    assert "Er ikke enig i tiltaket" in page

    # The manager sees the answer beside the measure.
    client.force_login(marte)
    page = text(client.get(url(case)))
    assert "Er ikke enig i tiltaket" in page and "Ella har nok allerede." in page


def test_employee_cannot_answer_an_internal_measure_or_use_the_handlers_forms(world, client):
    case = open_case(world)
    hidden = add_measure(world, case, visibility=Visibility.INTERNAL)
    before = Entry.objects.filter(case=case).count()
    client.force_login(world.user("emil"))
    assert client.post(url(case, f"tiltak/{hidden.pk}/svar/"), {f"r{hidden.pk}-agrees": "yes"}).status_code == 404
    assert client.post(url(case, "oppforing/notat/"), {"notat-occurred_on": "2027-03-03", "notat-text": "x"}).status_code == 404
    assert client.post(url(case, "tiltak/"), {"tiltak-what": "x"}).status_code == 404
    assert Entry.objects.filter(case=case).count() == before


def test_an_employee_does_not_see_a_shared_entry_about_another_party(world, client):
    case = open_case(world, concerns=[world.emil, world.ella])
    services.add_entry(world.user("marte"), case, kind=EntryKind.CONVERSATION, occurred_on=TODAY,
                       text="Samtale med Ella om hennes situasjon.", data={"participants": [world.ella.pk]},
                       about=world.ella)
    client.force_login(world.user("emil"))
    assert "Samtale med Ella om hennes situasjon." not in text(client.get(url(case)))
    client.force_login(world.user("ella"))
    assert "Samtale med Ella om hennes situasjon." in text(client.get(url(case)))


def test_an_employee_answering_without_choosing_gets_a_message(world, client):
    case = open_case(world)
    measure = add_measure(world, case)
    client.force_login(world.user("emil"))
    response = client.post(url(case, f"tiltak/{measure.pk}/svar/"), {f"r{measure.pk}-comment": "Hm."})
    assert response.status_code == 400
    assert "Si om du er enig i tiltaket." in text(response)
    assert not Entry.objects.filter(kind=EntryKind.MEASURE_RESPONSE).exists()


# --- who sees what ------------------------------------------------------------------------------


def test_people_outside_the_case_get_404(world, client):
    case = open_case(world)
    for outsider in ("ella", "sander", "stine", "kim", "siri", "frode"):
        client.force_login(world.user(outsider))
        assert client.get(url(case)).status_code == 404, outsider
        assert client.post(url(case, "oppforing/notat/"), {"notat-text": "x"}).status_code == 404, outsider
        assert case.number not in text(client.get("/saker/")), outsider


def test_the_case_page_reads_entries_and_measures_by_the_case_only_when_the_policy_found_it_for_that_user(
        world, rf):
    from tidsnok.access.policy import visible
    from tidsnok.cases.views import CasePage, _handled_case

    case = open_case(world)
    marte, emil = world.user("marte"), world.user("emil")
    services.add_entry(marte, case, kind=EntryKind.NOTE, occurred_on=TODAY, text="Internt notat.")
    add_measure(world, case)
    add_measure(world, case, what="Internt tiltak", visibility=Visibility.INTERNAL)

    def page(user, case):
        request = rf.get(url(case))
        request.user = user
        return CasePage(request, case)

    def ids(rows):
        return {row.pk for row in rows}

    found = _handled_case(marte, case.pk)
    handled = page(marte, found)
    assert handled.handled
    assert ids(handled.entry_rows) == ids(Entry.objects.filter(case=case))
    assert ids(handled.measure_rows) == ids(Measure.objects.filter(case=case))
    # The same case for someone else, or read without the policy: the policy decides, row by row.
    for user, other in ((emil, found), (marte, Case.objects.get(pk=case.pk))):
        fallback = page(user, other)
        assert not fallback.handled
        assert ids(fallback.entry_rows) == ids(visible(user, Entry).filter(case=case))
        assert ids(fallback.measure_rows) == ids(visible(user, Measure).filter(case=case))
    assert "Internt notat." not in {e.text for e in page(emil, found).entry_rows}
    assert "Internt tiltak" not in {m.what for m in page(emil, found).measure_rows}
    assert _handled_case(emil, case.pk) is None
    assert _handled_case(world.user("ella"), case.pk) is None


def test_the_accused_manager_gets_404_and_hr_handles_the_case(world, client):
    enrol_totp(world.user("hugo"))
    case = services.open_case(
        world.user("helga"), kind=Kind.HARASSMENT, concerns=[world.emil], parties=[(world.marte, "accused")],
        factors=["harassment"], description="Emil forteller om nedsettende kommentarer fra lederen.",
        source=Source.EMPLOYEE_TOLD, known_at=TODAY,
    )
    measure = add_measure(world, case, actor="helga", owner=world.helga)
    deadline = case.deadlines.filter(status=DeadlineStatus.OPEN).first()
    before_entries = Entry.objects.filter(case=case).count()
    before_measure = Measure.objects.get(pk=measure.pk).version

    client.force_login(world.user("marte"))
    assert client.get(url(case)).status_code == 404
    assert case.number not in text(client.get("/saker/"))
    posts = {
        "oppforing/samtale/": {"samtale-text": "x"}, "oppforing/vurdering/": {}, "oppforing/oppfolging/": {},
        "oppforing/beslutning/": {}, "oppforing/konklusjon/": {}, "oppforing/notat/": {"notat-text": "x"},
        "tiltak/": {"tiltak-what": "x"}, f"tiltak/{measure.pk}/status/": {f"m{measure.pk}-status": "done",
                                                                           f"m{measure.pk}-version": before_measure},
        "avslutt/": {"avslutt-evaluation": "x", "avslutt-version": 1}, "gjenapne/": {"gjenapne-reason": "x"},
        "usikker/": {"usikker-note": "x"}, f"frister/{deadline.pk}/frafall/": {f"d{deadline.pk}-reason": "x"},
        "behandlere/": {"behandler-person": world.marte.pk, "behandler-reason": "x"},
        "kommentar/": {"kommentar-text": "x"}, f"tiltak/{measure.pk}/svar/": {f"r{measure.pk}-agrees": "yes"},
    }
    for suffix, data in posts.items():
        assert client.post(url(case, suffix), data).status_code == 404, suffix
        if suffix not in ("kommentar/", f"tiltak/{measure.pk}/svar/"):
            # The forms' own pages are as closed to her as the case.
            assert client.get(url(case, suffix)).status_code == 404, suffix
    assert Entry.objects.filter(case=case).count() == before_entries
    assert Measure.objects.get(pk=measure.pk).version == before_measure

    # HR for the sector (the nearest HR scope) was brought in and handles it.
    client.force_login(world.user("hugo"))
    listing = text(client.get("/saker/"))
    assert case.number in listing
    # A restricted kind: the list never names the person concerned.
    assert "Emil Ansatt" not in listing and "Begrenset" in listing
    page = text(client.get(url(case)))
    assert "Marte Leder er part i saken (anklaget) og er derfor utelukket fra å behandle den (habilitet)." in page
    assert "Hugo HR Helse: hr" in page
    # Reading a restricted case is on the record.
    assert AuditEvent.objects.filter(action="ACCESS", object_id=str(case.pk), actor=world.user("hugo")).exists()


def test_hr_waives_a_deadline_with_a_reason_and_a_manager_cannot(world, client):
    enrol_totp(world.user("hanne"))
    case = open_case(world)
    deadline = case.deadlines.get(rule_id="psychosocial.first_conversation")
    client.force_login(world.user("marte"))
    assert client.post(url(case, f"frister/{deadline.pk}/frafall/"), {f"d{deadline.pk}-reason": "x"}).status_code == 404
    client.force_login(world.user("hanne"))
    response = client.post(url(case, f"frister/{deadline.pk}/frafall/"), {f"d{deadline.pk}-reason": ""})
    assert response.status_code == 400
    assert "Skriv hvorfor fristen frafalles." in text(response)
    response = client.post(url(case, f"frister/{deadline.pk}/frafall/"),
                           {f"d{deadline.pk}-reason": "Emil er på ferie; samtalen tas når han er tilbake."})
    assert response.status_code == 302
    deadline.refresh_from_db()
    assert deadline.status == DeadlineStatus.WAIVED
    assert "Frist frafalt: Første samtale med den det gjelder" in text(client.get(url(case)))


def test_hr_adds_a_handler_who_then_sees_the_case(world, client):
    enrol_totp(world.user("hanne"))
    case = open_case(world)
    client.force_login(world.user("hanne"))
    response = client.post(url(case, "behandlere/"), {"behandler-person": world.helga.pk,
                                                      "behandler-reason": "Sektorleder følger saken."})
    assert response.status_code == 302
    assert case.handlers.filter(person=world.helga, removed_at__isnull=True).exists()


def test_the_unsure_button_involves_hr_with_the_note(world, client):
    case = open_case(world)
    client.force_login(world.user("marte"))
    response = client.post(url(case, "usikker/"), {"usikker-note": ""})
    assert response.status_code == 400
    assert "Skriv noen ord til HR" in text(response)
    response = client.post(url(case, "usikker/"), {"usikker-note": "Emil er min nabo; er jeg inhabil?"})
    assert response.status_code == 302
    assert case.handlers.filter(role="hr", removed_at__isnull=True).exists()
    assert Entry.objects.filter(case=case, kind=EntryKind.UNCERTAIN).exists()


def test_a_closed_case_is_reopened_with_a_reason(world, client):
    case = open_case(world)
    case = services.close_case(world.user("marte"), case, "Løst i samtale.", case.version)
    client.force_login(world.user("marte"))
    response = client.post(url(case, "gjenapne/"), {"gjenapne-reason": "", "gjenapne-version": case.version})
    assert response.status_code == 400 and "Skriv hvorfor saken gjenåpnes." in text(response)
    response = client.post(url(case, "gjenapne/"), {"gjenapne-reason": "Emil melder at det har startet igjen.",
                                                     "gjenapne-version": case.version})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.is_open


# --- the list -----------------------------------------------------------------------------------


def test_the_list_filters_by_status_kind_and_overdue(world, client):
    plain = open_case(world)
    conflict = open_case(world, kind=Kind.CONFLICT, concerns=[world.ella], known_at=date(2027, 2, 10),
                         factors=["conflict"])
    closed = open_case(world, concerns=[world.ella])
    services.close_case(world.user("marte"), closed, "Løst.", closed.version)
    client.force_login(world.user("marte"))

    def numbers(query):
        page = text(client.get("/saker/" + query))
        return {c.number for c in (plain, conflict, closed) if c.number in page}

    assert numbers("") == {plain.number, conflict.number, closed.number}
    assert numbers("?status=open") == {plain.number, conflict.number}
    assert numbers("?status=closed") == {closed.number}
    assert numbers("?kind=conflict") == {conflict.number}
    assert numbers("?overdue=1") == {conflict.number}
    assert numbers("?status=nonsense") == {plain.number, conflict.number, closed.number}


def test_the_lists_name_each_cases_kind_and_status_in_the_readers_language(world, client):
    conflict = open_case(world, kind=Kind.CONFLICT, concerns=[world.emil], factors=["conflict"])
    services.close_case(world.user("marte"), conflict, "Løst.", conflict.version)

    def row(path, user, language):
        client.force_login(world.user(user))
        page = client.get(path, HTTP_ACCEPT_LANGUAGE=language).content.decode()
        return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", re.search(
            rf"<tr>\s*<th scope=\"row\"><a[^>]*>{conflict.number}.*?</tr>", page, re.S).group(0)))

    assert "Avsluttet" in row("/saker/", "marte", "nb") and "Konflikt" in row("/saker/", "marte", "nb")
    assert "Closed" in row("/saker/", "marte", "en") and "Conflict" in row("/saker/", "marte", "en")
    assert "Avsluttet" in row("/saker/mine/", "emil", "nb") and "Konflikt" in row("/saker/mine/", "emil", "nb")
    assert "Closed" in row("/saker/mine/", "emil", "en") and "Conflict" in row("/saker/mine/", "emil", "en")


def test_the_list_shows_newest_first_in_pages_of_25(world, client):
    cases = [open_case(world, concerns=[world.emil if i % 2 else world.ella]) for i in range(27)]
    client.force_login(world.user("marte"))
    first = client.get("/saker/").content.decode()
    numbers = re.findall(r"SAK-2027-\d{4}", first)
    assert numbers[0] == cases[-1].number and len(set(numbers)) == 25
    older = re.search(r'href="\?before=([\d-]+)"', first).group(1)
    second = client.get(f"/saker/?before={older}").content.decode()
    assert set(re.findall(r"SAK-2027-\d{4}", second)) == {cases[0].number, cases[1].number}
    newer = re.search(r'href="\?after=([\d-]+)"', second).group(1)
    back = client.get(f"/saker/?after={newer}").content.decode()
    assert re.findall(r"SAK-2027-\d{4}", back) == numbers
    # A cursor that is not one is simply the first page.
    assert re.findall(r"SAK-2027-\d{4}", client.get("/saker/?before=x-1").content.decode()) == numbers


# --- query counts -------------------------------------------------------------------------------


def _count(client, path):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    return len(queries)


def test_the_list_costs_the_same_queries_for_3_cases_as_for_25(world, client, django_assert_num_queries):
    for _ in range(3):
        open_case(world)
    client.force_login(world.user("marte"))
    client.get("/saker/")
    few = _count(client, "/saker/")
    for _ in range(25):
        open_case(world, concerns=[world.ella, world.emil])
    with django_assert_num_queries(few):
        client.get("/saker/")


def _many_cases(world, n):
    """n cases straight into the tables (the services would take minutes): every
    unit, every fifth restricted, each with a concerned employee, a handler and a
    measure."""
    from datetime import timedelta

    from django.utils import timezone

    from tidsnok.cases.models import Handler, Party

    now = timezone.now()
    units = list(world.units.values())
    people = [world.emil, world.ella, world.stine, world.kari]
    rows = Case.objects.bulk_create([
        Case(organisation=world.org, number=f"SAK-2026-{i:04d}", kind=Kind.HARASSMENT if i % 5 == 0 else Kind.CONFLICT,
             unit=units[i % len(units)], restricted=i % 5 == 0, known_at=KNOWN, owner=world.marte,
             created_at=now - timedelta(days=1, minutes=i))
        for i in range(n)
    ])
    Party.objects.bulk_create([Party(case=c, person=people[i % 4], role="concerned") for i, c in enumerate(rows)])
    Handler.objects.bulk_create([Handler(case=c, person=world.hanne if i % 2 else world.marte,
                                         role="hr" if i % 2 else "manager") for i, c in enumerate(rows)])
    Measure.objects.bulk_create([Measure(case=c, what="Tiltak", kind=MeasureKind.ORGANISATIONAL, owner=world.marte,
                                         due=TODAY) for c in rows])


@pytest.mark.parametrize("persona", ["marte", "helga", "hugo", "hanne"])
def test_the_list_costs_the_same_queries_for_3_cases_as_for_200_on_every_page(
        world, client, persona, django_assert_num_queries):
    for key in ("hugo", "hanne"):
        enrol_totp(world.user(key))
    for _ in range(3):
        open_case(world)
    client.force_login(world.user(persona))
    client.get("/saker/")
    few = _count(client, "/saker/")
    _many_cases(world, 200)
    with django_assert_num_queries(few):
        first = client.get("/saker/").content.decode()
    assert len(set(re.findall(r"SAK-\d{4}-\d{4}", first))) == 25
    older = re.search(r'href="\?before=([\d-]+)"', first).group(1)
    with django_assert_num_queries(few):
        second = client.get(f"/saker/?before={older}").content.decode()
    newer = re.search(r'href="\?after=([\d-]+)"', second).group(1)
    with django_assert_num_queries(few):
        assert "SAK-" in client.get(f"/saker/?after={newer}&status=open&kind=conflict").content.decode()


def test_my_cases_cost_the_same_queries_for_1_case_as_for_200(world, client, django_assert_num_queries):
    open_case(world)
    client.force_login(world.user("emil"))
    client.get("/saker/mine/")
    few = _count(client, "/saker/mine/")
    _many_cases(world, 200)
    with django_assert_num_queries(few):
        page = client.get("/saker/mine/").content.decode()
    assert len(set(re.findall(r"SAK-\d{4}-\d{4}", page))) == 25


@pytest.mark.parametrize("persona", ["marte", "hanne"])
def test_the_case_page_costs_the_same_queries_however_long_the_case_grows(world, client, persona,
                                                                          django_assert_num_queries):
    enrol_totp(world.user("hanne"))
    case = open_case(world)
    marte = world.user("marte")
    services.add_entry(marte, case, kind=EntryKind.CONVERSATION, occurred_on=KNOWN, text="Samtale.",
                       data={"participants": [world.emil.pk]})
    measure = add_measure(world, case)
    services.respond_to_measure(world.user("emil"), measure, agrees=True, comment="Greit.")
    client.force_login(world.user(persona))
    client.get(url(case))
    few = _count(client, url(case))
    # From 1 to 10 of everything: conversations naming other people, measures with
    # other owners, the employee's answers, notes, and a handler more.
    for i in range(9):
        services.add_entry(marte, case, kind=EntryKind.CONVERSATION, occurred_on=TODAY, text=f"Samtale {i}.",
                           data={"participants": [world.emil.pk, world.ella.pk, world.dina.pk]})
        services.add_entry(marte, case, kind=EntryKind.NOTE, occurred_on=TODAY, text=f"Notat {i}.")
        measure = add_measure(world, case, what=f"Tiltak {i}", owner=world.dina)
        services.respond_to_measure(world.user("emil"), measure, agrees=True, comment="Greit.")
    services.ask_hr(marte, case, "Er jeg inhabil?")
    assert Measure.objects.filter(case=case).count() == 10
    with django_assert_num_queries(few):
        response = client.get(url(case))
    assert text(response).count("Endre status") == 10

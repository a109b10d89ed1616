"""The written whistleblowing routines (aml § 2 A-6): a versioned document made with the employees."""

from datetime import date

import pytest
from django.core.exceptions import ValidationError

from tidsnok.access.policy import AccessDenied, visible
from tidsnok.whistleblowing import services
from tidsnok.whistleblowing.models import Routine


def published(world, **participation):
    hanne = world.user("hanne")
    routine = services.start_routine(hanne, world.org)
    services.add_participation(hanne, routine, who="Tillitsvalgt Fagforbundet", capacity="union_rep",
                               on=date(2026, 1, 10), comment="Ønsker at anonym varsling nevnes tydelig.")
    return services.publish_routine(hanne, routine, routine.version)


def test_the_template_has_the_three_parts_the_law_requires(world):
    routine = services.start_routine(world.user("hanne"), world.org)
    assert routine.number == 1 and routine.published_on is None
    assert routine.encouragement and routine.how_to_report and routine.handling
    assert "Arbeidstilsynet" in routine.how_to_report  # reporting externally


def test_only_hr_for_the_whole_organisation_and_administrators_edit_the_routines(world):
    with pytest.raises(AccessDenied):
        services.start_routine(world.user("hugo"), world.org)
    with pytest.raises(AccessDenied):
        services.start_routine(world.user("marte"), world.org)
    assert services.start_routine(world.user("ada"), world.org).number == 1


def test_a_version_is_published_only_after_employees_and_representatives_took_part(world):
    hanne = world.user("hanne")
    routine = services.start_routine(hanne, world.org)
    with pytest.raises(ValidationError):
        services.publish_routine(hanne, routine, routine.version)
    services.add_participation(hanne, routine, who="Alle ansatte, personalmøte", capacity="employee",
                               on=date(2026, 2, 1), comment="")
    with pytest.raises(ValidationError):
        services.publish_routine(hanne, routine, routine.version)  # no representative yet
    services.add_participation(hanne, routine, who="Verneombud Siri", capacity="safety_rep", on=date(2026, 2, 2),
                               comment="Enig.")
    routine = services.publish_routine(hanne, routine, routine.version)
    assert routine.published_on is not None
    with pytest.raises(ValidationError):
        services.update_routine(hanne, routine, routine.version, encouragement="x", how_to_report="y", handling="z")


def test_a_new_version_starts_from_the_last_and_the_old_one_is_kept(world):
    first = published(world)
    hanne = world.user("hanne")
    second = services.start_routine(hanne, world.org)
    assert second.number == 2 and second.encouragement == first.encouragement
    assert services.current_routine(world.org.pk) == first  # the draft is not shown yet
    services.update_routine(hanne, second, second.version, encouragement="Si fra!", how_to_report=first.how_to_report,
                            handling=first.handling)
    services.add_participation(hanne, second, who="AMU", capacity="amu", on=date(2026, 6, 1))
    second.refresh_from_db()
    services.publish_routine(hanne, second, second.version)
    assert services.current_routine(world.org.pk).encouragement == "Si fra!"
    assert Routine.objects.filter(organisation=world.org, published_on__isnull=False).count() == 2


def test_published_routines_are_for_all_employees_and_drafts_are_not(world, client):
    routine = published(world)
    draft = services.start_routine(world.user("hanne"), world.org)
    assert list(visible(world.user("emil"), Routine)) == [routine]
    assert set(visible(world.user("hanne"), Routine)) == {routine, draft}
    # Linked from the reporting page, and readable there without logging in.
    assert "/varsling/rutiner/" in client.get("/varsling/").content.decode()
    body = client.get("/varsling/rutiner/").content.decode()
    assert routine.encouragement[:40] in body


def test_an_organisation_of_5_or_more_without_routines_sees_a_warning(world, client):
    assert services.routines_warning(world.org.pk)
    assert "§ 2 A-6" in client.get("/varsling/").content.decode()
    published(world)
    assert not services.routines_warning(world.org.pk)
    assert "§ 2 A-6" not in client.get("/varsling/").content.decode()


def test_a_small_organisation_sees_no_warning(db):
    from tidsnok.org import services as org_services

    org = org_services.create_organisation(None, "Liten AS", "111222333")
    unit, _ = org_services.save_unit(None, org, "A", "Avdeling", None)
    for n in range(4):
        org_services.save_person(None, org, f"E{n}", name=f"Ansatt {n}", unit_id=unit.pk)
    assert not services.routines_warning(org.pk)


def test_hr_edits_records_participation_and_publishes_on_the_pages(world, handler_client):
    client = handler_client(world.user("hanne"))
    response = client.post("/varsler/rutiner/")
    routine = Routine.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/varsler/rutiner/{routine.pk}/"
    response = client.post(f"/varsler/rutiner/{routine.pk}/", {
        "rutine-encouragement": "Vi vil vite.", "rutine-how_to_report": "Til HR eller Arbeidstilsynet.",
        "rutine-handling": "Vi svarer innen 7 dager.", "rutine-version": routine.version,
    })
    assert response.status_code == 302
    response = client.post(f"/varsler/rutiner/{routine.pk}/medvirkning/", {
        "medvirkning-who": "Hovedverneombud", "medvirkning-capacity": "safety_rep",
        "medvirkning-on": "2026-02-01", "medvirkning-comment": "Bra.",
    })
    assert response.status_code == 302
    routine.refresh_from_db()
    stale = client.post(f"/varsler/rutiner/{routine.pk}/publiser/", {"publiser-version": routine.version - 1})
    assert stale.status_code == 409
    response = client.post(f"/varsler/rutiner/{routine.pk}/publiser/", {"publiser-version": routine.version})
    assert response.status_code == 302
    assert services.current_routine(world.org.pk).encouragement == "Vi vil vite."

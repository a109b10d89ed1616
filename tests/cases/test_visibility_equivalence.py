"""Who sees which case, entry and measure: the policy as written for speed
(tidsnok.cases.policy) against the rule written plainly (below, one EXISTS per
route, as the policy was first written), for every persona, every action and a
set of cases that exercises every route: scope, each handler role, a manager
handler who has left, a removed handler, exclusion, restricted kinds, shared
and internal entries, another organisation.
"""

from datetime import timedelta

import pytest
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from tidsnok.access.policy import can, visible
from tidsnok.cases.models import (
    Case,
    Entry,
    EntryKind,
    Exclusion,
    Handler,
    HandlerRole,
    Kind,
    Measure,
    MeasureKind,
    Party,
    PartyRole,
    Visibility,
)
from tidsnok.cases.policy import HANDLER_ACTIONS
from tidsnok.org import scope
from tidsnok.org import services as org_services
from tidsnok.org.models import Role

ACTIONS = sorted(HANDLER_ACTIONS) + ["participate", "nonsense"]


# --- the rule, written plainly ------------------------------------------------------------------


def plain_cases(user, action="view"):
    person = scope.person_of(user)
    if person is None:
        return Case.objects.none()
    base = Case.objects.filter(organisation_id=person.organisation_id)
    if action == "participate":
        return base.filter(Exists(Party.objects.filter(case=OuterRef("pk"), person=person, role=PartyRole.CONCERNED)))
    if action not in HANDLER_ACTIONS:
        return Case.objects.none()
    managed = scope.managed_unit_ids(user)
    explicit_roles = [HandlerRole.ADDED] + ([HandlerRole.HR] if scope.is_hr(user) else [])
    handler = Handler.objects.filter(case=OuterRef("pk"), person=person, removed_at__isnull=True)
    q = Q(Exists(handler.filter(role__in=explicit_roles)))
    if managed:
        q |= Q(Exists(handler.filter(role__in=[HandlerRole.MANAGER, HandlerRole.NEXT_MANAGER])),
               unit_id__in=list(managed))
    scope_units = set(managed)
    hr = scope.hr_scope(user)
    if hr == scope.ALL:
        q |= Q(restricted=False)
    else:
        scope_units |= set(hr)
    if scope_units:
        q |= Q(restricted=False, unit_id__in=list(scope_units))
    if action == "waive" and not scope.is_hr(user):
        return Case.objects.none()
    return base.filter(q).exclude(Exists(Exclusion.objects.filter(case=OuterRef("pk"), person=person)))


def plain_entries(user, action="view"):
    person = scope.person_of(user)
    if person is None:
        return Entry.objects.none()
    handled = Entry.objects.filter(case__in=plain_cases(user, "view"))
    if action != "view":
        return handled
    shared = Entry.objects.filter(
        case__in=plain_cases(user, "participate"), visibility=Visibility.SHARED
    ).filter(Q(about__isnull=True) | Q(about=person))
    return handled | shared


def plain_measures(user, action="view"):
    person = scope.person_of(user)
    if person is None:
        return Measure.objects.none()
    handled = Measure.objects.filter(case__in=plain_cases(user, "view"))
    shared = Measure.objects.filter(case__in=plain_cases(user, "participate"), visibility=Visibility.SHARED)
    if action == "participate":
        return shared
    if action != "view":
        return handled
    return handled | shared


# --- a world with every route -------------------------------------------------------------------


@pytest.fixture
def cases(world):
    now = timezone.now()
    org = world.org
    u = world.units
    made = {}

    def case(key, unit, *, restricted=False, kind=Kind.PSYCHOSOCIAL, concerned=(), handlers=(), excluded=()):
        c = Case.objects.create(organisation=org, number=f"SAK-T-{len(made) + 1:03d}", kind=kind, unit=u[unit],
                                restricted=restricted, known_at=now.date(), created_at=now - timedelta(hours=len(made)))
        for name in concerned:
            Party.objects.create(case=c, person=world.people[name], role=PartyRole.CONCERNED)
        for name, role, removed in handlers:
            Handler.objects.create(case=c, person=world.people[name], role=role, removed_at=now if removed else None)
        for name in excluded:
            Party.objects.get_or_create(case=c, person=world.people[name], role=PartyRole.ACCUSED)
            Exclusion.objects.create(case=c, person=world.people[name], reason="party")
        made[key] = c
        return c

    case("hj", "HJ", concerned=["emil"], handlers=[("marte", HandlerRole.MANAGER, False)])
    case("hj_two", "HJ", concerned=["emil", "ella"], handlers=[("dina", HandlerRole.MANAGER, False)])
    case("sy", "SY", concerned=["stine"], handlers=[("sander", HandlerRole.MANAGER, False)])
    case("sk", "SK", concerned=["kari"], handlers=[("kim", HandlerRole.MANAGER, False)])
    case("hel", "HEL", concerned=["siri"])
    case("root", "ROOT", concerned=["ada"])
    # Restricted: harassment by Marte, handled by Helga (next manager up) and Hugo (HR).
    case("harassment", "HJ", restricted=True, kind=Kind.HARASSMENT, concerned=["emil"], excluded=["marte"],
         handlers=[("helga", HandlerRole.NEXT_MANAGER, False), ("hugo", HandlerRole.HR, False)])
    # Restricted in SK with Helga as manager handler: she does not manage SK.
    case("restricted_sk", "SK", restricted=True, kind=Kind.HARASSMENT, concerned=["kari"],
         handlers=[("helga", HandlerRole.MANAGER, False), ("hanne", HandlerRole.HR, False)])
    # Frode left as manager yesterday; his manager-handler route is gone.
    case("frode", "HJ", restricted=True, kind=Kind.HARASSMENT, concerned=["ella"],
         handlers=[("frode", HandlerRole.MANAGER, False), ("hanne", HandlerRole.HR, True)])
    # Added handlers: Kim on an HJ case, Siri on a restricted one; a removed one for Sander.
    case("added", "HJ", concerned=["ella"], handlers=[("kim", HandlerRole.ADDED, False),
                                                      ("sander", HandlerRole.ADDED, True)])
    case("added_restricted", "SY", restricted=True, kind=Kind.WHISTLEBLOWING,
         handlers=[("siri", HandlerRole.ADDED, False), ("emil", HandlerRole.HR, False)])
    # Hanne is HR for everything but is a party here and shut out.
    case("hanne_excluded", "SK", concerned=["kari"], excluded=["hanne", "kim"])
    # Emil concerned, but Ella only a witness.
    case("witness", "SY", concerned=["emil"])
    Party.objects.create(case=made["witness"], person=world.ella, role=PartyRole.WITNESS)

    # Another organisation: nobody here sees it, whatever their role.
    other = org_services.create_organisation(None, "Annen kommune", "987654321")
    unit, _ = org_services.save_unit(None, other, "ANNEN", "Annen kommune", None)
    olav, _ = org_services.save_person(None, other, "A001", name="Olav Annen", email="olav@annen.no", unit_id=unit.pk)
    org_services.link_login(None, olav, "olav@annen.no", "x")
    org_services.assign_role(None, olav, Role.HR, None)
    foreign = Case.objects.create(organisation=other, number="SAK-A-001", kind=Kind.PSYCHOSOCIAL, unit=unit,
                                  known_at=now.date())
    Party.objects.create(case=foreign, person=olav, role=PartyRole.CONCERNED)
    # Rows across organisations (bad data): still not visible to Marte or Emil.
    Handler.objects.create(case=foreign, person=world.marte, role=HandlerRole.ADDED)
    Party.objects.create(case=foreign, person=world.emil, role=PartyRole.CONCERNED)
    made["foreign"] = foreign
    world.people["olav"] = olav

    for key, c in made.items():
        about = c.parties.filter(role=PartyRole.CONCERNED).first()
        Entry.objects.create(case=c, kind=EntryKind.NOTE, occurred_on=now.date(), text=f"{key} internal")
        Entry.objects.create(case=c, kind=EntryKind.CONVERSATION, occurred_on=now.date(), text=f"{key} shared",
                             visibility=Visibility.SHARED)
        if about:
            Entry.objects.create(case=c, kind=EntryKind.CONVERSATION, occurred_on=now.date(), visibility=Visibility.SHARED,
                                 about=about.person, text=f"{key} about {about.person.name}")
        Entry.objects.create(case=c, kind=EntryKind.CONVERSATION, occurred_on=now.date(), visibility=Visibility.SHARED,
                             about=world.ella, text=f"{key} about Ella")
        for visibility in (Visibility.SHARED, Visibility.INTERNAL):
            Measure.objects.create(case=c, what=f"{key} {visibility}", kind=MeasureKind.ORGANISATIONAL,
                                   owner=world.marte, due=now.date(), visibility=visibility)
    return made


def _ids(qs):
    return set(qs.values_list("pk", flat=True))


@pytest.fixture(params=["as configured", "with the index bound", "with the bound left out for too many cases"])
def bound(request, monkeypatch):
    """cases.policy._index_bound, which only PostgreSQL gets, must change nothing: try it everywhere."""
    from django.db import connection

    from tidsnok.cases import policy

    if request.param != "as configured":
        monkeypatch.setattr(policy, "BOUND_VENDORS", frozenset({connection.vendor}))
    if request.param == "with the bound left out for too many cases":
        monkeypatch.setattr(policy, "BOUND_HANDLED_CASES", 0)


@pytest.mark.usefixtures("bound")
def test_the_fast_policy_says_exactly_what_the_plain_rule_says(world, cases):
    differences = []
    seen = set()
    for key, person in world.people.items():
        user = person.user
        for action in ACTIONS:
            fast, plain = _ids(visible(user, Case, action)), _ids(plain_cases(user, action))
            if fast != plain:
                differences.append(f"{key} {action} cases: {sorted(fast ^ plain)}")
            seen |= fast
        for action in ("view", "edit"):
            fast, plain = _ids(visible(user, Entry, action)), _ids(plain_entries(user, action))
            if fast != plain:
                differences.append(f"{key} {action} entries: {sorted(fast ^ plain)}")
        for action in ("view", "participate", "edit"):
            fast, plain = _ids(visible(user, Measure, action)), _ids(plain_measures(user, action))
            if fast != plain:
                differences.append(f"{key} {action} measures: {sorted(fast ^ plain)}")
    assert not differences, "\n".join(differences)
    # The world is not trivial: every case is seen by someone, and the foreign one only by its own.
    assert {c.pk for c in cases.values()} <= seen
    assert cases["foreign"].pk not in _ids(visible(world.user("marte"), Case))
    assert cases["foreign"].pk not in _ids(visible(world.user("emil"), Case, "participate"))


def test_single_case_checks_agree_with_the_lists(world, cases):
    for key, person in world.people.items():
        user = person.user
        listed = _ids(visible(user, Case, "view"))
        for c in cases.values():
            assert can(user, "view", c) == (c.pk in listed), (key, c.number)


def test_handler_level_access_to_a_case_shows_every_entry_and_measure_of_it(world, cases):
    """The case page asks the policy for the case alone and then reads its entries
    and measures by the case's key (tidsnok.cases.views.CasePage.handled): which
    holds only if any handler-level access to a case shows all of them, internal
    ones too, under the policy's own rules for entries and measures."""
    checked = 0
    for key, person in world.people.items():
        user = person.user
        entries, measures = _ids(visible(user, Entry)), _ids(visible(user, Measure))
        for action in sorted(HANDLER_ACTIONS):
            for c in visible(user, Case, action):
                assert _ids(Entry.objects.filter(case=c)) <= entries, (key, action, c.number)
                assert _ids(Measure.objects.filter(case=c)) <= measures, (key, action, c.number)
                checked += 1
    assert checked > 20

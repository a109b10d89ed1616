"""Who is reminded of a deadline, and to whom an overdue one climbs.

Responsible for a deadline (the rule's `responsible`):
- "hr": the case's active HR handlers; if HR is not on the case yet, as below;
- anything else: the case owner, or, when the case has none, its active manager
  handlers.
Expected events (NAV's own milestones, legal consequences) remind nobody.

Escalation of an overdue deadline:
- a restricted case (harassment, whistleblowing), which only its handlers see,
  climbs among its handlers: an HR handler who is not the one responsible, else
  another handler; only if there is none, to an HR adviser covering the unit;
- to HR when the case is HR's: a case with an HR handler, or an HR deadline.
  An HR deadline climbs from the HR handler to another HR adviser whose scope
  covers the case's unit (organisation-wide HR first);
- otherwise to the manager's manager: the nearest manager above the unit the
  responsible manager leads for this case; at the top of the tree, to HR.
Nobody who is excluded from the case (a party, for impartiality) is ever chosen.
"""

from dataclasses import dataclass, field

from tidsnok.cases.models import Deadline, DeadlineStatus, HandlerRole, Status
from tidsnok.org.models import Role, RoleAssignment, Unit

MANAGER_HANDLER_ROLES = (HandlerRole.MANAGER, HandlerRole.NEXT_MANAGER)


def responsible_people(responsible: str, owner_id: int | None, handlers) -> list[int]:
    """Person ids. `handlers`: [(person_id, role)] of the case's active handlers."""
    if responsible == "hr":
        hr = sorted({p for p, role in handlers if role == HandlerRole.HR})
        if hr:
            return hr
    if owner_id is not None:
        return [owner_id]
    return sorted({p for p, role in handlers if role in MANAGER_HANDLER_ROLES})


def reminded_deadlines():
    """Deadlines that remind someone: open, on an open case, not an expected event."""
    return Deadline.objects.filter(status=DeadlineStatus.OPEN, expected_event=False, case__status=Status.OPEN)


@dataclass
class OrgStructure:
    """An organisation's unit tree and its managers and HR, read once per sweep round."""

    paths: dict[int, list[int]] = field(default_factory=dict)  # unit -> ancestors, root first, itself last
    depth: dict[int, int] = field(default_factory=dict)
    managers: dict[int, list[tuple[bool, int]]] = field(default_factory=dict)  # unit -> [(is_deputy, person)]
    hr: list[tuple[int | None, int]] = field(default_factory=list)  # (unit or None for all, person)

    @classmethod
    def load(cls, organisation_id: int, on=None) -> "OrgStructure":
        s = cls()
        for unit_id, path, depth in Unit.objects.filter(organisation_id=organisation_id).values_list("id", "path", "depth"):
            s.paths[unit_id] = [int(p) for p in path.strip("/").split("/") if p]
            s.depth[unit_id] = depth
        rows = (
            RoleAssignment.objects.active(on)
            .filter(person__organisation_id=organisation_id, role__in=[Role.MANAGER, Role.DEPUTY, Role.HR])
            .values_list("role", "unit_id", "person_id")
        )
        for role, unit_id, person_id in rows:
            if role == Role.HR:
                s.hr.append((unit_id, person_id))
            elif unit_id is not None:
                s.managers.setdefault(unit_id, []).append((role == Role.DEPUTY, person_id))
        for people in s.managers.values():
            people.sort()
        return s

    def hr_for(self, unit_id: int, skip: set[int]) -> list[int]:
        """HR advisers whose scope covers the unit: organisation-wide first, then the broadest unit scope."""
        ancestors = set(self.paths.get(unit_id, []))
        ranked = sorted(
            (self.depth.get(u, 0) + 1 if u is not None else 0, person)
            for u, person in self.hr
            if (u is None or u in ancestors) and person not in skip
        )
        seen, people = set(), []
        for _rank, person in ranked:
            if person not in seen:
                seen.add(person)
                people.append(person)
        return people

    def manager_above(self, unit_id: int, responsible: list[int], skip: set[int]) -> int | None:
        """The nearest manager above the unit that the responsible manager leads for this case."""
        ancestors = self.paths.get(unit_id, [])
        led = None
        for index in range(len(ancestors) - 1, -1, -1):
            if any(person in responsible for _deputy, person in self.managers.get(ancestors[index], [])):
                led = index
        # Start above the highest unit on the path that she leads (a deputy and a
        # manager of the same unit count as one level); if she leads none, above nothing.
        start = (led - 1) if led is not None else len(ancestors) - 1
        for index in range(start, -1, -1):
            for _deputy, person in self.managers.get(ancestors[index], []):
                if person not in skip and person not in responsible:
                    return person
        return None


def escalation_targets(structure: OrgStructure, *, unit_id: int, restricted: bool, deadline_responsible: str,
                       handlers, responsible: list[int], excluded: set[int]) -> list[int]:
    """Person ids an overdue deadline climbs to (usually one)."""
    skip = set(excluded) | set(responsible)
    hr_handlers = sorted({p for p, role in handlers if role == HandlerRole.HR} - skip)
    if restricted:
        # Only its handlers may see a restricted case: climb among them first.
        others = sorted({p for p, _role in handlers} - skip)
        if hr_handlers or others:
            return hr_handlers or others[:1]
        return structure.hr_for(unit_id, skip)[:1]
    hr_case = bool(hr_handlers) or deadline_responsible == "hr" or any(role == HandlerRole.HR for _p, role in handlers)
    if not hr_case:
        above = structure.manager_above(unit_id, responsible, skip)
        if above is not None:
            return [above]
    # The case is HR's (or no manager is above): the HR handlers, or, when the
    # deadline is theirs, the HR adviser above them.
    if hr_handlers:
        return hr_handlers
    return structure.hr_for(unit_id, skip)[:1]

"""The organisation import service: check both CSV files completely, then
apply them in one transaction through the org services, or write nothing.

Decisions:
- People and units missing from a file are left alone, never deleted: a file
  from the HR system may be partial, and deleting a person would orphan her cases.
- A blank manager cell leaves the unit's manager as it is; a different manager
  ends the current assignment as of yesterday and starts the new one today.
- An identical re-import writes no change events; it still records an OrgImport
  row and one `org.imported` audit event (with all counts zero), so the log
  shows that the organisation was checked against the file.
"""

import hashlib
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tidsnok.audit.services import record
from tidsnok.org import importer, scope, services
from tidsnok.org.models import Organisation, OrgImport, Person, Role, RoleAssignment, Unit
from tidsnok.org.services import NotAllowed


@dataclass
class ImportResult:
    errors: list[importer.RowError] = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    org_import: OrgImport | None = None

    @property
    def ok(self) -> bool:
        return not self.errors


def _require_admin(actor, organisation: Organisation) -> None:
    if not scope.is_admin(actor) or scope.organisation_id_of(actor) not in (None, organisation.pk):
        raise NotAllowed(_("Only an administrator may import the organisation."))


def import_organisation(actor, organisation: Organisation, units_file: bytes | None = None,
                        people_file: bytes | None = None, filename: str = "") -> ImportResult:
    """Import units and/or people. Returns the errors (and writes nothing) or the summary."""
    _require_admin(actor, organisation)
    if units_file is None and people_file is None:
        raise ValueError("import_organisation needs a units file, a people file or both")
    # Parsed before the transaction: a large file does not hold the write lock while it is read.
    units, people = importer.parse_files(units_file, people_file)
    with transaction.atomic():
        # One import per organisation at a time (a no-op on SQLite, whose
        # IMMEDIATE transactions already serialise writers), so the snapshot
        # checked is the one written to.
        Organisation.objects.select_for_update().filter(pk=organisation.pk).first()
        existing = snapshot(organisation)
        errors = importer.all_errors(units, people, existing)
        if errors:
            return ImportResult(errors=errors)
        summary = _apply(actor, organisation, units.rows if units else [], people.rows if people else [], existing)
        if people is not None:
            # Everyone created is in the file, so this is who the file left out (and who was kept).
            summary["people"]["not_in_file"] = len(
                existing.employee_numbers - {row.employee_number for row in people.rows}
            )
        org_import = OrgImport.objects.create(
            organisation=organisation, created_by=actor, filename=filename[:255],
            sha256=_digest(units_file, people_file), summary=summary,
        )
        record(actor, "org.imported", org_import, {"sha256": org_import.sha256, "counts": summary["counts"]})
    return ImportResult(summary=summary, org_import=org_import)


def snapshot(organisation: Organisation) -> importer.Existing:
    return importer.Existing(
        unit_parents=dict(Unit.objects.filter(organisation=organisation).values_list("code", "parent__code")),
        employee_numbers=frozenset(
            Person.objects.filter(organisation=organisation).order_by().values_list("employee_number", flat=True)
        ),
    )


def _digest(units_file: bytes | None, people_file: bytes | None) -> str:
    """One fingerprint of the pair, so the same two files give the same value."""
    outer = hashlib.sha256()
    for label, data in (("units", units_file), ("people", people_file)):
        inner = hashlib.sha256(data).hexdigest() if data is not None else "-"
        outer.update(f"{label}:{inner}\n".encode())
    return outer.hexdigest()


def _empty_summary() -> dict:
    return {
        "units": {"created": [], "changed": {}, "unchanged": 0},
        "people": {"created": [], "changed": {}, "unchanged": 0},
        "managers": {"changed": []},
    }


def _apply(actor, organisation, unit_rows, person_rows, existing) -> dict:
    summary = _empty_summary()
    # Rows that match what is stored skip the service call: a nightly re-import
    # of 50,000 unchanged people then costs a few queries, not 150,000. Every
    # change still goes through the service, with its access check and audit event.
    unit_names = dict(Unit.objects.filter(organisation=organisation).values_list("code", "name"))
    ordered = importer.parents_first(unit_rows, existing)
    # New units first and in bulk (the first file of a large organisation), each audited as one
    # by one; a stored unit then moved below a new one finds it. Moving a unit moves the paths
    # of everything below it, new units included.
    new_units = [(row.code, row.name, row.parent or None) for row in ordered if row.code not in unit_names]
    services.create_units(actor, organisation, new_units)
    summary["units"]["created"].extend(code for code, _name, _parent in new_units)
    for row in ordered:
        if row.code not in unit_names:
            continue
        if unit_names[row.code] == row.name and existing.unit_parents[row.code] == (row.parent or None):
            summary["units"]["unchanged"] += 1
            continue
        # Fetched fresh: an earlier row may have moved the parent, and
        # save_unit computes the path from the parent object it is given.
        parent = Unit.objects.get(organisation=organisation, code=row.parent) if row.parent else None
        _unit, changes = services.save_unit(actor, organisation, row.code, row.name, parent)
        _count(summary["units"], row.code, changes)

    unit_ids = dict(Unit.objects.filter(organisation=organisation).values_list("code", "pk"))
    # Only the people in the file: a one-line file read all 50,453 people of a large employer (1.1 s).
    stored = {}
    numbers = sorted({row.employee_number for row in person_rows} & existing.employee_numbers)
    for chunk in importer.chunks(numbers):
        stored.update(
            (person.employee_number, person)
            for person in Person.objects.filter(organisation=organisation, employee_number__in=chunk)
            .only("employee_number", *services.PERSON_FIELDS).order_by()
        )
    new = []
    for row in person_rows:
        values = {"unit_id": unit_ids[row.unit], **row.values}
        person = stored.get(row.employee_number)
        if person is None:
            new.append((row.employee_number, values))
            continue
        if all(getattr(person, name) == value for name, value in values.items()):
            summary["people"]["unchanged"] += 1
            continue
        _person, changes = services.save_person(actor, organisation, row.employee_number, **values)
        _count(summary["people"], row.employee_number, changes)
    # New people in bulk (the first file of a large organisation), each audited as one by one.
    services.create_people(actor, organisation, new)
    summary["people"]["created"].extend(number for number, _values in new)

    today = timezone.localdate()
    for row in unit_rows:
        if row.manager and _set_manager(actor, organisation, row.code, row.manager, today):
            summary["managers"]["changed"].append(row.code)

    summary["counts"] = {
        "units_created": len(summary["units"]["created"]),
        "units_changed": len(summary["units"]["changed"]),
        "people_created": len(summary["people"]["created"]),
        "people_changed": len(summary["people"]["changed"]),
        "managers_changed": len(summary["managers"]["changed"]),
    }
    return summary


def _count(bucket: dict, key: str, changes: dict) -> None:
    """Record identifiers and field names only: the summary holds no personal values."""
    if changes.get("created"):
        bucket["created"].append(key)
    elif changes:
        bucket["changed"][key] = sorted("unit" if name == "unit_id" else name for name in changes)
    else:
        bucket["unchanged"] += 1


def _set_manager(actor, organisation, unit_code: str, employee_number: str, today) -> bool:
    """Make `employee_number` the unit's manager from today; True if that changed anything."""
    unit = Unit.objects.get(organisation=organisation, code=unit_code)
    person = Person.objects.select_related("organisation").get(organisation=organisation, employee_number=employee_number)
    current = list(
        RoleAssignment.objects.active(today).filter(unit=unit, role=Role.MANAGER).select_related("person__organisation")
    )
    if any(assignment.person_id == person.pk for assignment in current):
        return False
    # The old manager keeps access through yesterday, the new one has it from today:
    # no day with two managers, no day with none.
    for assignment in current:
        services.end_role(actor, assignment, today - timedelta(days=1))
    services.assign_role(actor, person, Role.MANAGER, unit, starts_on=today)
    return True

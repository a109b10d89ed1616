"""Requests for an access copy: the employee asks, HR is told and answers within
one month (GDPR art. 12 (3)), by exporting the copy (access_copy.py), which marks
the request delivered in the export's transaction.

Audit events, both with the person as object and no content:
- `person.access_requested` (the request's id and its received and due dates);
- `person.access_request_delivered` (the request's id, the copy's SHA-256, and
  whether it came after the due date), written by `export_access_copy` with the
  export's own event.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from tidsnok.access.policy import AccessDenied
from tidsnok.audit.services import record
from tidsnok.notify import services as notify
from tidsnok.notify.models import NotificationKind
from tidsnok.org import scope
from tidsnok.org.models import Person, Role, RoleAssignment
from tidsnok.reports.access_copy import AlreadyDelivered, export_access_copy, exportable_people
from tidsnok.reports.case_pdf import ExportedPdf
from tidsnok.reports.models import AccessRequest

REQUEST_ACTION = "person.access_requested"


def one_month_after(day: date) -> date:
    """The same day of the next month; the month's last day when it has no such day
    (31 January -> 28 or 29 February), as periods in months are counted in EU law
    (Regulation 1182/71 art. 3 (2) c)."""
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _hr_for(person: Person, on: date) -> list:
    """The logins of HR whose scope reaches the person: HR for the whole organisation,
    or for her unit or one above it."""
    ancestor_ids = person.unit.ancestor_ids
    rows = (
        RoleAssignment.objects.active(on)
        .filter(role=Role.HR, person__organisation_id=person.organisation_id, person__user__isnull=False)
        .filter(Q(unit__isnull=True) | Q(unit_id__in=ancestor_ids))
        .exclude(person=person)
        .select_related("person__user")
    )
    users = {row.person.user_id: row.person.user for row in rows}
    return [users[pk] for pk in sorted(users) if users[pk].is_active]


def request_access_copy(actor) -> tuple[AccessRequest, bool]:
    """The actor asks for her own access copy. Returns (request, created): while a
    request of hers is open, asking again returns that one and changes nothing."""
    person = scope.person_of(actor)
    if person is None:
        raise AccessDenied("request_access_copy")
    existing = open_request_of(person)
    if existing is not None:
        return existing, False
    today = timezone.localdate()
    try:
        with transaction.atomic():
            request = AccessRequest.objects.create(
                organisation_id=person.organisation_id, person=person, received_on=today,
                due_on=one_month_after(today),
            )
            record(actor, REQUEST_ACTION, person,
                   {"request": request.pk, "received_on": request.received_on, "due_on": request.due_on},
                   role=scope.role_label(actor))
            for user in _hr_for(person, today):
                # The outbox's key is one per e-mail: each HR adviser's own.
                notify.queue(user, NotificationKind.ACCESS_REQUEST, f"access_request:{request.pk}:{user.pk}",
                             data={"due": request.due_on.isoformat(), "path": reverse("access_copy_find")})
    except IntegrityError:
        # A second request at the same moment (two tabs): the open one stands.
        return AccessRequest.objects.get(person=person, delivered_at__isnull=True), False
    return request, True


# HR is reminded of an open request this many days before it is due, and again once it is overdue.
REMIND_DAYS_BEFORE = 7


def remind_due(worker: str = "") -> int:
    """Sweep upkeep: remind HR in scope of open requests due within REMIND_DAYS_BEFORE days, and
    once more when one is overdue. Each reminder once per request: the request's `reminded` moves
    on with a conditional update, so of two sweep workers only one sends it. Returns how many
    requests it reminded of."""
    today = timezone.localdate()
    soon = AccessRequest.objects.filter(delivered_at__isnull=True, due_on__lte=today + timedelta(days=REMIND_DAYS_BEFORE))
    due = list(soon.filter(reminded="", due_on__gte=today).select_related("person__unit")) + list(
        soon.filter(due_on__lt=today).exclude(reminded="overdue").select_related("person__unit"))
    reminded = 0
    for request in due:
        stage = "overdue" if request.due_on < today else "soon"
        with transaction.atomic():
            if not AccessRequest.objects.filter(pk=request.pk, reminded=request.reminded,
                                                delivered_at__isnull=True).update(reminded=stage):
                continue  # another worker did it, or HR has just delivered the copy
            for user in _hr_for(request.person, today):
                notify.queue(user, NotificationKind.ACCESS_DUE, f"access_due:{request.pk}:{stage}:{user.pk}",
                             data={"due": request.due_on.isoformat(), "overdue": stage == "overdue",
                                   "path": reverse("access_copy_find")})
        reminded += 1
    return reminded


def requests_of(user) -> QuerySet:
    """The user's own requests, newest first."""
    person = scope.person_of(user)
    if person is None:
        return AccessRequest.objects.none()
    return AccessRequest.objects.filter(person=person).order_by("-received_on", "-pk")


def open_request_of(person: Person) -> AccessRequest | None:
    """The person's open request, if she has one (at most one is open at a time)."""
    return AccessRequest.objects.filter(person=person, delivered_at__isnull=True).first()


def export_answering_open_request(actor, person: Person, lang: str) -> ExportedPdf:
    """Export the person's access copy and, if she has an open request, mark it delivered with
    it (the API's download; the page names the request it answers instead). When another
    adviser delivered the request in the meantime, the copy is still made, without marking it."""
    request = open_request_of(person)
    if request is not None:
        try:
            return export_access_copy(actor, person, lang, request)
        except AlreadyDelivered:
            pass
    return export_access_copy(actor, person, lang)


def open_requests(actor) -> QuerySet:
    """The open requests of the people whose copy the actor may make, the most urgent first."""
    return (
        AccessRequest.objects.filter(person__in=exportable_people(actor), delivered_at__isnull=True)
        .select_related("person__unit")
        .order_by("due_on", "pk")
    )

"""Who may see what in the whistleblowing room.

- A report, its messages and its attachments: the handlers of its case, exactly
  as the case itself (a restricted kind: its handlers only; excluded people
  never). The reporter reads her own report through the channel, not here.
- Routines: published versions are for every employee of the organisation;
  drafts for those who edit them (HR with whole-organisation scope, administrators).
- Designated handlers: for those who manage the channel.
"""

from tidsnok.access.policy import register
from tidsnok.cases.policy import case_condition
from tidsnok.org import scope
from tidsnok.whistleblowing.models import Attachment, DesignatedHandler, Message, Report, Routine


def reports_visible(user, action="view"):
    return Report.objects.filter(case_condition(user, action, "case__"))


def messages_visible(user, action="view"):
    return Message.objects.filter(case_condition(user, action, "report__case__"))


def attachments_visible(user, action="view"):
    return Attachment.objects.filter(case_condition(user, action, "report__case__"))


def _manages(user) -> bool:
    return scope.hr_scope(user) == scope.ALL or scope.is_admin(user)


def routines_visible(user, action="view"):
    org_id = scope.organisation_id_of(user)
    if org_id is None:
        return Routine.objects.none()
    rows = Routine.objects.filter(organisation_id=org_id)
    if _manages(user):
        return rows
    if action != "view":
        return Routine.objects.none()
    return rows.filter(published_on__isnull=False)


def designated_visible(user, action="view"):
    org_id = scope.organisation_id_of(user)
    if org_id is None or not _manages(user):
        return DesignatedHandler.objects.none()
    return DesignatedHandler.objects.filter(organisation_id=org_id)


def register_policies():
    register(Report, reports_visible)
    register(Message, messages_visible)
    register(Attachment, attachments_visible)
    register(Routine, routines_visible)
    register(DesignatedHandler, designated_visible)

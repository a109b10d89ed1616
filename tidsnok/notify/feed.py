"""The personal calendar feed: a user's open deadlines as iCalendar all-day events.

Each event says the deadline's title, the case number and a link; never a name
or a description. Only deadlines of cases the user may still see are listed.
"""

from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from icalendar import Calendar, Event

from tidsnok.access.policy import visible
from tidsnok.cases.models import Case
from tidsnok.notify.messages import absolute, case_path
from tidsnok.notify.responsibility import deadlines_of
from tidsnok.notify.services import language_of
from tidsnok.org import scope


def open_deadlines(user):
    person = scope.person_of(user)
    if person is None:
        return []
    return (
        deadlines_of(person).filter(case__in=visible(user, Case))
        .select_related("case").order_by("due", "id")
    )


def build(user) -> bytes:
    lang = language_of(user)
    host = urlsplit(settings.SITE_URL).hostname or "tidsnok"
    stamp = timezone.now()
    calendar = Calendar()
    calendar.add("prodid", "-//tidsnok//frister//NO")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    with translation.override(lang):
        calendar.add("x-wr-calname", _("tidsnok deadlines"))
        for deadline in open_deadlines(user):
            link = absolute(case_path(deadline.case_id))
            event = Event()
            event.add("uid", f"deadline-{deadline.pk}@{host}")
            event.add("dtstamp", stamp)
            event.add("dtstart", deadline.due)
            event.add("dtend", deadline.due + timedelta(days=1))
            event.add("summary", _("%(title)s (case %(number)s)") % {
                "title": deadline.title(lang), "number": deadline.case.number,
            })
            event.add("description", _("Open the case in tidsnok: %(url)s") % {"url": link})
            event.add("url", link)
            event.add("transp", "TRANSPARENT")
            calendar.add_component(event)
    return calendar.to_ical()

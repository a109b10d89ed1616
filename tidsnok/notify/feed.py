"""The personal calendar feed: a user's open deadlines as iCalendar all-day events.

Each event says the deadline's title, the case number and a link; never a name
or a description. Only deadlines of cases the user may still see are listed.

Calendar clients poll the feed every 15-60 minutes and it rarely changes, while
building it with icalendar is the expensive part. So `snapshot` reads the few
columns the body is made of, once, and hashes them: the hash is the ETag (a
client that already has this version gets a 304) and the key of the rendered
body in the shared cache (another client of the same version gets the stored
bytes without any icalendar work).
"""

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, timedelta
from urllib.parse import urlsplit

import icalendar
from django.conf import settings
from django.core.cache import cache
from django.db.models import Exists, OuterRef
from django.utils import translation
from django.utils.translation import gettext as _
from icalendar import Calendar, Event

from tidsnok.access.policy import visible
from tidsnok.cases.models import Case, Deadline, DeadlineStatus, Handler, HandlerRole, Status
from tidsnok.notify.messages import absolute, case_path
from tidsnok.notify.responsibility import responsible_people
from tidsnok.notify.services import language_of
from tidsnok.org import scope

# Part of every fingerprint, as CACHE_FORMAT is of the other caches' keys: raise it when the
# feed's layout changes (a property added, a format changed), so that no body cached by the
# previous release is served and no client keeps it behind an unchanged ETag. The icalendar
# version goes in too: its output may change with it.
FEED_FORMAT = 1
_LAYOUT = f"{FEED_FORMAT}/{icalendar.__version__}"

# Everything an event is made of, and nothing else (see _event).
_COLUMNS = ("pk", "due", "updated_at", "title_nb", "title_en", "case_id", "case__number")

# Long enough to outlive the polls between two changes; a stale entry is never
# wrong (its key is a hash of its content), it only takes room until culled.
CACHE_SECONDS = 24 * 60 * 60


def open_deadline_rows(user, columns: tuple[str, ...]) -> tuple[list[tuple], dict[int, str]]:
    """The open deadlines she answers for, in the open cases of hers she may still see, as
    rows of `columns` (Deadline fields), in no order; and those cases' numbers by id.

    Read by key in four small queries (the cases she owns, her handler rows, which of those
    cases she may see, their open deadlines), and decided in Python by the rule the sweep
    applies (responsibility.responsible_people). Asked of the database as one query, with
    the rule as correlated subqueries and the cases joined in, the planners went astray:
    SQLite listed all of HR's 21,000 visible cases (22 ms at 50,000 employees) or walked
    every open deadline of the installation in due order (47 ms for a manager of 130 open
    cases), and PostgreSQL hashed all 7,700 open cases to join a hundred deadlines."""
    person = scope.person_of(user)
    if person is None:
        return [], {}
    owned = Case.objects.filter(owner=person, status=Status.OPEN).values_list("pk", flat=True)
    my_roles = defaultdict(list)
    # Of open cases only: her handler rows stay when a case closes, and without this the list
    # below would grow with every year of history (341 rows for 132 open cases after one year
    # for the large unit's manager). With PostgreSQL's default random_page_cost the join is a
    # hash over every open case (5-7 ms); with the SSD setting docs/deployment.md recommends,
    # an index lookup per row (1.4 ms).
    for case_id, role in (
        Handler.objects.filter(person=person, removed_at__isnull=True, case__status=Status.OPEN)
        .values_list("case_id", "role")
    ):
        my_roles[case_id].append(role)
    own = sorted(set(owned) | set(my_roles))
    if not own:
        return [], {}
    any_hr = Handler.objects.filter(case=OuterRef("pk"), removed_at__isnull=True, role=HandlerRole.HR)
    cases = {
        pk: (owner_id, number, has_hr)
        for pk, owner_id, number, has_hr in visible(user, Case).filter(pk__in=own, status=Status.OPEN)
        .annotate(has_hr=Exists(any_hr)).values_list("pk", "owner_id", "number", "has_hr")
    }
    rows = (
        Deadline.objects.filter(case_id__in=list(cases), status=DeadlineStatus.OPEN, expected_event=False)
        .order_by().values_list("responsible", "case_id", *columns)
    )
    mine = []
    for row in rows:
        owner_id, _number, has_hr = cases[row[1]]
        # The handlers that decide whether she is among the responsible: her own rows, and
        # whether the case has any HR handler (person 0 stands for the others: a whistleblowing
        # report may have fifty, and who they are does not change whether she is one of them).
        handlers = [(person.pk, role) for role in my_roles[row[1]]] + ([(0, HandlerRole.HR)] if has_hr else [])
        if person.pk in responsible_people(row[0], owner_id, handlers):
            mine.append(row[2:])
    return mine, {pk: number for pk, (_owner, number, _hr) in cases.items()}


def open_deadline_keys(user) -> list[tuple[date, int]]:
    """(due, pk) of her open deadlines, earliest first (sorted here: they are bounded by her
    open cases, and in due order SQLite chose the due-date index of all open deadlines)."""
    rows, _numbers = open_deadline_rows(user, ("due", "pk"))
    return sorted(rows)


def deadlines_by_keys(keys: list[tuple[date, int]]) -> list[Deadline]:
    """The deadlines of `keys` (from open_deadline_keys), in that order, with their cases
    (read by key in a second query, not joined: see open_deadline_rows)."""
    found = Deadline.objects.prefetch_related("case").in_bulk([pk for _due, pk in keys])
    return [found[pk] for _due, pk in keys if pk in found]


def deadline_items(keys: list[tuple[date, int]], lang: str, today: date) -> list[dict]:
    """The rows notify/_deadline_rows.html shows for `keys` (My deadlines, Min oversikt)."""
    return [
        {"deadline": d, "title": d.title(lang), "link": case_path(d.case_id), "overdue": d.due < today,
         "today": d.due == today}
        for d in deadlines_by_keys(keys)
    ]


@dataclass(frozen=True)
class Snapshot:
    """What one user's feed is made of right now, and its fingerprint."""

    lang: str
    texts: tuple[str, str, str]
    rows: list[tuple]
    etag: str  # the hex SHA-256 of everything above, unquoted

    @property
    def cache_key(self) -> str:
        return f"feed:{self.etag}"

    def body(self) -> bytes:
        # Safe to share between users: the key is a hash of every input of the
        # body (language, texts, site address, code and each listed row), so two
        # users can only meet under one key when their bodies are byte for byte
        # the same. Nothing to invalidate either: a change makes a new key.
        body = cache.get(self.cache_key)
        if body is None:
            body = _render(self)
            cache.set(self.cache_key, body, CACHE_SECONDS)
        return body


def snapshot(user) -> Snapshot:
    """One query for the rows, no model instances, no icalendar: cheap enough for every poll."""
    lang = language_of(user)
    with translation.override(lang):
        # The catalogue is fixed per release, but hashing the texts themselves
        # costs three look-ups and makes a new translation a new version.
        texts = (_("tidsnok deadlines"), _("%(title)s (case %(number)s)"), _("Open the case in tidsnok: %(url)s"))
    found, numbers = open_deadline_rows(user, _COLUMNS[:-1])
    # In due order, sorted here for the reason open_deadline_keys gives.
    rows = sorted((row + (numbers[row[5]],) for row in found), key=lambda row: (row[1], row[0]))
    canonical = repr((
        _LAYOUT, lang, texts, absolute(case_path(0)),
        # isoformat, not repr: the same instant must hash the same whichever tzinfo
        # class the database driver of an app server hands back.
        [(pk, due.isoformat(), _utc(changed).isoformat(), nb, en, case_id, number)
         for pk, due, changed, nb, en, case_id, number in rows],
    ))
    return Snapshot(lang, texts, rows, hashlib.sha256(canonical.encode()).hexdigest())


def build(user) -> bytes:
    return snapshot(user).body()


def _utc(moment):
    # RFC 5545 wants DTSTAMP in UTC, and icalendar writes whole seconds: drop the
    # microseconds here so the hash and the bytes agree on what was written.
    return moment.astimezone(UTC).replace(microsecond=0)


def _render(snap: Snapshot) -> bytes:
    calname, summary, description = snap.texts
    host = urlsplit(settings.SITE_URL).hostname or "tidsnok"
    calendar = Calendar()
    calendar.add("prodid", "-//tidsnok//frister//NO")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", calname)
    for pk, due, changed, title_nb, title_en, case_id, number in snap.rows:
        link = absolute(case_path(case_id))
        event = Event()
        event.add("uid", f"deadline-{pk}@{host}")
        # Without a METHOD the calendar is a copy of the store, and DTSTAMP is when
        # the information was last revised there (RFC 5545 3.8.7.2). It used to be
        # the time of the request, which changed the bytes of every poll.
        event.add("dtstamp", _utc(changed))
        event.add("dtstart", due)
        event.add("dtend", due + timedelta(days=1))
        # As Deadline.title(lang): English only when asked for, else bokmål.
        title = title_en if snap.lang == "en" else title_nb
        event.add("summary", summary % {"title": title, "number": number})
        event.add("description", description % {"url": link})
        event.add("url", link)
        event.add("transp", "TRANSPARENT")
        calendar.add_component(event)
    return calendar.to_ical()

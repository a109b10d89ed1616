from datetime import timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone, translation
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from tidsnok.access.policy import visible
from tidsnok.deadlines.calendar import normalise_lang
from tidsnok.notify.feed import deadline_items, open_deadline_keys
from tidsnok.org import scope
from tidsnok.org.models import Person, RoleAssignment, Unit
from tidsnok.risk import services as risk_services
from tidsnok.risk import survey as risk_survey

PEOPLE_PER_PAGE = 50
SOON_DAYS = 14  # "due soon" on Min oversikt: overdue, and due within two weeks
SOON_SHOWN = 5  # the rest is one click away, on My deadlines
MEASURES_SHOWN = 10  # her open measures of action plans; each links to its assessment
REVIEWS_SHOWN = 10  # risk assessments due for review


@login_required
def home(request):
    """Min oversikt: my roles, my units and the people I am responsible for."""
    user = request.user
    person = scope.person_of(user)
    roles = (
        RoleAssignment.objects.active().filter(person=person).select_related("unit").order_by("role", "unit__path")
        if person
        else RoleAssignment.objects.none()
    )
    managed = scope.managed_unit_ids(user)
    responsible_for = (
        visible(user, Person).filter(unit_id__in=list(managed)).exclude(pk=person.pk if person else None)
        .select_related("unit").order_by("unit__path", "sort_name", "pk")
        if managed
        else Person.objects.none()
    )
    # A page at a time: a sector manager may answer for thousands of people.
    people = Paginator(responsible_for, PEOPLE_PER_PAGE).get_page(request.GET.get("side"))
    units = visible(user, Unit).filter(pk__in=list(managed)).order_by("path") if managed else Unit.objects.none()
    soon, more_soon = _due_soon(user) if person else ([], False)
    today = timezone.localdate()
    measures, more_measures = _my_measures(person, today) if person else ([], False)
    surveys = _open_surveys(person, today) if person else []
    # The unit's managers answer for its next round (they are the ones reminded); HR follows all
    # units on the coverage page, where hundreds due at once are a list to filter, not a reminder.
    # So a manager who is HR as well sees the reviews of the units she manages, not HR's.
    reviews, more_reviews = _reviews_due(user, today, managed) if managed else ([], False)
    return render(request, "web/home.html", {
        "person": person, "roles": roles, "units": units, "people": people,
        # Shown to whoever answers for deadlines, and to anyone who has one (an added handler).
        "show_soon": bool(soon) or bool(managed) or scope.is_hr(user), "soon": soon, "more_soon": more_soon,
        "measures": measures, "more_measures": more_measures, "reviews": reviews, "more_reviews": more_reviews,
        "surveys": surveys,
    })


def _my_measures(person, today) -> tuple[list[dict], bool]:
    """Her open measures of the units' action plans, the earliest due first, and whether there
    are more: one query however many she owns."""
    rows = list(risk_services.open_actions_of(person)[: MEASURES_SHOWN + 1])
    return [{"action": a, "overdue": a.due < today} for a in rows[:MEASURES_SHOWN]], len(rows) > MEASURES_SHOWN


def _reviews_due(user, today, managed) -> tuple[list[dict], bool]:
    """Risk assessments of the units she manages that are due for review
    (risk.services.reviews_due), and whether there are more."""
    rows = list(risk_services.reviews_due(user, today, managed)[: REVIEWS_SHOWN + 1])
    shown = [{"assessment": a, "overdue": a.review_due < today} for a in rows[:REVIEWS_SHOWN]]
    return shown, len(rows) > REVIEWS_SHOWN


def _open_surveys(person, today) -> list:
    """Risk-assessment surveys she has been asked to answer and has not yet (a query)."""
    return list(risk_survey.open_for(person, today)[:10])


def _due_soon(user) -> tuple[list[dict], bool]:
    """The first deadlines of My deadlines that are overdue or due within SOON_DAYS, and
    whether there are more: a manager short of time sees first what cannot wait."""
    today = timezone.localdate()
    keys = [key for key in open_deadline_keys(user) if key[0] <= today + timedelta(days=SOON_DAYS)]
    soon = deadline_items(keys[:SOON_SHOWN], normalise_lang(translation.get_language()), today)
    return soon, len(keys) > SOON_SHOWN


@never_cache
@require_GET
def healthz(request):
    """For load balancers: the database answers and no migration is pending."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception:
        return JsonResponse({"status": "error", "database": False}, status=503)
    if pending:
        return JsonResponse({"status": "error", "database": True, "migrations": "pending"}, status=503)
    return JsonResponse({"status": "ok", "database": True, "migrations": "applied"})


@require_POST
def set_language(request):
    """The language button: remembered on the user as well as in the cookie, so
    the choice follows her to other browsers and the e-mails she gets."""
    from django.views.i18n import set_language as django_set_language

    language = request.POST.get("language", "")
    if request.user.is_authenticated and language in dict(settings.LANGUAGES):
        request.user.language = language
        request.user.save(update_fields=["language"])
    return django_set_language(request)

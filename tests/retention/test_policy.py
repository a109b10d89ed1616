"""The retention policy (DOMAIN §8): rules, the administrators' page, and applying them."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone, translation

from tests.conftest import enrol_totp
from tidsnok.absence import services as absence_services
from tidsnok.absence import statistics
from tidsnok.absence.models import DialogueMeeting, Episode, FollowUpPlan, PlanSending, PlanVersion, RecurrenceFlag
from tidsnok.access.policy import visible
from tidsnok.audit.models import AuditEvent
from tidsnok.audit.services import verify_chain
from tidsnok.cases import hooks
from tidsnok.cases import services as case_services
from tidsnok.cases.models import Case, Deadline, Entry, Handler, Measure, Party
from tidsnok.notify.models import Mail, Notification
from tidsnok.reports.access_copy import collect
from tidsnok.retention import services
from tidsnok.retention.models import RetentionRule, RetentionRun
from tidsnok.versioning import StaleVersion
from tidsnok.whistleblowing import services as whistleblowing_services
from tidsnok.whistleblowing.models import Message, Report

SECRET = "Emil gråt på møtet om nattevaktene"


def _backdate(case, days=400):
    Case.objects.filter(pk=case.pk).update(closed_at=timezone.now() - timedelta(days=days))


def closed_case(world, *, days=400):
    """A closed psychosocial case about Emil with a measure (whose entry names it), an HR handler
    (whose notification points to it) and deadlines, closed `days` ago."""
    marte = world.user("marte")
    case = case_services.open_case(marte, kind="psychosocial", concerns=[world.emil], description=SECRET,
                                   known_at=timezone.localdate())
    measure = case_services.add_measure(marte, case, what="Færre nattevakter", kind="organisational",
                                        owner=world.marte, due=timezone.localdate() + timedelta(days=14),
                                        area="workload")
    case_services.update_measure(marte, measure, measure.version, status="done")
    case_services.add_handler(marte, Case.objects.get(pk=case.pk), world.hanne, "HR følger opp")
    case = Case.objects.get(pk=case.pk)
    case_services.close_case(marte, case, "Løst i samtale.", case.version)
    _backdate(case, days)
    return Case.objects.get(pk=case.pk)


def standalone_episode(world, *, end_days_ago=400):
    end = timezone.localdate() - timedelta(days=end_days_ago)
    return absence_services.register_episode(world.user("marte"), person=world.ella, start=end - timedelta(days=2),
                                             end=end, certified="self")


def set_rule(world, data_class, months=12, mode="delete"):
    rule = RetentionRule.objects.filter(organisation=world.org, data_class=data_class).first()
    return services.set_rule(world.user("ada"), world.org, data_class, months=months, mode=mode,
                             version=rule.version if rule else 0)


# --- rules --------------------------------------------------------------------------------------


def test_a_rule_under_twelve_months_is_refused_with_the_reason_in_both_languages(world):
    for language, words in (("nb", "minst 12 måneder"), ("en", "at least 12 months")):
        with translation.override(language), pytest.raises(ValidationError) as refused:
            set_rule(world, "psychosocial", months=11)
        assert words in refused.value.message_dict["months"][0]
    assert not RetentionRule.objects.exists()


def test_a_rule_change_is_audited_and_a_stale_edit_is_refused(world):
    rule = set_rule(world, "harassment", months=24, mode="restrict")
    event = AuditEvent.objects.filter(action="retention.rule_changed").get()
    assert event.data == {"class": "harassment", "old_months": None, "new_months": 24, "old_mode": None,
                          "new_mode": "restrict"}
    with pytest.raises(StaleVersion):  # a second administrator's form still said "no rule yet"
        services.set_rule(world.user("ada"), world.org, "harassment", months=36, mode="delete", version=0)
    with pytest.raises(StaleVersion):
        services.set_rule(world.user("ada"), world.org, "harassment", months=36, mode="delete",
                          version=rule.version - 1 if rule.version > 1 else rule.version + 5)
    cleared = services.set_rule(world.user("ada"), world.org, "harassment", months=None, mode="restrict",
                                version=rule.version)
    assert cleared.months is None and RetentionRule.objects.get().months is None


def test_nobody_but_an_administrator_sets_a_rule(world):
    from tidsnok.access.policy import AccessDenied

    with pytest.raises(AccessDenied):
        services.set_rule(world.user("hanne"), world.org, "psychosocial", months=24, mode="delete", version=0)


# --- the page -----------------------------------------------------------------------------------


def test_the_page_is_for_administrators_read_only_for_hr_and_absent_for_managers(world, client):
    ada, hanne = world.user("ada"), world.user("hanne")
    enrol_totp(ada)
    enrol_totp(hanne)
    client.force_login(ada)
    page = client.get("/oppbevaring/")
    assert page.status_code == 200 and b'name="months"' in page.content
    assert b'href="/oppbevaring/"' in page.content  # the administrators' menu links to it

    client.force_login(hanne)
    page = client.get("/oppbevaring/")
    assert page.status_code == 200 and b'name="months"' not in page.content
    post = {"data_class": "psychosocial", "months": "24", "mode": "delete", "version": "0"}
    assert client.post("/oppbevaring/", post).status_code == 404

    for name in ("marte", "emil"):
        client.force_login(world.user(name))
        assert client.get("/oppbevaring/").status_code == 404
    assert not RetentionRule.objects.exists()


def test_the_page_saves_a_rule_shows_the_preview_and_refuses_a_stale_form(world, client):
    case = closed_case(world)
    ada = world.user("ada")
    enrol_totp(ada)
    client.force_login(ada)
    post = {"data_class": "psychosocial", "months": "12", "mode": "delete", "version": "0"}
    assert client.post("/oppbevaring/", post).status_code == 302
    page = client.get("/oppbevaring/", HTTP_ACCEPT_LANGUAGE="nb")
    assert 'data-class="psychosocial" data-count="1"' in page.content.decode()
    assert "ville slettet 1 sak" in page.content.decode()

    refused = client.post("/oppbevaring/", {**post, "months": "36"})  # still version 0
    assert refused.status_code == 200
    assert "Reload" in refused.content.decode() or "Last siden" in refused.content.decode()
    assert RetentionRule.objects.get().months == 12

    too_short = client.post("/oppbevaring/", {**post, "months": "6", "version": "1"})
    assert too_short.status_code == 200 and "12" in too_short.content.decode()
    assert RetentionRule.objects.get().months == 12 and Case.objects.filter(pk=case.pk).exists()


# --- applying -----------------------------------------------------------------------------------


def test_delete_mode_removes_the_case_with_everything_and_the_audit_chain_still_verifies(world):
    case = closed_case(world)
    recent = closed_case(world, days=30)
    assert Notification.objects.filter(case=case).exists() and Deadline.objects.filter(case=case).exists()
    assert Entry.objects.filter(case=case, measure__isnull=False).exists()
    mails = Mail.objects.filter(data__case_id=case.pk)
    assert mails.exists() and Mail.objects.filter(data__case_id=recent.pk).exists()
    Mail.objects.filter(pk=mails.first().pk).update(sent_at=timezone.now())  # sent, not yet pruned
    set_rule(world, "psychosocial", months=12)
    today = timezone.localdate()

    assert services.preview(world.org, today)["psychosocial"].count == 1
    outcomes = services.apply(world.org, today)
    assert [(o.data_class, o.count) for o in outcomes] == [("psychosocial", 1)]

    assert not Case.objects.filter(pk=case.pk).exists()
    for model in (Entry, Measure, Deadline, Party, Handler, Notification):
        assert not model.objects.filter(case_id=case.pk).exists(), model
    assert Case.objects.filter(pk=recent.pk).exists()
    # No e-mail in the outbox tells the deleted case's number any longer; the recent one's stay.
    assert not Mail.objects.filter(data__case_id=case.pk).exists()
    assert Mail.objects.filter(data__case_id=recent.pk).exists()
    event = AuditEvent.objects.filter(action="retention.applied").get()
    assert event.data["ids"] == [case.pk] and event.data["count"] == 1 and event.data["mode"] == "delete"
    assert event.data["cutoff"] == services.cutoff_of(today, 12).isoformat()
    assert SECRET not in str(event.data) and "Emil" not in str(event.data)
    # The events about the deleted case stay, and the chain holds.
    assert AuditEvent.objects.filter(object_type="cases.case", object_id=str(case.pk)).exists()
    assert verify_chain().ok
    call_command("audit", "verify")

    # Idempotent: the next run finds nothing and writes nothing.
    assert [o.count for o in services.apply(world.org, today)] == [0]
    assert AuditEvent.objects.filter(action="retention.applied").count() == 1


def test_restrict_mode_leaves_the_case_to_its_hr_handler_and_in_the_access_copy(world):
    case = closed_case(world)
    set_rule(world, "psychosocial", months=12, mode="restrict")
    marte = world.user("marte")
    assert visible(marte, Case).filter(pk=case.pk).exists()
    today = timezone.localdate()

    assert services.preview(world.org, today)["psychosocial"].count == 1
    assert services.apply(world.org, today)[0].count == 1
    case.refresh_from_db()
    assert case.restricted and case.restricted_at is not None
    assert not visible(world.user("marte"), Case).filter(pk=case.pk).exists()
    assert visible(world.user("hanne"), Case).filter(pk=case.pk).exists()
    assert set(Handler.objects.filter(case=case, removed_at__isnull=True).values_list("role", flat=True)) == {"hr"}
    copy = collect(world.user("hanne"), world.emil)
    assert [c.case.pk for c in copy.cases] == [case.pk]

    # Restricted once: the next run leaves it alone.
    assert services.preview(world.org, today)["psychosocial"].count == 0
    assert services.apply(world.org, today)[0].count == 0
    assert AuditEvent.objects.filter(action="retention.applied").count() == 1
    assert verify_chain().ok


def test_a_restricted_case_without_an_hr_handler_is_still_found_by_hr_in_scope_but_not_by_managers(world, client):
    marte = world.user("marte")
    cases = {}
    for kind in ("conflict", "harassment"):
        case = case_services.open_case(marte, kind=kind, concerns=[world.emil], description=SECRET,
                                       known_at=timezone.localdate())
        case_services.close_case(marte, case, "Avsluttet.", Case.objects.get(pk=case.pk).version)
        _backdate(case)
        cases[kind] = case.pk
    set_rule(world, "psychosocial", months=12, mode="restrict")
    set_rule(world, "harassment", months=12, mode="restrict")
    assert sum(o.count for o in services.apply(world.org, timezone.localdate())) == 2

    def sees(name, kind):
        return visible(world.user(name), Case).filter(pk=cases[kind]).exists()

    # The archive stays reachable for HR whose scope covers the unit (hanne: all of it; hugo: HEL,
    # which holds HJ), never again for the unit's managers (marte, and helga above her).
    assert sees("hanne", "conflict") and sees("hugo", "conflict")
    assert not sees("marte", "conflict") and not sees("helga", "conflict")
    # To read and export, not to change: she is not one of its handlers.
    from tidsnok.access.policy import can

    archived = Case.objects.get(pk=cases["conflict"])
    assert can(world.user("hanne"), "export", archived)
    assert not can(world.user("hanne"), "edit", archived) and not can(world.user("hanne"), "close", archived)
    enrol_totp(world.user("hanne"))
    client.force_login(world.user("hanne"))
    assert client.get(f"/saker/{archived.pk}/").status_code == 200
    assert AuditEvent.objects.filter(action="ACCESS", object_id=str(archived.pk), actor=world.user("hanne")).exists()
    assert client.get(f"/saker/{archived.pk}/oppforing/notat/").status_code == 404
    # Harassment was for its handlers only from the start: restricting ends the manager's access,
    # and HR by scope does not gain any.
    assert not sees("marte", "harassment") and not sees("hanne", "harassment")

    # Its PDF says why only HR sees it.
    from tests.reports.test_case_pdf import flat, pdf_text
    from tidsnok.reports.case_pdf import export_case_pdf

    text = flat(pdf_text(export_case_pdf(world.user("hanne"), Case.objects.get(pk=cases["conflict"]), "nb").content))
    assert "Ja – begrenset etter oppbevaringsreglene" in text and "bare HR ser saken" in text


def test_restricted_episodes_are_hidden_from_the_manager_and_shown_to_hr(world):
    old = standalone_episode(world)
    young = standalone_episode(world, end_days_ago=30)
    ongoing = absence_services.register_episode(world.user("marte"), person=world.emil,
                                                start=timezone.localdate() - timedelta(days=900), certified="self")
    set_rule(world, "episodes", months=12, mode="restrict")
    today = timezone.localdate()
    assert services.preview(world.org, today)["episodes"].count == 1
    assert services.apply(world.org, today)[0].count == 1

    for_marte = set(visible(world.user("marte"), Episode).values_list("pk", flat=True))
    assert old.pk not in for_marte and {young.pk, ongoing.pk} <= for_marte
    assert old.pk in set(visible(world.user("hanne"), Episode).values_list("pk", flat=True))
    assert old.pk in set(visible(world.ella.user, Episode).values_list("pk", flat=True))  # her own

    set_rule(world, "episodes", months=12, mode="delete")
    fingerprint = statistics.data_fingerprint()
    assert services.apply(world.org, today)[0].count == 1
    assert statistics.data_fingerprint() != fingerprint  # cached sick-leave figures are recomputed
    assert set(Episode.objects.values_list("pk", flat=True)) == {young.pk, ongoing.pk}  # open ones never
    assert verify_chain().ok


def handled_prompt(world, *, days_ago=400):
    """Ella's third short absence in a year prompts Marte to talk with her; she did, and noted it."""
    marte = world.user("marte")
    first = timezone.localdate() - timedelta(days=100)
    for weeks in (0, 4, 8):
        start = first + timedelta(weeks=weeks)
        absence_services.register_episode(marte, person=world.ella, start=start, end=start + timedelta(days=1),
                                          certified="self")
    flag = RecurrenceFlag.objects.get(person=world.ella)
    absence_services.handle_flag(marte, flag, "Vi snakket om arbeidsmengden.")
    RecurrenceFlag.objects.filter(pk=flag.pk).update(handled_on=timezone.localdate() - timedelta(days=days_ago))
    return flag


def test_handled_prompts_are_restricted_to_hr_and_then_deleted_but_a_waiting_one_never(world):
    old = handled_prompt(world)
    waiting = RecurrenceFlag.objects.create(organisation=world.org, person=world.emil, episodes=3,
                                            raised_on=timezone.localdate() - timedelta(days=900),
                                            window_start=timezone.localdate() - timedelta(days=1265))
    today = timezone.localdate()
    set_rule(world, "prompts", months=12, mode="restrict")
    assert services.preview(world.org, today)["prompts"].count == 1
    assert services.apply(world.org, today)[0].count == 1
    assert not visible(world.user("marte"), RecurrenceFlag).filter(pk=old.pk).exists()
    assert visible(world.user("marte"), RecurrenceFlag).filter(pk=waiting.pk).exists()
    assert visible(world.user("hanne"), RecurrenceFlag).filter(pk=old.pk).exists()

    set_rule(world, "prompts", months=12, mode="delete")
    assert services.apply(world.org, today)[0].count == 1
    assert set(RecurrenceFlag.objects.values_list("pk", flat=True)) == {waiting.pk}
    event = AuditEvent.objects.filter(action="retention.applied").latest("seq")
    assert event.data["class"] == "prompts" and event.data["ids"] == [old.pk]
    assert "arbeidsmengden" not in str(event.data)
    assert verify_chain().ok


def test_a_restricted_whistleblowing_report_stays_with_its_designated_committee(world):
    from tidsnok.whistleblowing.models import DesignatedHandler

    cache.clear()  # the reporting channel's rate limit counts in the cache
    DesignatedHandler.objects.create(organisation=world.org, person=world.ask)
    case = whistleblowing_services.submit_report(None, world.org, category="work_environment",
                                                 anonymity="anonymous", description=SECRET).report.case
    Case.objects.filter(pk=case.pk).update(status="closed")
    _backdate(case)
    set_rule(world, "whistleblowing", months=12, mode="restrict")
    assert services.apply(world.org, timezone.localdate())[0].count == 1
    # Ask is not HR, and HR by scope never sees a report: without him nobody could open it.
    assert visible(world.user("ask"), Case).filter(pk=case.pk).exists()
    assert not visible(world.user("hanne"), Case).filter(pk=case.pk).exists()


def test_sick_leave_and_whistleblowing_cases_are_deleted_with_their_rows(world):
    cache.clear()  # the reporting channel's rate limit counts in the cache
    marte = world.user("marte")
    start = timezone.localdate() - timedelta(days=500)
    episode = absence_services.register_episode(marte, person=world.emil, start=start, end=start + timedelta(days=40),
                                                certified="doctor", open_case=True)
    sick = Case.objects.get(pk=episode.case_id)
    version = absence_services.save_plan(marte, sick, work_tasks_and_capacity="Lette oppgaver",
                                         employer_measures="Kortere dager", further_follow_up="Nytt møte")
    absence_services.record_plan_sent(marte, version, recipient="doctor", sent_on=timezone.localdate())
    absence_services.invite_meeting(marte, sick, kind="dialogue_1", planned_on=timezone.localdate(),
                                    participants=["employee", "manager"])
    submitted = whistleblowing_services.submit_report(None, world.org, category="work_environment",
                                                      anonymity="anonymous", description=SECRET)
    report_case = submitted.report.case
    for case in (sick, report_case):
        Case.objects.filter(pk=case.pk).update(status="closed")
        _backdate(case)
    set_rule(world, "sick_leave", months=12)
    set_rule(world, "whistleblowing", months=12)

    counts = {o.data_class: o.count for o in services.apply(world.org, timezone.localdate())}
    assert counts == {"sick_leave": 1, "whistleblowing": 1}
    assert not Case.objects.filter(pk__in=[sick.pk, report_case.pk]).exists()
    assert not Episode.objects.filter(pk=episode.pk).exists()
    for model, field in ((FollowUpPlan, "case_id"), (PlanVersion, "plan__case_id"),
                         (PlanSending, "version__plan__case_id"), (DialogueMeeting, "case_id")):
        assert not model.objects.filter(**{field: sick.pk}).exists(), model
    assert not Report.objects.exists() and not Message.objects.exists()
    events = AuditEvent.objects.filter(action="retention.applied")
    assert sorted(e.data["class"] for e in events) == ["sick_leave", "whistleblowing"]
    assert all(SECRET not in str(e.data) for e in events)
    assert verify_chain().ok


def test_the_sweep_applies_the_policy_at_most_once_a_day(world):
    assert services.apply_due in hooks.sweep_upkeep
    assert services.apply_due("w1") == 0  # no rule, nothing to run
    closed_case(world)
    set_rule(world, "psychosocial", months=12)
    assert services.apply_due("w1") == 1
    assert services.apply_due("w2") == 0
    run = RetentionRun.objects.get()
    assert run.date == timezone.localdate() and run.count == 1 and run.worker == "w1"
    closed_case(world)
    assert services.apply_due("w1") == 0  # tomorrow's run takes it
    assert Case.objects.count() == 1


def test_the_command_prints_what_it_would_do_and_then_does_it(world, capsys):
    case = closed_case(world)
    set_rule(world, "psychosocial", months=12)
    call_command("retention", "apply", "--dry-run")
    assert "psychosocial: would delete 1 cases" in capsys.readouterr().out
    assert Case.objects.filter(pk=case.pk).exists()
    call_command("retention", "apply")
    assert "psychosocial: deleted 1 cases" in capsys.readouterr().out
    assert not Case.objects.filter(pk=case.pk).exists()


def test_the_command_counts_what_a_later_day_would_reach_without_changing_anything(world, capsys):
    from django.core.management.base import CommandError

    case = closed_case(world, days=300)  # a 12-month rule reaches it in about 65 days
    set_rule(world, "psychosocial", months=12)
    later = timezone.localdate() + timedelta(days=70)
    call_command("retention", "apply", "--dry-run")
    assert "psychosocial: would delete 0 cases" in capsys.readouterr().out
    call_command("retention", "apply", "--dry-run", "--on", later.isoformat())
    out = capsys.readouterr().out
    assert f"as of {later:%d.%m.%Y}:" in out and "psychosocial: would delete 1 cases" in out
    with pytest.raises(CommandError, match="needs --dry-run"):
        call_command("retention", "apply", "--on", later.isoformat())
    with pytest.raises(CommandError, match="today or later"):
        call_command("retention", "apply", "--dry-run", "--on", "2020-01-01")
    assert Case.objects.filter(pk=case.pk).exists()
    assert not AuditEvent.objects.filter(action="retention.applied").exists()

"""The retention policy through the JSON API: GET /retention/rules, PUT /retention/rules/{class}.

The same services and access rule as the page (test_policy.py): administrators set the rules,
HR for the whole organisation reads them, anyone else gets 404.
"""


import pytest

from tests.retention.test_policy import closed_case
from tidsnok.audit.models import AuditEvent
from tidsnok.retention import services
from tidsnok.retention.models import DataClass, RetentionRule

CLASSES = ["psychosocial", "harassment", "sick_leave", "episodes", "prompts", "whistleblowing", "risk"]




def test_every_class_is_listed_kept_indefinitely_while_no_rule_is_set(world, api):
    response = api("ada", "get", "/retention/rules", lang="en")
    assert response.status_code == 200
    rows = response.json()
    assert [r["data_class"] for r in rows] == CLASSES == DataClass.values
    first = rows[0]
    assert first == {"data_class": "psychosocial", "label": "Closed psychosocial cases", "months": None,
                     "mode": "delete", "version": 0, "minimum_months": 12, "next_run_count": None}
    for row in rows:
        assert row["minimum_months"] == services.minimum_months(world.org, row["data_class"])


def test_an_administrator_sets_a_rule_sees_the_preview_and_the_change_is_audited(world, api):
    closed_case(world)  # closed 400 days ago: a 12-month rule reaches it
    response = api("ada", "put", "/retention/rules/psychosocial", {"months": 12, "mode": "restrict", "version": 0})
    assert response.status_code == 200
    saved = response.json()
    rule = RetentionRule.objects.get(organisation=world.org, data_class="psychosocial")
    assert saved["months"] == 12 and saved["mode"] == "restrict" and saved["version"] == rule.version
    assert saved["next_run_count"] == 1
    event = AuditEvent.objects.get(action="retention.rule_changed")
    assert event.actor == world.user("ada")
    assert event.data == {"class": "psychosocial", "old_months": None, "new_months": 12, "old_mode": None,
                          "new_mode": "restrict"}
    listed = {r["data_class"]: r for r in api("hanne", "get", "/retention/rules").json()}
    assert listed["psychosocial"] == saved
    assert listed["harassment"]["next_run_count"] is None

    # null clears the rule: kept indefinitely again, nothing in the next run.
    cleared = api("ada", "put", "/retention/rules/psychosocial",
                  {"months": None, "mode": "restrict", "version": saved["version"]})
    assert cleared.status_code == 200
    assert cleared.json()["months"] is None and cleared.json()["next_run_count"] is None
    assert cleared.json()["version"] == saved["version"] + 1
    assert AuditEvent.objects.filter(action="retention.rule_changed").count() == 2


def test_a_stale_version_is_refused_with_409_and_nothing_changes(world, api):
    first = api("ada", "put", "/retention/rules/harassment", {"months": 24, "mode": "delete", "version": 0})
    assert first.status_code == 200
    # A second administrator's client still believed the class had no rule.
    stale = api("ada", "put", "/retention/rules/harassment", {"months": 36, "mode": "delete", "version": 0})
    assert stale.status_code == 409
    assert stale.json()["message"].startswith("Noen andre har endret")
    older = api("ada", "put", "/retention/rules/harassment",
                {"months": 36, "mode": "delete", "version": first.json()["version"] + 5})
    assert older.status_code == 409
    assert RetentionRule.objects.get(data_class="harassment").months == 24
    assert AuditEvent.objects.filter(action="retention.rule_changed").count() == 1


@pytest.mark.parametrize("lang, words", [("nb", "minst 12 måneder"), ("en", "at least 12 months")])
def test_months_under_the_minimum_are_refused_with_the_reason_in_the_callers_language(world, api, lang, words):
    response = api("ada", "put", "/retention/rules/psychosocial", {"months": 11, "mode": "delete", "version": 0},
                   lang=lang)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert list(errors) == ["months"] and words in errors["months"][0]
    assert not RetentionRule.objects.exists()
    assert not AuditEvent.objects.filter(action="retention.rule_changed").exists()


def test_the_minimum_of_the_absence_classes_follows_the_recurrence_window(world, api):
    least = services.minimum_months(world.org, "episodes")
    listed = {r["data_class"]: r for r in api("ada", "get", "/retention/rules").json()}
    assert listed["episodes"]["minimum_months"] == least
    response = api("ada", "put", "/retention/rules/episodes", {"months": least - 1, "mode": "delete", "version": 0})
    assert response.status_code == 400 and str(least) in response.json()["errors"]["months"][0]


@pytest.mark.parametrize("body, field", [
    ({"months": "24", "mode": "delete", "version": 0}, "months"),
    ({"months": 24, "mode": "shred", "version": 0}, "mode"),
    ({"months": 24, "mode": "delete"}, "version"),
    ({"months": 24, "mode": "delete", "version": -1}, "version"),
])
def test_a_body_that_does_not_match_the_schema_is_refused_per_field(world, api, body, field):
    response = api("ada", "put", "/retention/rules/psychosocial", body)
    assert response.status_code == 422
    assert field in response.json()["errors"]
    assert not RetentionRule.objects.exists()


def test_an_unknown_class_is_refused(world, api):
    response = api("ada", "put", "/retention/rules/everything", {"months": 24, "mode": "delete", "version": 0})
    assert response.status_code == 422 and "data_class" in response.json()["errors"]


def test_more_than_the_maximum_is_refused_with_the_reason(world, api):
    response = api("ada", "put", "/retention/rules/psychosocial", {"months": 5000, "mode": "delete", "version": 0})
    assert response.status_code == 400 and "1200" in response.json()["errors"]["months"][0]


def test_hr_for_the_whole_organisation_reads_but_may_not_set(world, api):
    assert api("hanne", "get", "/retention/rules").status_code == 200
    response = api("hanne", "put", "/retention/rules/psychosocial", {"months": 24, "mode": "delete", "version": 0})
    assert response.status_code == 404
    assert not RetentionRule.objects.exists()


@pytest.mark.parametrize("key", ["hugo", "marte", "emil", "kim", "kari"])
def test_anyone_else_gets_404(world, api, key):
    assert api(key, "get", "/retention/rules").status_code == 404
    response = api(key, "put", "/retention/rules/psychosocial", {"months": 24, "mode": "delete", "version": 0})
    assert response.status_code == 404
    assert response.json() == api(key, "get", "/retention/rules").json()
    assert not RetentionRule.objects.exists()

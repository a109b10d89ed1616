"""audit.services.last_event: the newest event of some actions, a version for derived figures
(the sick-leave statistics' cache) that costs one index seek per action."""

from tidsnok.audit.chain import GENESIS
from tidsnok.audit.models import AuditEvent, AuditHead
from tidsnok.audit.services import last_event, record


def test_last_event_is_the_newest_event_of_the_given_actions_and_ignores_the_others(db):
    assert last_event(["absence.episode_registered"]) == (0, "")
    first = record(None, "absence.episode_registered", data={"n": 1})
    record(None, "case.entry_added", data={"n": 2})
    assert last_event(["absence.episode_registered", "absence.grade_changed"]) == (first.seq, first.hash)
    changed = record(None, "absence.grade_changed", data={"n": 3})
    record(None, "case.entry_added", data={"n": 4})
    assert last_event(["absence.episode_registered", "absence.grade_changed"]) == (changed.seq, changed.hash)
    assert last_event([]) == (0, "")


def test_the_same_seq_in_another_history_is_another_version(db):
    """What a restored backup looks like: the events after the restore point are gone, and new ones
    reuse their seqs with other content."""
    record(None, "absence.episode_registered", data={"n": 1})
    before = last_event(["absence.episode_registered"])
    AuditEvent.objects.filter(seq=before[0]).delete()  # test-only: nothing in tidsnok deletes events
    previous = AuditEvent.objects.filter(seq=before[0] - 1).values_list("hash", flat=True).first()
    AuditHead.objects.filter(pk=1).update(seq=before[0] - 1, hash=previous or GENESIS)
    record(None, "absence.episode_registered", data={"n": 2})
    after = last_event(["absence.episode_registered"])
    assert after[0] == before[0]
    assert after != before

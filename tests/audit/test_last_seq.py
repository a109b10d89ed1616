"""audit.services.last_seq: the newest event of some actions, a version number for derived
figures (the sick-leave statistics' cache) that costs one index seek per action."""

from tidsnok.audit.services import last_seq, record


def test_last_seq_is_the_newest_event_of_the_given_actions_and_ignores_the_others(db):
    assert last_seq(["absence.episode_registered"]) == 0
    first = record(None, "absence.episode_registered", data={"n": 1})
    record(None, "case.entry_added", data={"n": 2})
    assert last_seq(["absence.episode_registered", "absence.grade_changed"]) == first.seq
    changed = record(None, "absence.grade_changed", data={"n": 3})
    record(None, "case.entry_added", data={"n": 4})
    assert last_seq(["absence.episode_registered", "absence.grade_changed"]) == changed.seq
    assert last_seq([]) == 0

"""The shared database cache keeps what a large organisation puts in it: Django's default of
300 entries would, once passed, delete a third of them in key order on the next write."""

from django.core.cache import cache


def test_thousands_of_calendar_feeds_do_not_push_out_the_statistics(db):
    cache.set("absence.statistics:whole-organisation", "figures", 3600)
    for n in range(1000):
        cache.set(f"feed:{n:064x}", b"BEGIN:VCALENDAR", 3600)
    assert cache.get("absence.statistics:whole-organisation") == "figures"
    assert cache.get(f"feed:{0:064x}") == b"BEGIN:VCALENDAR"

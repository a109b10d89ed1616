"""What the rooms' caches of derived figures share (the sick-leave statistics, the compliance
counts): their keys hold today's date, since what is overdue or counted as this month depends on
it, so an entry is of no use after midnight."""

from datetime import datetime, time, timedelta

from django.utils import timezone


def seconds_left_today() -> int:
    now = timezone.localtime()
    midnight = datetime.combine(now.date() + timedelta(days=1), time.min, tzinfo=now.tzinfo)
    return max(60, int((midnight - now).total_seconds()))

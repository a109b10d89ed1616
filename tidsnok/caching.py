"""What the rooms' caches of derived figures share (the sick-leave statistics, the compliance
counts): their keys hold today's date, since what is overdue or counted as this month depends on
it, so an entry is of no use after midnight."""

import threading
from datetime import datetime, time, timedelta

from django.core.cache import cache
from django.utils import timezone


def seconds_left_today() -> int:
    now = timezone.localtime()
    midnight = datetime.combine(now.date() + timedelta(days=1), time.min, tzinfo=now.tzinfo)
    return max(60, int((midnight - now).total_seconds()))


class Recent:
    """The few entries of the shared cache this process read or wrote last, each with the version
    it was computed at: a large entry (HR's whole organisation) is otherwise read and unpickled
    from the database cache on every request. An entry here is used only when the version just
    read matches, exactly as one of the shared cache is, so no server shows older figures than
    another would. A threaded server shares it between requests, hence the lock."""

    def __init__(self, size: int = 4):
        self.size = size
        self._entries: dict[str, tuple] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key) -> bool:
        return key in self._entries

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def remember(self, key: str, version, value) -> None:
        """Keep `value` as the entry at `version`, and the shared cache's too until midnight."""
        cache.set(key, (version, value), seconds_left_today())
        self._keep(key, version, value)

    def get(self, key: str, version):
        """The value of `key` at `version`: from this process, else from the shared cache; None
        if neither holds it at that version."""
        with self._lock:
            held = self._entries.get(key)
        if held is None or held[0] != version:
            held = cache.get(key)
            if held is None or held[0] != version:
                return None
        self._keep(key, *held)
        return held[1]

    def _keep(self, key: str, version, value) -> None:
        with self._lock:
            self._entries.pop(key, None)
            self._entries[key] = (version, value)
            while len(self._entries) > self.size:
                del self._entries[next(iter(self._entries))]  # the one read longest ago

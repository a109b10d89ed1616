"""The Norwegian working-day calendar.

A working day is Monday to Friday, not a Norwegian public holiday, and not a day the organisation
has declared closed. Public holidays come from the `holidays` library (country "NO"); Sundays are
weekend days here, never "holidays", so the library's optional Sunday listing is switched off
explicitly rather than trusting a default that has changed between versions.

Christmas Eve and New Year's Eve are ordinary working days by law; an organisation that closes on
them registers them as closed days.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from functools import lru_cache

import holidays

WEEKEND = "weekend"
CLOSED = "closed"

# Our language codes -> the `holidays` library's language codes for Norway.
_HOLIDAY_LANGUAGES = {"nb": "no", "en": "en_US"}

_ONE_DAY = timedelta(days=1)


def normalise_lang(lang: str | None) -> str:
    """Map a Django language code to "nb" or "en"; the rule texts exist in these two."""
    if lang is None:
        from django.utils import translation

        lang = translation.get_language() or "nb"
    return "nb" if lang.lower().split("-")[0] in ("nb", "no", "nn") else "en"


@lru_cache(maxsize=64)
def _public_holidays(year: int, lang: str) -> dict[date, str]:
    # Pure data per (year, language): safe to cache for the life of the process.
    calendar = holidays.country_holidays(
        "NO", years=year, language=_HOLIDAY_LANGUAGES[lang], include_sundays=False
    )
    return dict(calendar.items())


def holiday_name(d: date, lang: str = "nb") -> str | None:
    """The public holiday's name on `d` (several joined by "; "), or None."""
    return _public_holidays(d.year, normalise_lang(lang)).get(d)


class WorkingCalendar:
    """Working days for one organisation: weekends, public holidays and its own closed days."""

    def __init__(self, closed_days: Iterable[date] = ()):
        self.closed_days = frozenset(closed_days)

    def non_working_reason(self, d: date, lang: str = "nb") -> str | None:
        """Why `d` is not a working day: "weekend", the holiday's name, or "closed"; None if it is.

        Weekend wins over a holiday (Easter Sunday reads as weekend, as people count it), and a
        holiday wins over an organisation's closed day.
        """
        if d.weekday() >= 5:
            return WEEKEND
        name = holiday_name(d, lang)
        if name:
            return name
        if d in self.closed_days:
            return CLOSED
        return None

    def is_working_day(self, d: date) -> bool:
        return self.non_working_reason(d) is None

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day strictly after `start` (strictly before it when n < 0).

        n == 0 means "by the start day itself": `start` if it is a working day, else the next one.
        """
        if n == 0:
            d = start
            while not self.is_working_day(d):
                d += _ONE_DAY
            return d
        step = _ONE_DAY if n > 0 else -_ONE_DAY
        remaining = abs(n)
        d = start
        while remaining:
            d += step
            if self.is_working_day(d):
                remaining -= 1
        return d

    def working_days_between(self, a: date, b: date) -> int:
        """Number of working days in (a, b]; negative when b is before a."""
        if b < a:
            return -self.working_days_between(b, a)
        count = 0
        d = a + _ONE_DAY
        while d <= b:
            if self.is_working_day(d):
                count += 1
            d += _ONE_DAY
        return count

    def non_working_days(self, first: date, last: date, lang: str = "nb") -> list[tuple[date, str]]:
        """Every non-working day in [first, last] with its reason, in date order."""
        result = []
        d = first
        while d <= last:
            reason = self.non_working_reason(d, lang)
            if reason is not None:
                result.append((d, reason))
            d += _ONE_DAY
        return result

"""Places where higher rooms plug into the spine without the spine importing them.

absence, whistleblowing and notify register functions here from their
AppConfig.ready(); the spine calls them. Each registry is a plain dict or list.
"""

from collections.abc import Callable

# kind -> fn(case) -> {trigger: [(measure_or_None, sequence, start_date)]}
trigger_dates: dict[str, Callable] = {}
# [fn(case) -> {trigger: [...]}] for triggers that may occur on a case of any kind
# (a retaliation check on the case where someone raised a concern).
extra_trigger_dates: list[Callable] = []
# rule condition (e.g. "full_leave") -> fn(case) -> bool
conditions: dict[str, Callable] = {}
# rule id -> fn(deadline, case, entries) -> (Entry | None, met_on | None)
fulfilment: dict[str, Callable] = {}
# rule id -> fn(deadline, case) -> (reason code, values) if the deadline is no longer required,
# else None; the code's wording goes in deadline_reasons (worded when shown: Deadline.reason)
not_required: dict[str, Callable] = {}
# reason code -> lazy text with %(name)s for its values
deadline_reasons: dict = {}
# kind -> [fn(case) -> list[str] of refusal messages]
close_checks: dict[str, list[Callable]] = {}
# kind -> [fn(case) -> list[str] of reasons to involve HR]
hr_triggers: dict[str, list[Callable]] = {}
# [fn(case, person, reason)] called (inside the transaction) when someone becomes a handler
on_handler_added: list[Callable] = []
# [fn(case, actor, action, data)] called after every audited case change
on_case_event: list[Callable] = []
# [fn(case, person, role)] when a party is added (the retaliation watch listens)
on_party_added: list[Callable] = []
# kind -> fn(case) -> URL of the kind's own handler page; the spine's case page
# sends handlers there (a whistleblowing report is read on its own page).
case_pages: dict[str, Callable] = {}
# [fn(worker) -> int] background upkeep run by every sweep round (warming derived figures,
# queued imports), given the sweep worker's name; returns how many things it did
sweep_upkeep: list[Callable] = []
# kind -> fn(case, user) -> dict: the kind's own data shown with the case (episodes, plan versions)
case_details: dict[str, Callable] = {}


def memo(case, key: str, compute: Callable):
    """Within one deadline recompute, compute a hook's read of the database once.

    recompute_deadlines() asks the condition and not-required hooks once per rule
    or per deadline, and nothing they read changes during the recompute. Outside a
    recompute (no memo on the case) the value is simply computed."""
    cache = getattr(case, "_recompute_memo", None)
    if cache is None:
        return compute()
    if key not in cache:
        cache[key] = compute()
    return cache[key]

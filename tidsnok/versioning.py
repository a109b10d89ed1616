"""Optimistic concurrency: every editable object carries a version number.

An edit names the version it was based on; if someone else saved in between,
the edit is refused and nothing is overwritten.
"""

from django.utils.translation import gettext_lazy as _


# What a page says when it shows a form again after a stale edit, with the other person's change
# and the user's input kept (the API and pages that cannot keep it use StaleVersion.message).
STALE_INPUT_KEPT = _(
    "Someone else changed this meanwhile. Their change is shown here and your input is kept: check it and "
    "save again."
)


class StaleVersion(Exception):
    message = _("Someone else changed this meanwhile. Reload to see their change, then make yours again.")

    def __str__(self):
        return str(self.message)


def check_and_bump(model, pk, version: int, **fields) -> int:
    """Save `fields` on row `pk` only if it is still at `version`; return the new version."""
    from django.db.models import F

    updated = model._default_manager.filter(pk=pk, version=version).update(version=F("version") + 1, **fields)
    if updated != 1:
        raise StaleVersion()
    return version + 1

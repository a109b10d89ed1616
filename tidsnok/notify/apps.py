from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotifyConfig(AppConfig):
    name = "tidsnok.notify"
    label = "notify"
    verbose_name = _("Reminders and notifications")

    def ready(self):
        # notify sits above cases: it plugs into the spine's hooks, the spine never imports notify.
        from tidsnok.cases import hooks
        from tidsnok.notify import planner, policy  # noqa: F401
        from tidsnok.notify.services import on_handler_added

        if on_handler_added not in hooks.on_handler_added:
            hooks.on_handler_added.append(on_handler_added)
        if planner.refresh_statistics not in hooks.sweep_upkeep:
            hooks.sweep_upkeep.append(planner.refresh_statistics)

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AbsenceConfig(AppConfig):
    name = "tidsnok.absence"
    label = "absence"
    verbose_name = _("Sick leave")

    def ready(self):
        from tidsnok.absence import importing, policy, spine, statistics  # noqa: F401
        from tidsnok.cases import hooks

        spine.register()
        for task in (importing.run_queued_import, statistics.warm):
            if task not in hooks.sweep_upkeep:
                hooks.sweep_upkeep.append(task)

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    name = "tidsnok.reports"
    label = "reports"
    verbose_name = _("Reports")

    def ready(self):
        from tidsnok.cases import hooks
        from tidsnok.reports.access_copy_requests import remind_due

        if remind_due not in hooks.sweep_upkeep:
            hooks.sweep_upkeep.append(remind_due)

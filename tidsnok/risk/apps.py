from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RiskConfig(AppConfig):
    name = "tidsnok.risk"
    label = "risk"
    verbose_name = _("Risk assessment")

    def ready(self):
        from tidsnok.cases import hooks
        from tidsnok.risk import services
        from tidsnok.risk.policy import register_policies

        register_policies()
        if services.remind_due not in hooks.sweep_upkeep:
            hooks.sweep_upkeep.append(services.remind_due)

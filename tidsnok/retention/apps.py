from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RetentionConfig(AppConfig):
    name = "tidsnok.retention"
    label = "retention"
    verbose_name = _("Retention")

    def ready(self):
        from tidsnok.cases import hooks
        from tidsnok.retention import services

        if services.apply_due not in hooks.sweep_upkeep:
            hooks.sweep_upkeep.append(services.apply_due)

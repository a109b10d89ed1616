from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AbsenceConfig(AppConfig):
    name = "tidsnok.absence"
    label = "absence"
    verbose_name = _("Sick leave")

    def ready(self):
        from tidsnok.absence import policy, spine  # noqa: F401

        spine.register()

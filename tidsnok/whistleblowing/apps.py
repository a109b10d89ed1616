from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WhistleblowingConfig(AppConfig):
    name = "tidsnok.whistleblowing"
    label = "whistleblowing"
    verbose_name = _("Whistleblowing")

    def ready(self):
        from tidsnok.whistleblowing import retaliation

        retaliation.register_watch()

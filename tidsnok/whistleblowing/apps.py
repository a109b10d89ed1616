from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WhistleblowingConfig(AppConfig):
    name = "tidsnok.whistleblowing"
    label = "whistleblowing"
    verbose_name = _("Whistleblowing")

    def ready(self):
        from tidsnok.whistleblowing import policy, retaliation, spine

        retaliation.register_watch()
        policy.register_policies()
        spine.register_spine()

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccessConfig(AppConfig):
    name = "tidsnok.access"
    label = "access"
    verbose_name = _("Access")

    def ready(self):
        # Policies for the org room live here because org sits below access.
        from tidsnok.access import org_policy  # noqa: F401

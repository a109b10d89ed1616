from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DeadlinesConfig(AppConfig):
    name = "tidsnok.deadlines"
    label = "deadlines"
    verbose_name = _("Deadlines")
    # Pinned here so the hand-written migration does not depend on project settings.
    default_auto_field = "django.db.models.BigAutoField"

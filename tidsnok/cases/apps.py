from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CasesConfig(AppConfig):
    name = "tidsnok.cases"
    label = "cases"
    verbose_name = _("Cases")

    def ready(self):
        from django.db.models.signals import post_save

        from tidsnok.cases import policy  # noqa: F401
        from tidsnok.org.models import Organisation

        post_save.connect(_give_default_factors, sender=Organisation, dispatch_uid="cases_default_factors")


def _give_default_factors(sender, instance, created, raw=False, **kwargs):
    # Every organisation starts with the catalogue from DOMAIN §2; HR may change it.
    if created and not raw:
        from tidsnok.cases.services import ensure_default_factors

        ensure_default_factors(None, instance)

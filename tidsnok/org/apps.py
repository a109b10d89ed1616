from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.utils.translation import gettext_lazy as _


def _register_sqlite_functions(sender, connection, **kwargs):
    if connection.vendor == "sqlite":
        from tidsnok.org.search import SQLITE_LOWER, sqlite_lower

        connection.connection.create_function(SQLITE_LOWER, 1, sqlite_lower, deterministic=True)


class OrgConfig(AppConfig):
    name = "tidsnok.org"
    label = "org"
    verbose_name = _("Organisation")

    def ready(self):
        connection_created.connect(_register_sqlite_functions, dispatch_uid="tidsnok.org.sqlite_functions")

import logging

from django.db import DatabaseError, migrations, transaction

logger = logging.getLogger("tidsnok.migrations")

INDEX = "person_name_trgm"


def create_index(apps, schema_editor):
    """On PostgreSQL, a trigram index on UPPER(name), the expression of `name__foldcontains` there:
    a name search over 50,000 people reads the index instead of upper-casing every name (45 ms a
    search). pg_trgm is a trusted extension (PostgreSQL 13 and later): the role that owns the
    database may create it. Where it cannot (a server built without the contrib modules, a role
    without CREATE on the database), the search still works, by scanning; docs/deployment.md says
    how to add the index afterwards."""
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return  # SQLite has no such index; org.search makes its scan cheap instead
    try:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DatabaseError as error:
        logger.warning("pg_trgm is not available (%s): name search scans org_person. "
                       "See docs/deployment.md, \"Name search\".", str(error).strip())
        return
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON org_person USING gin (UPPER(name::text) gin_trgm_ops)")


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("org", "0004_unit_path_subtree_lookup"),
    ]

    operations = [
        migrations.RunPython(create_index, drop_index, elidable=False),
    ]

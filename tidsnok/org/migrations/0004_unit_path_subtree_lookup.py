from django.db import migrations

import tidsnok.org.models


class Migration(migrations.Migration):
    """Unit.path becomes a TreePath: the same column, with a `startswith` that SQLite answers
    from the index. Nothing changes in the database (SQLite would otherwise copy the table)."""

    dependencies = [
        ("org", "0003_person_name_index"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="unit",
                    name="path",
                    field=tidsnok.org.models.TreePath(db_index=True, default="", editable=False, max_length=1000),
                ),
            ],
        ),
    ]

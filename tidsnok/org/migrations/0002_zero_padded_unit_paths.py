from django.db import migrations


def pad_paths(apps, schema_editor):
    Unit = apps.get_model("org", "Unit")
    # Parents first: a unit's path is its parent's path plus its own id.
    paths = {}
    remaining = list(Unit.objects.order_by("depth", "id").values_list("id", "parent_id"))
    for unit_id, parent_id in remaining:
        prefix = paths.get(parent_id, "/") if parent_id else "/"
        paths[unit_id] = f"{prefix}{unit_id:010d}/"
        Unit.objects.filter(pk=unit_id).update(path=paths[unit_id])


class Migration(migrations.Migration):
    dependencies = [("org", "0001_initial")]

    operations = [migrations.RunPython(pad_paths, migrations.RunPython.noop)]

from django.conf import settings
from django.db import migrations, models

from tidsnok.audit.chain import key_id


def name_the_key_in_use(apps, schema_editor):
    """Every event so far was hashed with AUDIT_KEY: the chain is at that key."""
    AuditHead = apps.get_model("audit", "AuditHead")
    AuditHead.objects.filter(key_id="").update(key_id=key_id(settings.AUDIT_KEY.encode()))


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0003_checkpoint"),
    ]

    operations = [
        migrations.AddField(
            model_name="audithead",
            name="key_id",
            field=models.CharField(blank=True, default="", max_length=16),
        ),
        migrations.RunPython(name_the_key_in_use, migrations.RunPython.noop),
    ]

from django.db import migrations, models

# The spine's reasons as they were stored, in either language, and their codes now. The rooms
# above get theirs back as a code at the case's next recompute.
STORED = {
    "case_closed": ("The case was closed.", "Saken ble avsluttet."),
    "measure_cancelled": ("The measure was cancelled.", "Tiltaket ble avbrutt."),
    "rule_gone": ("No longer required by the rules for this case.",
                  "Ikke lenger nødvendig etter reglene for denne saken."),
}


def code_the_spines_reasons(apps, schema_editor):
    Deadline = apps.get_model("cases", "Deadline")
    for code, texts in STORED.items():
        # Waived deadlines hold the words of whoever waived them, even if those are the same.
        Deadline.objects.filter(status_reason__in=texts, reason_code="").exclude(status="waived").update(
            reason_code=code, status_reason="",
        )


class Migration(migrations.Migration):

    dependencies = [
        ("cases", "0005_deadline_version"),
    ]

    operations = [
        migrations.AddField(
            model_name="deadline",
            name="reason_code",
            field=models.CharField(blank=True, max_length=40),
        ),
        migrations.AddField(
            model_name="deadline",
            name="reason_data",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.RunPython(code_the_spines_reasons, migrations.RunPython.noop),
    ]

# The case list sorts the cases a user may see newest first, a page at a time.
# For HR with the whole organisation in scope that is every case that is not
# restricted: without this index the database reads and sorts all of them for
# each page; with it, it walks the organisation's cases newest first and stops
# after a page. (organisation, status, -created_at) serves only a list filtered
# by status.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('cases', '0002_entry_kinds_for_rooms'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='case',
            index=models.Index(fields=['organisation', '-created_at', '-id'], name='case_org_created_idx'),
        ),
    ]

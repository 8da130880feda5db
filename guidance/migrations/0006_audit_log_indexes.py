"""Indexes for the audit log (one filter, newest first); publishers may read the history area."""

from django.conf import settings
from django.db import migrations, models


def publishers_read_the_audit_history(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permission = Permission.objects.filter(
        content_type__app_label="guidance", codename="view_audit"
    ).first()
    for group in Group.objects.filter(name__in=["Publishers", "Auditors"]):
        if permission is not None:
            group.permissions.add(permission)


class Migration(migrations.Migration):
    dependencies = [
        ("guidance", "0005_append_only_history"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="changeset",
            index=models.Index(fields=["user", "-created_at"], name="changeset_user_recent"),
        ),
        migrations.AddIndex(
            model_name="changeset",
            index=models.Index(
                fields=["guidance", "-created_at"], name="changeset_guidance_recent"
            ),
        ),
        migrations.AddIndex(
            model_name="changeset",
            index=models.Index(fields=["kind", "-created_at"], name="changeset_kind_recent"),
        ),
        migrations.AddIndex(
            model_name="changeset",
            index=models.Index(fields=["source", "-created_at"], name="changeset_source_recent"),
        ),
        migrations.RunPython(publishers_read_the_audit_history, migrations.RunPython.noop),
    ]
